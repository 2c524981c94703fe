# A comparison `p > data_end` with p = data + [1, 8] proves p itself is at
# most data_end, so the byte just below p is inside the packet.
# expect: accept
# type: packet
ldxdw %r2, [%r1+0]
ldxdw %r3, [%r1+8]
ldxw %r5, [%r1+20]
and %r5, 7
add %r5, 1
add %r2, %r5
mov %r0, 0
jgt %r2, %r3, out
ldxb %r0, [%r2-1]
and %r0, 1
out:
exit
