# Reading packet bytes without comparing against data_end first.
# expect: reject PacketUnchecked
# at: 1
# type: packet
ldxdw %r2, [%r1+0]
ldxh %r0, [%r2+12]
exit
