# Audit (held): cmpxchg compares memory with r0; a pointer in r0 would be
# compared with (and could be stored over) program-chosen data.
# expect: reject PointerLeak
# at: 2
# type: memory:16
mov %r0, %r10
mov %r3, 0
lock cmpxchg [%r1+0], %r3
mov %r0, 0
exit
