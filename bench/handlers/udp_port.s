# UDP destination-port match (packet handler).
# r1 = packet context: data (u64) at +0, data_end (u64) at +8. r1 is never
# written, so the two context loads are the only context accesses.
# Returns 1 for IPv4/UDP to port 7000, else 0.
ldxdw %r2, [%r1+0]
ldxdw %r3, [%r1+8]
mov %r4, %r2
add %r4, 42
jgt %r4, %r3, drop
ldxh %r5, [%r2+12]
jne %r5, 0x0008, drop         # ethertype 0x0800 (bytes 08 00, loaded little-endian)
ldxb %r5, [%r2+23]
jne %r5, 17, drop             # IP protocol UDP (no IP options: IHL checked by the sender)
ldxh %r5, [%r2+36]
be16 %r5
jne %r5, 7000, drop
mov %r0, 1
exit
drop:
mov %r0, 0
exit
