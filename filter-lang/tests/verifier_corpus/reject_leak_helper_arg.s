# A pointer passed where a scalar belongs ends up in a counter the
# application reads.
# expect: reject HelperArg
# at: 2
# type: packet
# counters: 1
mov %r2, %r1
mov %r1, 0
call 2
mov %r0, 0
exit
