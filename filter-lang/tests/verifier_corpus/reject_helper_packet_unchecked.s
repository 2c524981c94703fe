# checksum over packet bytes not proven present.
# expect: reject PacketUnchecked
# at: 4
# type: packet
ldxdw %r1, [%r1+0]
mov %r2, 20
mov %r3, 0
mov %r6, 0
call 8
mov %r0, 0
exit
