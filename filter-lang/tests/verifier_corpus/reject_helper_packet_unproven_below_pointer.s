# Audit hole: the same unproven pointer (data + [8, 15] - 8) handed to the
# checksum helper with 8 bytes: the helper would read past a short packet.
# expect: reject PacketUnchecked
# at: 9
# type: packet
ldxdw %r2, [%r1+0]
ldxw %r5, [%r1+20]
and %r5, 7
add %r5, 8
add %r2, %r5
sub %r2, 8
mov %r1, %r2
mov %r2, 8
mov %r3, 0
call 8
mov %r0, 0
exit
