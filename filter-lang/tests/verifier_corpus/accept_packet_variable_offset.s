# IPv4 header length from the packet, then the transport ports behind it:
# a variable-offset packet pointer proven against data_end.
# expect: accept
# type: packet
ldxdw %r2, [%r1+0]
ldxdw %r3, [%r1+8]
mov %r0, 0
mov %r4, %r2
add %r4, 34
jgt %r4, %r3, out
ldxb %r5, [%r2+14]
and %r5, 15
lsh %r5, 2
mov %r6, %r2
add %r6, %r5
add %r6, 14
mov %r7, %r6
add %r7, 4
jgt %r7, %r3, out
ldxh %r8, [%r6+2]
jne %r8, 0x3500, out
mov %r0, 1
out:
exit
