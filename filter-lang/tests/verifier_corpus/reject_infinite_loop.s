# A loop without exit condition.
# expect: reject UnboundedLoop
# at: 1
# type: packet
mov %r0, 0
ja -1
exit
