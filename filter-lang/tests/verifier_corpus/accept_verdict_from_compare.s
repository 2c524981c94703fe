# A verdict computed from packet data, proven to be 0 or 1.
# expect: accept
# type: packet
ldxw %r0, [%r1+16]
and %r0, 1
exit
