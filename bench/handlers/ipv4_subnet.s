# IPv4 source-subnet match (packet handler): 1 when the source address is
# in 10.1.0.0/16, else 0. Context as in udp_port.s.
ldxdw %r2, [%r1+0]
ldxdw %r3, [%r1+8]
mov %r4, %r2
add %r4, 34
jgt %r4, %r3, drop
ldxh %r5, [%r2+12]
jne %r5, 0x0008, drop
ldxw %r5, [%r2+26]
be32 %r5
and %r5, -65536               # 0xffff0000 (sign-extended, upper half is zero anyway)
jne %r5, 0x0a010000, drop
mov %r0, 1
exit
drop:
mov %r0, 0
exit
