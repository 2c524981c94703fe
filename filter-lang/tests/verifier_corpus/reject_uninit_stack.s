# A stack slot read before it was written.
# expect: reject UninitStack
# at: 1
# type: packet
mov %r0, 0
ldxdw %r2, [%r10-8]
exit
