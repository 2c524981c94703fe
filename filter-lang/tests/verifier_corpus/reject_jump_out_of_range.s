# A jump past the end of the program.
# expect: reject JumpOutOfRange
# at: 0
# type: packet
ja +5
mov %r0, 0
exit
