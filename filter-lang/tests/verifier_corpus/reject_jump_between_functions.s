# A jump from the main program into a function's body.
# expect: reject JumpBetweenFunctions
# at: 1
# type: packet
call local f
ja +1
exit
f:
mov %r0, 0
exit
