;; UDP echo as a WebAssembly handler (docs/NET.md, "WebAssembly handlers").
;; The kernel copies the frame to linear memory offset 0 and calls
;; handle(len); the filter guarantees IPv4/UDP. The handler swaps the
;; Ethernet and IPv4 addresses and the UDP ports in place, recomputes both
;; checksums with the kernel's checksum helper, sends the reply and
;; consumes the request (verdict 0). Malformed requests go to the owner
;; (verdict 1).
(module
  (import "exo" "checksum" (func $csum (param i64 i64 i64) (result i64)))
  (import "exo" "send_frame" (func $send (param i64 i64) (result i64)))
  (import "exo" "counter_add" (func $count (param i64 i64) (result i64)))
  (memory (export "memory") 1)

  (func $swap (param $a i32) (param $b i32) (param $n i32)
    (local $t i32)
    (block $done
      (loop $next
        (br_if $done (i32.eqz (local.get $n)))
        (local.set $t (i32.load8_u (local.get $a)))
        (i32.store8 (local.get $a) (i32.load8_u (local.get $b)))
        (i32.store8 (local.get $b) (local.get $t))
        (local.set $a (i32.add (local.get $a) (i32.const 1)))
        (local.set $b (i32.add (local.get $b) (i32.const 1)))
        (local.set $n (i32.sub (local.get $n) (i32.const 1)))
        (br $next))))

  ;; Stores the 16-bit value v big-endian at address a.
  (func $be16 (param $a i32) (param $v i32)
    (i32.store8 (local.get $a) (i32.shr_u (local.get $v) (i32.const 8)))
    (i32.store8 (i32.add (local.get $a) (i32.const 1)) (local.get $v)))

  (func (export "handle") (param $len i32) (result i32)
    (local $ihl i32) (local $l4 i32) (local $ulen i32) (local $c i32) (local $sum i64)
    (local.set $ihl
      (i32.shl (i32.and (i32.load8_u (i32.const 14)) (i32.const 15)) (i32.const 2)))
    (local.set $l4 (i32.add (i32.const 14) (local.get $ihl)))
    (if (i32.lt_u (local.get $ihl) (i32.const 20)) (then (return (i32.const 1))))
    (if (i32.gt_u (i32.add (local.get $l4) (i32.const 8)) (local.get $len))
      (then (return (i32.const 1))))
    (local.set $ulen
      (i32.or
        (i32.shl (i32.load8_u (i32.add (local.get $l4) (i32.const 4))) (i32.const 8))
        (i32.load8_u (i32.add (local.get $l4) (i32.const 5)))))
    (if (i32.lt_u (local.get $ulen) (i32.const 8)) (then (return (i32.const 1))))
    (if (i32.gt_u (i32.add (local.get $l4) (local.get $ulen)) (local.get $len))
      (then (return (i32.const 1))))
    (call $swap (i32.const 0) (i32.const 6) (i32.const 6))
    (call $swap (i32.const 26) (i32.const 30) (i32.const 4))
    (call $swap (local.get $l4) (i32.add (local.get $l4) (i32.const 2)) (i32.const 2))
    (i32.store8 (i32.const 22) (i32.const 64))
    (call $be16 (i32.const 24) (i32.const 0))
    (local.set $c (i32.xor (i32.const 0xffff)
      (i32.wrap_i64 (call $csum (i64.const 14) (i64.extend_i32_u (local.get $ihl)) (i64.const 0)))))
    (call $be16 (i32.const 24) (local.get $c))
    (call $be16 (i32.add (local.get $l4) (i32.const 6)) (i32.const 0))
    ;; The pseudo-header (addresses, protocol, length) seeds the sum.
    (local.set $sum (call $csum (i64.const 26) (i64.const 8)
      (i64.extend_i32_u (i32.add (i32.const 17) (local.get $ulen)))))
    (local.set $c (i32.xor (i32.const 0xffff)
      (i32.wrap_i64 (call $csum (i64.extend_i32_u (local.get $l4))
        (i64.extend_i32_u (local.get $ulen)) (local.get $sum)))))
    (if (i32.eqz (local.get $c)) (then (local.set $c (i32.const 0xffff))))
    (call $be16 (i32.add (local.get $l4) (i32.const 6)) (local.get $c))
    (drop (call $send (i64.const 0) (i64.extend_i32_u (i32.add (local.get $l4) (local.get $ulen)))))
    (drop (call $count (i64.const 0) (i64.const 1)))
    (i32.const 0)))
