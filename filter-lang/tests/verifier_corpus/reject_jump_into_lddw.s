# A jump into the second word of lddw.
# expect: reject JumpIntoLddw
# at: 0
# type: packet
ja +1
lddw %r0, 0x100000000
mov %r0, 0
exit
