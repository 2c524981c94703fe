# Truncating a pointer to 32 bits would turn address bits into a scalar.
# expect: reject PointerArithmetic
# at: 0
# type: packet
mov32 %r2, %r1
mov %r0, 0
exit
