# The check proves 14 bytes; the load reads bytes 13..15.
# expect: reject PacketUnchecked
# at: 6
# type: packet
ldxdw %r2, [%r1+0]
ldxdw %r3, [%r1+8]
mov %r4, %r2
add %r4, 14
mov %r0, 0
jgt %r4, %r3, out
ldxh %r5, [%r2+13]
out:
exit
