# A counter that grows forever never repeats a state; the analysis gives
# up at its work limit.
# expect: reject TooComplex
# type: packet
# limits: processed=5000
mov %r0, 0
mov %r2, 0
loop:
add %r2, 1
ja loop
exit
