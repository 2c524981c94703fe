# callx through a register holding one known helper number (memory type:
# helper 5, the conformance unwind helper).
# expect: accept
# type: memory:0
mov %r1, 3
mov %r2, 5
call %r2
exit
