# Division by zero is defined (RFC 9669: the result is 0).
# expect: accept
# type: memory:8
ldxdw %r2, [%r1+0]
mov %r0, 100
div %r0, %r2
mod %r0, %r2
exit
