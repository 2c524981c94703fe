# Independent branches on packet data, each leaving a different value live:
# 2^n paths. The state cap (here 32) stops the analysis.
# expect: reject TooManyStates
# type: packet
# limits: states=32
ldxw %r2, [%r1+16]
ldxw %r3, [%r1+20]
mov %r0, 0
jset %r2, 1, +1
add %r0, 1
jset %r2, 2, +1
add %r0, 2
jset %r2, 4, +1
add %r0, 4
jset %r2, 8, +1
add %r0, 8
jset %r2, 16, +1
add %r0, 16
jset %r2, 32, +1
add %r0, 32
jset %r2, 64, +1
add %r0, 64
and %r0, 1
exit
