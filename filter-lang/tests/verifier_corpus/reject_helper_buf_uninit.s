# send_frame of stack bytes that were never written.
# expect: reject UninitStack
# at: 4
# type: packet
stdw [%r10-8], 0
mov %r1, %r10
add %r1, -16
mov %r2, 16
call 6
mov %r0, 0
exit
