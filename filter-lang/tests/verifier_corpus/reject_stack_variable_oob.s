# A variable stack offset that can reach below the frame.
# expect: reject OutOfBounds
# at: 5
# type: packet
ldxw %r2, [%r1+16]
and %r2, 1023
mov %r3, %r10
sub %r3, %r2
mov %r0, 0
stb [%r3-1], 0
exit
