# A function that reads the caller's stack through a pointer argument and
# returns a verdict; r6 survives the call.
# expect: accept
# type: packet
ldxw %r6, [%r1+16]
stxdw [%r10-8], %r6
mov %r1, %r10
add %r1, -8
call local check
add %r6, 0
exit
check:
ldxdw %r2, [%r1+0]
mov %r0, 0
jlt %r2, 60, +1
mov %r0, 1
exit
