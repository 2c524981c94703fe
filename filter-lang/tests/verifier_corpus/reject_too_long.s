# More words than the configured limit of 4.
# expect: reject TooLong
# type: packet
# limits: insns=4
mov %r0, 0
mov %r0, 0
mov %r0, 0
mov %r0, 0
exit
