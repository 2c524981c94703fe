# A 4-byte load at offset 62 of a 64-byte region.
# expect: reject OutOfBounds
# at: 3
# type: packet
# regions: 64:rw
mov %r1, 0
call 3
mov %r6, %r0
ldxw %r2, [%r6+62]
mov %r0, 0
exit
