# The same lookup with one entry never written.
# expect: reject UninitStack
# at: 7
# type: packet
stdw [%r10-8], 1
ldxw %r2, [%r1+16]
and %r2, 1
lsh %r2, 3
mov %r3, %r10
add %r3, %r2
mov %r0, 0
ldxdw %r4, [%r3-16]
exit
