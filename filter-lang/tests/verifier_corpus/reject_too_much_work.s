# Audit (resources): a variable-offset load over the whole 512-byte stack
# in a loop: each load checks every byte it may touch. The verifier charges
# that work (and state comparisons and copies) against a budget (default
# 2^24 units, about 0.1 s; lowered here), so no program can make it run
# long while staying under the instruction and state limits.
# expect: reject TooMuchWork
# type: packet
# limits: work=50000
stdw [%r10-8], 0
stdw [%r10-16], 0
stdw [%r10-24], 0
stdw [%r10-32], 0
stdw [%r10-40], 0
stdw [%r10-48], 0
stdw [%r10-56], 0
stdw [%r10-64], 0
ldxw %r5, [%r1+20]
and %r5, 56
mov %r2, %r10
add %r2, -64
add %r2, %r5
mov %r6, 0
loop:
ldxdw %r3, [%r2+0]
ldxdw %r3, [%r2+0]
ldxdw %r3, [%r2+0]
ldxdw %r3, [%r2+0]
add %r6, 1
jlt %r6, 200, loop
mov %r0, 0
exit
