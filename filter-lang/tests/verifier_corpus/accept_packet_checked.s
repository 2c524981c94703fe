# Ethernet type check: deliver IPv4 frames.
# expect: accept
# type: packet
# bound: 10
ldxdw %r2, [%r1+0]
ldxdw %r3, [%r1+8]
mov %r4, %r2
add %r4, 14
mov %r0, 0
jgt %r4, %r3, out
ldxh %r5, [%r2+12]
jne %r5, 0x0008, out
mov %r0, 1
out:
exit
