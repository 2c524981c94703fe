;; A handler the BPF verifier would reject: it never ends. Under wasmi it
;; runs out of fuel on every frame, a handler fault the kernel counts and
;; contains (docs/NET.md).
(module
  (memory (export "memory") 1)
  (func (export "handle") (param $len i32) (result i32)
    (loop $forever (br $forever))
    (i32.const 0)))
