# r10 is the read-only frame pointer.
# expect: reject FramePointerWrite
# at: 0
# type: packet
add %r10, -8
mov %r0, 0
exit
