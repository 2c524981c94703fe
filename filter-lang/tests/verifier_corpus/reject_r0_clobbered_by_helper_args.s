# After a helper call r1-r5 are clobbered.
# expect: reject UninitRegister
# at: 2
# type: packet
mov %r1, 0
call 7
mov %r0, %r1
exit
