# Adding an unbounded value to a pointer could wrap it anywhere.
# expect: reject PointerOverflow
# at: 3
# type: packet
ldxdw %r2, [%r1+0]
ldxw %r3, [%r1+20]
lsh %r3, 32
add %r2, %r3
mov %r0, 0
exit
