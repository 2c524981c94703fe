# Legacy packet loads are not accepted: use ctx->data.
# expect: reject LegacyPacketAccess
# at: 0
# type: packet
ldabsw 12
mov %r0, 0
exit
