# Returning a pointer leaks it.
# expect: reject ReturnsPointer
# at: 1
# type: memory:16
mov %r0, %r1
exit
