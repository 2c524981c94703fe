# Only 4 of the 8 bytes read were written.
# expect: reject UninitStack
# at: 2
# type: packet
mov %r0, 0
stw [%r10-8], 1
ldxdw %r2, [%r10-8]
exit
