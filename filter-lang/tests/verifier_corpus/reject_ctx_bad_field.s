# Context loads must be whole fields: one byte of `data` is not.
# expect: reject ContextAccess
# at: 1
# type: packet
mov %r0, 0
ldxb %r2, [%r1+1]
exit
