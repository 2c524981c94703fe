# A constant offset beyond 2^29.
# expect: reject PointerOverflow
# at: 1
# type: packet
mov %r2, %r10
add %r2, 0x40000000
mov %r0, 0
exit
