# TCP header parse with a variable IPv4 header length (packet handler).
# Finds the TCP header from the IHL field, checks it is in the packet, and
# returns 1 (deliver) for a connection request to port 80: SYN without ACK,
# a data offset of at least 5 words; else 0. Context as in udp_port.s.
ldxdw %r2, [%r1+0]
ldxdw %r3, [%r1+8]
mov %r4, %r2
add %r4, 34
jgt %r4, %r3, drop
ldxh %r5, [%r2+12]
jne %r5, 0x0008, drop
ldxb %r5, [%r2+23]
jne %r5, 6, drop
ldxb %r6, [%r2+14]
and %r6, 0xf
lsh %r6, 2                    # IPv4 header length in bytes
jlt %r6, 20, drop
mov %r7, %r2
add %r7, 14
add %r7, %r6                  # TCP header: variable offset 34..74
mov %r4, %r7
add %r4, 20
jgt %r4, %r3, drop
ldxh %r5, [%r7+2]
be16 %r5
jne %r5, 80, drop             # destination port
ldxb %r5, [%r7+13]
and %r5, 0x12
jne %r5, 0x02, drop           # SYN set, ACK clear
ldxb %r5, [%r7+12]
rsh %r5, 4
jlt %r5, 5, drop              # data offset in words
mov %r0, 1
exit
drop:
mov %r0, 0
exit
