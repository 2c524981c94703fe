# The context is read-only.
# expect: reject ReadOnly
# at: 1
# type: packet
mov %r0, 0
stw [%r1+16], 0
exit
