# ONC RPC (RFC 5531) call to program 100000 over IPv4/UDP port 111 (packet
# handler): parses the call header and builds the reply frame in the stack
# frame (Ethernet and IP addresses and UDP ports swapped, REPLY /
# MSG_ACCEPTED / null verifier / SUCCESS), 66 bytes at r10-82. Returns 1
# (deliver) after building, 0 when the packet is not such a call. Context as
# in udp_port.s.
ldxdw %r2, [%r1+0]
ldxdw %r3, [%r1+8]
mov %r4, %r2
add %r4, 66
jgt %r4, %r3, drop
ldxh %r5, [%r2+12]
jne %r5, 0x0008, drop
ldxb %r5, [%r2+14]
jne %r5, 0x45, drop           # IPv4 without options
ldxb %r5, [%r2+23]
jne %r5, 17, drop
ldxh %r5, [%r2+36]
jne %r5, 0x6f00, drop         # destination port 111 (bytes 00 6f)
ldxw %r5, [%r2+46]
jne %r5, 0, drop              # msg_type CALL
ldxw %r5, [%r2+50]
jne %r5, 0x02000000, drop     # rpcvers 2 (big-endian)
ldxw %r6, [%r2+54]
be32 %r6
jne %r6, 100000, drop         # program number
# Ethernet: destination = source, source = destination, IPv4.
ldxh %r5, [%r2+6]
stxh [%r10-82], %r5
ldxh %r5, [%r2+8]
stxh [%r10-80], %r5
ldxh %r5, [%r2+10]
stxh [%r10-78], %r5
ldxh %r5, [%r2+0]
stxh [%r10-76], %r5
ldxh %r5, [%r2+2]
stxh [%r10-74], %r5
ldxh %r5, [%r2+4]
stxh [%r10-72], %r5
sth [%r10-70], 0x0008
# IPv4: first 8 bytes copied, TTL 64, protocol UDP, checksum 0, addresses swapped.
ldxw %r5, [%r2+14]
stxw [%r10-68], %r5
ldxw %r5, [%r2+18]
stxw [%r10-64], %r5
stw [%r10-60], 0x1140
ldxw %r5, [%r2+30]
stxw [%r10-56], %r5
ldxw %r5, [%r2+26]
stxw [%r10-52], %r5
# UDP: ports swapped, same length, no checksum.
ldxh %r5, [%r2+36]
stxh [%r10-48], %r5
ldxh %r5, [%r2+34]
stxh [%r10-46], %r5
ldxh %r5, [%r2+38]
stxh [%r10-44], %r5
sth [%r10-42], 0
# RPC reply header: xid, REPLY, MSG_ACCEPTED, AUTH_NONE verifier, SUCCESS.
ldxw %r5, [%r2+42]
stxw [%r10-40], %r5
stw [%r10-36], 0x01000000
stw [%r10-32], 0
stw [%r10-28], 0
stw [%r10-24], 0
stw [%r10-20], 0
mov %r0, 1
exit
drop:
mov %r0, 0
exit
