# r2 is read before anything wrote it.
# expect: reject UninitRegister
# at: 0
# type: packet
mov %r0, %r2
exit
