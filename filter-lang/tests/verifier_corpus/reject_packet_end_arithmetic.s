# Audit (held): data_end - 8 compared with itself or read through would
# let a program reach bytes below the end without proving them.
# expect: reject PointerArithmetic
# at: 1
# type: packet
ldxdw %r3, [%r1+8]
sub %r3, 8
ldxdw %r0, [%r3+0]
exit
