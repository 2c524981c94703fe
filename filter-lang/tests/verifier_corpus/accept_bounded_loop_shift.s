# Halving a byte until it is zero: at most 8 iterations, although the
# counter's range only shrinks.
# expect: accept
# type: packet
ldxw %r2, [%r1+16]
and %r2, 255
loop:
rsh %r2, 1
jne %r2, 0, loop
mov %r0, 0
exit
