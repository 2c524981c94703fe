# copy_to_region needs a writable region.
# expect: reject HelperArg
# at: 4
# type: packet
# regions: 64:ro
mov %r1, 0
mov %r2, 0
mov %r3, 0
mov %r4, 4
call 4
mov %r0, 0
exit
