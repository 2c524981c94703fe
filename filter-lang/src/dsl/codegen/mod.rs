//! Code generation: a checked handler ([`hir::Handler`]) to `packet`-type
//! BPF bytecode the verifier accepts, with a source span on every word.
//!
//! Register use: r9 = the context, r8 = `data`, r7 = `data_end` (all kept
//! across helper calls); r0 holds the value being computed; r1-r5 are
//! scratch and helper arguments. Every variable and every intermediate
//! value that must survive another computation lives in an 8-byte stack
//! slot, so helper calls (which clobber r1-r5) never lose anything. Each
//! region's base pointer is fetched once, in the prologue, and kept in a
//! slot.
//!
//! Wherever the verifier needs a fact (a packet access inside `data_end`,
//! an offset inside a region, a length a helper can take), the code checks
//! it on the very register it then uses, and jumps to the *fallback* block
//! (`r0 = fallback verdict; exit`) when it does not hold. Run-time
//! arithmetic is checked the same way ([`expr`]).

mod expr;
mod mem;
mod stmt;

use super::error::{Error, ErrorKind, Span};
use super::hir;
use crate::bpf::ash::id as helper;
use crate::bpf::program::Span as LineCol;
use crate::bpf::{AluOp, Insn, JmpCond, Op, Operand, Program, Reg, Size, Width};
use alloc::collections::BTreeSet;
use alloc::string::String;
use alloc::vec;
use alloc::vec::Vec;

pub(super) const CTX: Reg = Reg::R9;
pub(super) const DATA: Reg = Reg::R8;
pub(super) const END: Reg = Reg::R7;

/// Stack slots of 8 bytes (512 bytes of stack).
const SLOTS: usize = 64;

/// The generated program.
#[derive(Clone, Debug)]
pub struct Output {
    /// Words with line/column spans (what the verifier reports).
    pub program: Program,
    /// The byte span in the source of each word.
    pub byte_spans: Vec<Span>,
}

/// A jump target.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(super) struct Label(usize);

pub(super) struct Gen<'h> {
    pub(super) h: &'h hir::Handler,
    pub(super) region_names: &'h [String],
    ops: Vec<Op>,
    spans: Vec<Span>,
    labels: Vec<Option<usize>>,
    fixups: Vec<(usize, Label)>,
    pub(super) span: Span,
    used: [bool; SLOTS],
    /// Stack offset of each variable while in scope.
    pub(super) vars: Vec<Option<i16>>,
    /// Stack offset of each region's base pointer.
    region_slots: Vec<Option<i16>>,
    /// Regions the body uses.
    pub(super) regions_used: BTreeSet<u32>,
    pub(super) fallback: Label,
    /// (continue, break) targets of the enclosing loops.
    pub(super) loops: Vec<(Label, Label)>,
}

type R<T> = Result<T, Error>;

/// Compiles `h`. `src` is needed only to turn byte spans into lines and
/// columns.
pub fn generate(
    h: &hir::Handler,
    region_names: &[String],
    src: &str,
    max_insns: usize,
) -> Result<Output, Error> {
    // Pass 1 finds the regions the body uses; pass 2 reserves slots for
    // just those.
    let all: BTreeSet<u32> = (0..h.regions.len() as u32).collect();
    let used = Gen::new(h, region_names, &all)?
        .body()?
        .regions_used
        .clone();
    let g = Gen::new(h, region_names, &used)?.body()?;
    g.finish(src, max_insns)
}

impl<'h> Gen<'h> {
    fn new(h: &'h hir::Handler, region_names: &'h [String], regions: &BTreeSet<u32>) -> R<Self> {
        let mut g = Gen {
            h,
            region_names,
            ops: Vec::new(),
            spans: Vec::new(),
            labels: Vec::new(),
            fixups: Vec::new(),
            span: h.span,
            used: [false; SLOTS],
            vars: vec![None; h.vars as usize],
            region_slots: vec![None; h.regions.len()],
            regions_used: BTreeSet::new(),
            fallback: Label(0),
            loops: Vec::new(),
        };
        g.fallback = g.label();
        for &r in regions {
            g.region_slots[r as usize] = Some(g.alloc()?);
        }
        Ok(g)
    }

    fn body(mut self) -> R<Self> {
        let body = &self.h.body;
        self.block(body)?;
        Ok(self)
    }

