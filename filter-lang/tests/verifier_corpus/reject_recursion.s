# Unbounded recursion hits the frame limit.
# expect: reject CallDepth
# type: packet
call local f
mov %r0, 0
exit
f:
call local f
exit
