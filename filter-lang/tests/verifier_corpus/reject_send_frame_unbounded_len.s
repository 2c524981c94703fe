# Audit (held): send_frame from a 16-byte stack buffer with a length only
# known to be at most 1514: the helper would read past the frame.
# expect: reject OutOfBounds
# at: 6
# type: packet
stdw [%r10-8], 0
stdw [%r10-16], 0
ldxw %r2, [%r1+16]
or %r2, 1
mov %r1, %r10
add %r1, -16
call 6
mov %r0, 0
exit
