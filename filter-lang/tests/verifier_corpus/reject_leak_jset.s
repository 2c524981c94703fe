# `jset` between pointers exposes address bits.
# expect: reject PointerComparison
# at: 3
# type: packet
mov %r0, 0
mov %r2, %r10
add %r2, -8
jset %r2, %r10, +0
exit
