# Internet checksum (RFC 1071) validation over the first 1500 bytes of the
# packet (packet handler): the ones'-complement sum of the 16-bit words,
# folded, must be 0xffff. The words are summed in host order (the sum is
# byte-order independent). Returns 1 (deliver) when valid, 0 when not or
# when the packet is shorter.
# r1 = packet context: data (u64) at +0, data_end (u64) at +8. r1 is never
# written, so the two context loads are the only context accesses.
ldxdw %r2, [%r1+0]
ldxdw %r3, [%r1+8]
mov %r4, %r2
add %r4, 1500
jgt %r4, %r3, bad
mov %r0, 0
mov %r5, 0
loop:
mov %r6, %r2
add %r6, %r5
ldxh %r7, [%r6+0]
add %r0, %r7
add %r5, 2
jlt %r5, 1500, loop
mov %r4, %r0
rsh %r4, 16
and %r0, 0xffff
add %r0, %r4
mov %r4, %r0
rsh %r4, 16
and %r0, 0xffff
add %r0, %r4
jne %r0, 0xffff, bad
mov %r0, 1
exit
bad:
mov %r0, 0
exit
