# region_ptr needs a constant region id.
# expect: reject HelperArg
# at: 2
# type: packet
# regions: 64:rw
ldxw %r1, [%r1+16]
and %r1, 1
call 3
mov %r0, 0
exit
