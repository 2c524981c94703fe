# Audit (held): the distance between the stack and the packet is an
# address difference the program must not see.
# expect: reject PointerArithmetic
# at: 2
# type: packet
mov %r2, %r10
ldxdw %r3, [%r1+0]
sub %r2, %r3
mov %r0, %r2
and %r0, 1
exit
