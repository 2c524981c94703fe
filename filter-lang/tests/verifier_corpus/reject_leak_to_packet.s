# Packet memory is read-only (so no pointer can be written there either).
# expect: reject ReadOnly
# at: 6
# type: packet
ldxdw %r2, [%r1+0]
ldxdw %r3, [%r1+8]
mov %r4, %r2
add %r4, 8
mov %r0, 0
jgt %r4, %r3, out
stxdw [%r2+0], %r2
out:
exit
