# send_frame needs a pointer, not a number.
# expect: reject HelperArg
# at: 2
# type: packet
mov %r1, 4096
mov %r2, 14
call 6
mov %r0, 0
exit
