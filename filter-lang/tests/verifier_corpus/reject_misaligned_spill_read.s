# An 8-byte read straddling a spilled pointer.
# expect: reject PartialPointerRead
# at: 2
# type: packet
stdw [%r10-16], 0
stxdw [%r10-8], %r1
ldxdw %r2, [%r10-12]
mov %r0, 0
exit
