# Storing the packet pointer into an application region would let the
# application read a kernel address.
# expect: reject PointerLeak
# at: 5
# type: packet
# regions: 64:rw
ldxdw %r6, [%r1+0]
mov %r1, 0
call 3
mov %r7, %r0
mov %r0, 0
stxdw [%r7+0], %r6
exit
