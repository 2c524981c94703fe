# callx through a register that is not a known helper number.
# expect: reject CallxTarget
# at: 1
# type: memory:8
ldxb %r2, [%r1+0]
call %r2
mov %r0, 0
exit
