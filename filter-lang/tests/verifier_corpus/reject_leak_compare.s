# Comparing a pointer with a number reveals its bits.
# expect: reject PointerComparison
# at: 1
# type: packet
mov %r0, 0
jgt %r1, 0x1000, +0
exit
