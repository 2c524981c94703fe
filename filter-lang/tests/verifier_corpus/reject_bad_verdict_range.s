# The packet length is not a verdict.
# expect: reject BadVerdict
# at: 1
# type: packet
ldxw %r0, [%r1+16]
exit
