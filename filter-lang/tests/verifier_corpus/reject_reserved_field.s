# exit with a non-zero immediate is not a valid encoding.
# expect: reject Decode
# at: 1
# type: packet
mov %r0, 0
.word 0x0000000100000095
