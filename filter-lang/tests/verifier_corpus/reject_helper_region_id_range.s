# Region 1 is not declared.
# expect: reject HelperArg
# at: 1
# type: packet
# regions: 64:rw
mov %r1, 1
call 3
mov %r0, 0
exit
