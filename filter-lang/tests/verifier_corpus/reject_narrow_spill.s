# A 4-byte store of a pointer would keep half its bits.
# expect: reject MisalignedPointerSpill
# at: 0
# type: packet
stxw [%r10-8], %r1
mov %r0, 0
exit
