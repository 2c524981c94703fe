# The length's range reaches past the 16 bytes the buffer has.
# expect: reject OutOfBounds
# at: 7
# type: packet
stdw [%r10-16], 0
stdw [%r10-8], 0
ldxw %r2, [%r1+16]
and %r2, 31
add %r2, 1
mov %r1, %r10
add %r1, -16
call 6
mov %r0, 0
exit
