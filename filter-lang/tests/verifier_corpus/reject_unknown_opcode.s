# 0xff is not an RFC 9669 opcode.
# expect: reject Decode
# at: 1
# type: packet
mov %r0, 0
.word 0x00000000000000ff
exit
