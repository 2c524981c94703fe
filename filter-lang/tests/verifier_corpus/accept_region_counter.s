# Count frames in a region word and a counter; the region is written with
# an atomic add.
# expect: accept
# type: packet
# regions: 64:rw
# counters: 1
# bound: 9
mov %r1, 0
call 3
mov %r2, 1
lock add32 [%r0+4], %r2
mov %r1, 0
mov %r2, 1
call 2
mov %r0, 1
exit
