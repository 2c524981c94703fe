# Audit (held): only plain loads of the context's fields.
# expect: reject ContextAccess
# at: 0
# type: packet
ldxsw %r3, [%r1+16]
mov %r0, 0
exit
