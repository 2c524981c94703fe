# A memory program may not store its buffer pointer into the buffer.
# expect: reject PointerLeak
# at: 0
# type: memory:16
stxdw [%r1+0], %r1
mov %r0, 0
exit
