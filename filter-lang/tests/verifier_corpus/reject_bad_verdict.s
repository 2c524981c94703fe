# A packet handler's verdict must be 0 or 1.
# expect: reject BadVerdict
# at: 1
# type: packet
mov %r0, 2
exit
