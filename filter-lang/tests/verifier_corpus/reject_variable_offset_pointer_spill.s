# Audit (held): a pointer stored at a variable stack offset could land
# anywhere in the slots, so it is refused.
# expect: reject MisalignedPointerSpill
# at: 5
# type: packet
ldxw %r3, [%r1+20]
and %r3, 8
mov %r2, %r10
add %r2, -16
add %r2, %r3
stxdw [%r2+0], %r1
mov %r0, 0
exit
