# The empty handler: returns 1 (deliver) without touching the packet.
# Measures each engine's per-run call overhead.
mov %r0, 1
exit
