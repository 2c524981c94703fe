# send_frame needs a length of at least 1.
# expect: reject HelperArg
# at: 4
# type: packet
stdw [%r10-8], 0
mov %r1, %r10
add %r1, -8
mov %r2, 0
call 6
mov %r0, 0
exit
