# A jump before the start of the program.
# expect: reject JumpOutOfRange
# at: 1
# type: packet
mov %r0, 0
jeq %r0, 0, -3
exit
