# A load through a number.
# expect: reject NotAPointer
# at: 1
# type: packet
mov %r2, 4096
ldxb %r0, [%r2+0]
exit
