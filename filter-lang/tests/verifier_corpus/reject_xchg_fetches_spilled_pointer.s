# Audit (held): xchg on a spilled pointer would hand the pointer back as
# the fetched value in a scalar register.
# expect: reject PartialPointerRead
# at: 3
# type: packet
ldxdw %r2, [%r1+0]
stxdw [%r10-8], %r2
mov %r3, 0
lock xchg [%r10-8], %r3
mov %r0, %r3
exit
