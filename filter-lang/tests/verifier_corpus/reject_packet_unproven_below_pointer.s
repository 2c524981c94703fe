# Audit hole: a packet pointer with a variable part and a negative constant
# part (data + [8, 15] - 8) read at offset 0 without any data_end check. The
# bytes lie below the variable part, but nothing proves the variable part is
# inside the packet: on a short packet this reads past its end.
# expect: reject PacketUnchecked
# at: 6
# type: packet
ldxdw %r2, [%r1+0]
ldxw %r5, [%r1+20]
and %r5, 7
add %r5, 8
add %r2, %r5
sub %r2, 8
ldxb %r0, [%r2+0]
and %r0, 1
exit
