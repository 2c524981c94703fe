# An ASH: vector 4 payload bytes into region 0 with their checksum, build a
# 14-byte reply header on the stack, send it, wake the owner, consume.
# expect: accept
# type: packet
# regions: 64:rw
# counters: 1
ldxdw %r2, [%r1+0]
ldxdw %r3, [%r1+8]
mov %r4, %r2
add %r4, 18
mov %r0, 1
jgt %r4, %r3, out
# copy_to_region_csum(0, 0, 14, 4, 0)
mov %r1, 0
mov %r2, 0
mov %r3, 14
mov %r4, 4
mov %r5, 0
call 5
jslt %r0, 0, fail
# a reply: 14 bytes at fp-16
stdw [%r10-16], 0
stdw [%r10-8], 0
stxh [%r10-4], %r0
mov %r1, %r10
add %r1, -16
mov %r2, 14
call 6
call 7
mov %r0, 0
exit
fail:
mov %r1, 0
mov %r2, 1
call 2
mov %r0, 1
out:
exit
