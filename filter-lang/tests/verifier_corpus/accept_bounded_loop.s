# Sum of the first 10 packet bytes: a loop with a constant bound, packet
# reads checked against data_end inside the loop.
# expect: accept
# type: packet
# bound: 87
ldxdw %r2, [%r1+0]
ldxdw %r3, [%r1+8]
mov %r4, 0
mov %r5, 0
loop:
mov %r6, %r2
add %r6, 1
jgt %r6, %r3, done
ldxb %r7, [%r2+0]
add %r5, %r7
add %r2, 1
add %r4, 1
jlt %r4, 10, loop
done:
mov %r0, %r5
and %r0, 1
exit
