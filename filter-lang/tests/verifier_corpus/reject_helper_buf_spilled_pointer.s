# Sending stack bytes that hold a spilled pointer would leak it.
# expect: reject PartialPointerRead
# at: 4
# type: packet
stxdw [%r10-8], %r1
mov %r1, %r10
add %r1, -8
mov %r2, 8
call 6
mov %r0, 0
exit
