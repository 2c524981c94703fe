# A function stores a pointer to its own frame into its caller's frame.
# expect: reject DanglingStackPointer
# at: 6
# type: packet
mov %r1, %r10
add %r1, -8
call local f
mov %r0, 0
exit
f:
mov %r2, %r10
stxdw [%r1+0], %r2
mov %r0, 0
exit
