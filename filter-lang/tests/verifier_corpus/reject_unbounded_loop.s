# The loop counter comes from the packet length and is only incremented:
# the analysis sees the same state again and cannot prove termination.
# expect: reject UnboundedLoop
# at: 1
# type: packet
ldxw %r2, [%r1+16]
loop:
add %r2, 0
jne %r2, 7, loop
mov %r0, 0
exit
