# Pointers are spilled only by aligned 8-byte stores.
# expect: reject MisalignedPointerSpill
# at: 0
# type: packet
stxdw [%r10-12], %r1
mov %r0, 0
exit
