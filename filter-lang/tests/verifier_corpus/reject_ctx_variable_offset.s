# Context offsets must be constants.
# expect: reject ContextVariableOffset
# at: 4
# type: packet
ldxw %r2, [%r1+16]
and %r2, 8
mov %r0, 0
mov %r3, %r1
add %r3, %r2
exit
