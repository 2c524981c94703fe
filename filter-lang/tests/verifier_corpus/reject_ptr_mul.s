# Only add/sub of scalars are allowed on pointers.
# expect: reject PointerArithmetic
# at: 1
# type: packet
mov %r2, %r10
mul %r2, 2
mov %r0, 0
exit
