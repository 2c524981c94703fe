# Spilling and filling pointers keeps their type.
# expect: accept
# type: packet
stxdw [%r10-8], %r1
mov %r1, 0
ldxdw %r6, [%r10-8]
ldxw %r0, [%r6+16]
and %r0, 1
exit
