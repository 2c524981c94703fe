;; Breaks the handler ABI: no `handle` export. The kernel must refuse it.
(module
  (memory (export "memory") 1)
  (func (export "other") (param i32) (result i32) (i32.const 0)))
