# A handler that delivers every frame.
# expect: accept
# type: packet
# bound: 2
mov %r0, 1
exit
