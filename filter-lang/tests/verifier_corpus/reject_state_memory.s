# Audit (resources): forks whose other side waits pile up pending states;
# with three full stack slots and a call level each state is large. The
# verifier bounds the registers and stack slots it holds at once (default
# 65536 cells, 5 MiB; lowered here) instead of growing without limit.
# expect: reject StateMemory
# type: packet
# limits: cells=2000
stdw [%r10-8], 1
stdw [%r10-16], 2
stdw [%r10-24], 3
call local f
mov %r0, 0
exit
f:
stdw [%r10-8], 1
call 1
jeq %r0, 1, out
jeq %r0, 2, out
jeq %r0, 3, out
jeq %r0, 4, out
jeq %r0, 5, out
jeq %r0, 6, out
jeq %r0, 7, out
jeq %r0, 8, out
jeq %r0, 9, out
jeq %r0, 10, out
jeq %r0, 11, out
jeq %r0, 12, out
jeq %r0, 13, out
jeq %r0, 14, out
jeq %r0, 15, out
jeq %r0, 16, out
jeq %r0, 17, out
jeq %r0, 18, out
jeq %r0, 19, out
jeq %r0, 20, out
jeq %r0, 21, out
jeq %r0, 22, out
jeq %r0, 23, out
jeq %r0, 24, out
jeq %r0, 25, out
jeq %r0, 26, out
jeq %r0, 27, out
jeq %r0, 28, out
jeq %r0, 29, out
jeq %r0, 30, out
jeq %r0, 31, out
jeq %r0, 32, out
jeq %r0, 33, out
jeq %r0, 34, out
jeq %r0, 35, out
jeq %r0, 36, out
jeq %r0, 37, out
jeq %r0, 38, out
jeq %r0, 39, out
jeq %r0, 40, out
jeq %r0, 41, out
jeq %r0, 42, out
jeq %r0, 43, out
jeq %r0, 44, out
jeq %r0, 45, out
jeq %r0, 46, out
jeq %r0, 47, out
jeq %r0, 48, out
out:
mov %r0, 0
exit
