# r6 in a called function is its own, and never written.
# expect: reject UninitRegister
# at: 4
# type: packet
mov %r6, 1
call local f
exit
f:
mov %r0, 0
mov %r0, %r6
exit
