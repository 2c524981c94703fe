//! Assembler and disassembler for the uBPF/bpf_conformance syntax:
//!
//! ```text
//! # comment (also `;` and `//`)
//! mov %r0, 1              ; ALU: add sub mul div sdiv mod smod or and xor
//! add32 %r1, %r2          ;      lsh rsh arsh mov (+32 for 32-bit), neg neg32
//! movsx832 %r0, %r1       ; sign-extending moves movsx{8,16}{32,64}, movsx3264
//! be16 %r0                ; le16/32/64 be16/32/64 bswap16/32/64 (swapNN alias)
//! lddw %r1, 0x1122334455667788
//! ldxh %r3, [%r1+12]      ; ldx{b,h,w,dw}, sign-extending ldxs{b,h,w}
//! stw [%r10-8], 5         ; st{b,h,w,dw} imm, stx{b,h,w,dw} register
//! lock fetch add32 [%r10-8], %r1   ; add or and xor (fetch), xchg, cmpxchg
//! jeq %r1, 0x800, label   ; ja, ja32, j{eq,ne,gt,ge,lt,le,sgt,sge,slt,sle,set}[32]
//! call 5                  ; helper; `call local label`; `call %r2` (callx)
//! exit
//! label:
//! .word 0x0000000000000095  ; a raw instruction word
//! ```
//!
//! Jump targets are labels or relative word offsets (`+3`, `-2`). As in the
//! conformance suite's assembler, `exit` names the first `exit` instruction
//! unless a label of that name is defined. Registers may be written `%r1` or
//! `r1`.

pub mod disasm;
mod parse;

pub use disasm::disassemble;
pub use parse::{AsmError, AsmErrorKind, assemble};
