# data_end is never dereferenced.
# expect: reject PacketEndAccess
# at: 2
# type: packet
ldxdw %r3, [%r1+8]
mov %r0, 0
ldxb %r2, [%r3-1]
exit
