# The header length moves the pointer after the check: a new unchecked
# pointer.
# expect: reject PacketUnchecked
# at: 11
# type: packet
ldxdw %r2, [%r1+0]
ldxdw %r3, [%r1+8]
mov %r0, 0
mov %r4, %r2
add %r4, 40
jgt %r4, %r3, out
ldxb %r5, [%r2+14]
and %r5, 15
lsh %r5, 2
mov %r6, %r2
add %r6, %r5
ldxh %r8, [%r6+14]
out:
exit
