# A lookup table on the stack indexed by a bounded value.
# expect: accept
# type: packet
stdw [%r10-16], 0
stdw [%r10-8], 1
ldxw %r2, [%r1+16]
and %r2, 1
lsh %r2, 3
mov %r3, %r10
add %r3, %r2
ldxdw %r0, [%r3-16]
and %r0, 1
exit
