# Nothing above r10 belongs to the program.
# expect: reject OutOfBounds
# at: 0
# type: packet
stb [%r10+0], 0
mov %r0, 0
exit
