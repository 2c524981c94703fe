# No helper 99 for packet programs.
# expect: reject UnknownHelper
# at: 0
# type: packet
call 99
mov %r0, 0
exit
