# The program can run off its end.
# expect: reject FallThrough
# at: 3
# type: packet
mov %r0, 0
jeq %r0, 0, +1
exit
mov %r0, 1
