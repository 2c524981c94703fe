# Reading 4 bytes of a spilled pointer.
# expect: reject PartialPointerRead
# at: 1
# type: packet
stxdw [%r10-8], %r1
ldxw %r2, [%r10-8]
mov %r0, 0
exit
