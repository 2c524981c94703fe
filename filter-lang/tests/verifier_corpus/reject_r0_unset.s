# r0 is never set on the fall-through path.
# expect: reject R0Uninit
# at: 3
# type: packet
ldxw %r2, [%r1+16]
jgt %r2, 60, +1
mov %r0, 1
exit
