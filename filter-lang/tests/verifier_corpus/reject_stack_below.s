# The stack is 512 bytes below r10.
# expect: reject OutOfBounds
# at: 0
# type: packet
stdw [%r10-520], 0
mov %r0, 0
exit