    /// Prepends the prologue, appends the fallback block, resolves jumps.
    fn finish(mut self, src: &str, max_insns: usize) -> R<Output> {
        let body_ops = core::mem::take(&mut self.ops);
        let body_spans = core::mem::take(&mut self.spans);
        self.span = self.h.span;
        self.mov(CTX, Reg::R1);
        self.load(
            Size::DW,
            DATA,
            CTX,
            crate::bpf::spec::packet_ctx::DATA as i16,
        );
        self.load(
            Size::DW,
            END,
            CTX,
            crate::bpf::spec::packet_ctx::DATA_END as i16,
        );
        for (id, slot) in self.region_slots.clone().iter().enumerate() {
            if let Some(slot) = slot {
                self.mov_imm(Reg::R1, id as u64);
                self.op(Op::CallHelper {
                    id: helper::REGION_PTR,
                });
                self.store_slot(*slot, Reg::R0);
            }
        }
        let shift = self.ops.len();
        self.ops.extend(body_ops);
        self.spans.extend(body_spans);
        for l in self.labels.iter_mut().flatten() {
            *l += shift;
        }
        for f in &mut self.fixups {
            f.0 += shift;
        }
        let fb = self.fallback;
        self.place(fb);
        let v = self.h.fallback;
        self.mov_imm(Reg::R0, v);
        self.op(Op::Exit);

        // Word position of each op.
        let mut pos = Vec::with_capacity(self.ops.len() + 1);
        let mut w = 0usize;
        for op in &self.ops {
            pos.push(w);
            w += op.words();
        }
        pos.push(w);
        if w > max_insns {
            return Err(Error::new(
                ErrorKind::TooLong {
                    words: w,
                    max: max_insns,
                },
                self.h.span,
            ));
        }
        for &(at, label) in &self.fixups {
            let target = pos[self.labels[label.0].expect("every label is placed")];
            let rel = target as i64 - pos[at] as i64 - 1;
            let too_far = || {
                Error::new(
                    ErrorKind::TooLong {
                        words: w,
                        max: max_insns,
                    },
                    self.h.span,
                )
            };
            match &mut self.ops[at] {
                Op::Ja { off, .. } => *off = i32::try_from(rel).map_err(|_| too_far())?,
                Op::Jmp { off, .. } => *off = i16::try_from(rel).map_err(|_| too_far())?,
                _ => unreachable!("fixups point at jumps"),
            }
        }
        let mut words: Vec<Insn> = Vec::with_capacity(w);
        let mut spans = Vec::with_capacity(w);
        let mut byte_spans = Vec::with_capacity(w);
        for (op, span) in self.ops.iter().zip(&self.spans) {
            let (enc, n) = op.encode();
            let (line, col) = span.line_col(src);
            for word in &enc[..n] {
                words.push(*word);
                spans.push(Some(LineCol {
                    line: line as u32,
                    col: col as u32,
                }));
                byte_spans.push(*span);
            }
        }
        Ok(Output {
            program: Program { words, spans },
            byte_spans,
        })
    }

    // ---- emission ----

    pub(super) fn op(&mut self, op: Op) {
        self.ops.push(op);
        self.spans.push(self.span);
    }

    pub(super) fn label(&mut self) -> Label {
        self.labels.push(None);
        Label(self.labels.len() - 1)
    }

    pub(super) fn place(&mut self, l: Label) {
        self.labels[l.0] = Some(self.ops.len());
    }

    pub(super) fn ja(&mut self, l: Label) {
        self.fixups.push((self.ops.len(), l));
        self.op(Op::Ja {
            off: 0,
            long: false,
        });
    }

    /// `if dst cond src goto l` (64-bit).
    pub(super) fn jmp(&mut self, cond: JmpCond, dst: Reg, src: Reg, l: Label) {
        self.fixups.push((self.ops.len(), l));
        self.op(Op::Jmp {
            width: Width::W64,
            cond,
            dst,
            src: Operand::Reg(src),
            off: 0,
        });
    }

