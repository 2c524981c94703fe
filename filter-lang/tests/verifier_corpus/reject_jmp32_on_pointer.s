# Audit (held): a 32-bit comparison of a packet pointer with data_end
# compares only the low address bits: no range may follow from it.
# expect: reject PointerComparison
# at: 4
# type: packet
ldxdw %r2, [%r1+0]
ldxdw %r3, [%r1+8]
mov %r4, %r2
add %r4, 8
jgt32 %r4, %r3, +2
ldxdw %r0, [%r2+0]
and %r0, 1
mov %r0, 0
exit
