# Overwriting part of a spilled pointer.
# expect: reject SpilledPointerCorrupted
# at: 1
# type: packet
stxdw [%r10-8], %r1
stb [%r10-5], 0
mov %r0, 0
exit
