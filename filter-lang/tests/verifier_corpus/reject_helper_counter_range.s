# Counter 2 is not declared (two counters: 0 and 1).
# expect: reject HelperArg
# at: 2
# type: packet
# counters: 2
mov %r1, 2
mov %r2, 1
call 2
mov %r0, 0
exit
