# A function returns a pointer into its own, dying frame.
# expect: reject ReturnsStackPointer
# at: 6
# type: packet
call local f
mov %r0, 0
exit
f:
stdw [%r10-8], 0
mov %r0, %r10
add %r0, -8
exit
