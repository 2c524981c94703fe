# Audit (held): an atomic add on a stack slot holding a spilled packet
# pointer would move the pointer without the verifier seeing it.
# expect: reject PartialPointerRead
# at: 3
# type: packet
ldxdw %r2, [%r1+0]
stxdw [%r10-8], %r2
mov %r3, 100
lock add [%r10-8], %r3
ldxdw %r2, [%r10-8]
ldxb %r0, [%r2+0]
exit
