# Atomics must be aligned to their size.
# expect: reject MisalignedAtomic
# at: 3
# type: packet
# regions: 64:rw
mov %r1, 0
call 3
mov %r2, 1
lock add [%r0+4], %r2
mov %r0, 0
exit
