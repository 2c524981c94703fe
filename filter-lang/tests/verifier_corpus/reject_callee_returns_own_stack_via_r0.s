# Audit (held): a pointer into a callee's frame returned in r0 and
# dereferenced after the frame is gone.
# expect: reject ReturnsStackPointer
# at: 7
# type: packet
call local f
ldxdw %r0, [%r0+0]
and %r0, 1
exit
f:
stdw [%r10-8], 1
mov %r0, %r10
add %r0, -8
exit