    /// `if dst cond k goto l` (64-bit, unsigned or signed per `cond`);
    /// constants that do not fit an immediate go through r5.
    pub(super) fn jmp_k(&mut self, cond: JmpCond, dst: Reg, k: u64, l: Label) {
        let src = match imm(k) {
            Some(i) => Operand::Imm(i),
            None => {
                self.mov_imm(Reg::R5, k);
                Operand::Reg(Reg::R5)
            }
        };
        self.fixups.push((self.ops.len(), l));
        self.op(Op::Jmp {
            width: Width::W64,
            cond,
            dst,
            src,
            off: 0,
        });
    }

    pub(super) fn mov(&mut self, dst: Reg, src: Reg) {
        self.op(Op::Alu {
            width: Width::W64,
            op: AluOp::Mov,
            dst,
            src: Operand::Reg(src),
        });
    }

    pub(super) fn mov_imm(&mut self, dst: Reg, v: u64) {
        if let Some(i) = imm(v) {
            self.op(Op::Alu {
                width: Width::W64,
                op: AluOp::Mov,
                dst,
                src: Operand::Imm(i),
            });
        } else if v <= u32::MAX as u64 {
            // mov32 zero-extends.
            self.op(Op::Alu {
                width: Width::W32,
                op: AluOp::Mov,
                dst,
                src: Operand::Imm(v as u32 as i32),
            });
        } else {
            self.op(Op::LoadImm64 { dst, imm: v });
        }
    }

    pub(super) fn alu(&mut self, op: AluOp, dst: Reg, src: Reg) {
        self.op(Op::Alu {
            width: Width::W64,
            op,
            dst,
            src: Operand::Reg(src),
        });
    }

    /// `dst op= k` (64-bit); large constants go through r5.
    pub(super) fn alu_k(&mut self, op: AluOp, dst: Reg, k: u64) {
        match imm(k) {
            Some(i) => self.op(Op::Alu {
                width: Width::W64,
                op,
                dst,
                src: Operand::Imm(i),
            }),
            None => {
                self.mov_imm(Reg::R5, k);
                self.alu(op, dst, Reg::R5);
            }
        }
    }

    pub(super) fn load(&mut self, size: Size, dst: Reg, base: Reg, off: i16) {
        self.op(Op::Load {
            size,
            sign_extend: false,
            dst,
            base,
            off,
        });
    }

    pub(super) fn store(&mut self, size: Size, base: Reg, off: i16, src: Reg) {
        self.op(Op::Store {
            size,
            base,
            off,
            src: Operand::Reg(src),
        });
    }

    pub(super) fn call(&mut self, id: i32) {
        self.op(Op::CallHelper { id });
    }

    // ---- stack slots ----

    /// A free 8-byte stack slot (its offset from r10).
    pub(super) fn alloc(&mut self) -> R<i16> {
        match self.used.iter().position(|u| !u) {
            Some(i) => {
                self.used[i] = true;
                Ok(-8 * (i as i16 + 1))
            }
            None => Err(Error::new(ErrorKind::StackOverflow, self.span)),
        }
    }

    pub(super) fn free(&mut self, slot: i16) {
        self.used[(-slot / 8 - 1) as usize] = false;
    }

    pub(super) fn store_slot(&mut self, slot: i16, src: Reg) {
        self.store(Size::DW, Reg::FP, slot, src);
    }

    pub(super) fn load_slot(&mut self, dst: Reg, slot: i16) {
        self.load(Size::DW, dst, Reg::FP, slot);
    }

    /// Loads region `id`'s base pointer into `dst`.
    pub(super) fn region_ptr(&mut self, dst: Reg, id: u32) {
        self.regions_used.insert(id);
        // Pass 1 reserves every region; pass 2 exactly the used ones.
        let slot = self.region_slots[id as usize].expect("a slot for every used region");
        self.load_slot(dst, slot);
    }

    pub(super) fn region(&self, id: u32) -> hir::RegionInfo {
        self.h.regions[id as usize]
    }

    /// An error for an access to region `id` that needs `need` bytes.
    pub(super) fn too_small(&self, id: u32, need: u64) -> Error {
        Error::new(
            ErrorKind::RegionTooSmall {
                name: self.region_names[id as usize].clone(),
                need,
                size: self.region(id).size as u64,
            },
            self.span,
        )
    }
}

/// `k` as an immediate that sign-extends back to `k`, if it is one.
pub(super) fn imm(k: u64) -> Option<i32> {
    (k <= i32::MAX as u64).then_some(k as i32)
}
