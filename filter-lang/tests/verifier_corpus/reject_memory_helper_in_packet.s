# Helper 5 is copy_to_region_csum for packets and needs a writable region.
# expect: reject HelperArg
# at: 5
# type: packet
mov %r1, 0
mov %r2, 0
mov %r3, 0
mov %r4, 0
mov %r5, 0
call 5
mov %r0, 0
exit
