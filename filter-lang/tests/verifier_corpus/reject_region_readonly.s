# Stores to a read-only region.
# expect: reject ReadOnly
# at: 2
# type: packet
# regions: 64:rw 32:ro
mov %r1, 1
call 3
stw [%r0+0], 1
mov %r0, 0
exit
