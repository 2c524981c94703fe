# The load is on the branch where the packet is too short.
# expect: reject PacketUnchecked
# at: 7
# type: packet
ldxdw %r2, [%r1+0]
ldxdw %r3, [%r1+8]
mov %r4, %r2
add %r4, 14
mov %r0, 0
jle %r4, %r3, out
mov %r0, 1
ldxh %r5, [%r2+12]
out:
exit
