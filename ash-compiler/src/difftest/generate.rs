//! A generator of programs that are safe by construction (and meant to be
//! accepted by the verifier): every memory access stays inside the buffer,
//! region, packet prefix or stack area set up by a fixed prologue; every
//! register is written before it is read; jumps go forward only, so every
//! program terminates.
//!
//! Randomness comes from a [`Source`] of bytes, so proptest (random byte
//! vectors, shrinkable) and cargo-fuzz (the fuzzer's input) drive the same
//! generator.

pub use super::source::Source;
use alloc::vec;
use alloc::vec::Vec;
use filter_lang::bpf::ash::id as ash_id;
use filter_lang::bpf::helpers::CONFORMANCE_UNWIND;
use filter_lang::bpf::spec::packet_ctx;
use filter_lang::bpf::{AluOp, AtomicOp, EndKind, Insn, JmpCond, Op, Operand, Reg, Size, Width};

/// Bytes of the `memory` program's buffer and of the `packet` program's region.
pub const AREA_LEN: usize = 64;
/// Bytes of each frame's stack the programs initialise and use (at r10 - 64 ..).
pub const STACK_USED: usize = 64;
/// Packet bytes the packet prologue proves present before using them.
pub const PACKET_PREFIX: i32 = 32;
/// Counters a `packet` program is given.
pub const COUNTERS: usize = 4;

/// Which program type the generated program is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// `memory`: r1 = a buffer of [`AREA_LEN`] bytes, r2 = its length; the
    /// conformance helper set (helper 5, "unwind").
    Memory,
    /// `packet`: r1 = the packet context; one writable application region
    /// of [`AREA_LEN`] bytes; the ASH helpers.
    Packet,
}

/// A generated test case.
#[derive(Clone, Debug)]
pub struct Case {
    pub kind: Kind,
    /// The program.
    pub words: Vec<Insn>,
    /// Initial buffer (`Memory`) or region (`Packet`) contents.
    pub area: Vec<u8>,
    /// The packet (`Packet` only; may be shorter than [`PACKET_PREFIX`]).
    pub packet: Vec<u8>,
}

/// An element of a program under construction.
#[derive(Clone, Debug)]
enum Item {
    Op(Op),
    /// Forward conditional jump to the start of item `target`.
    Jump {
        width: Width,
        cond: JmpCond,
        dst: Reg,
        src: Operand,
        target: usize,
    },
    /// Call of the subfunction.
    CallSub,
    /// Jump to the short-packet exit block.
    JumpShort {
        dst: Reg,
        src: Reg,
    },
}

fn reg(n: u8) -> Reg {
    Reg::new(n).unwrap_or(Reg::R0)
}

const SIZES: [Size; 4] = [Size::B, Size::H, Size::W, Size::DW];

struct Gen<'s, 'a> {
    s: &'s mut Source<'a>,
    kind: Kind,
    items: Vec<Item>,
    /// Items inside a group (a helper call with its argument set-up and the
    /// re-initialisation after it): jumps never land there.
    inner: Vec<bool>,
}

impl Gen<'_, '_> {
    fn push(&mut self, it: Item) {
        self.items.push(it);
        self.inner.push(false);
    }

    fn op(&mut self, op: Op) {
        self.push(Item::Op(op));
    }

    /// A 64-bit ALU operation.
    fn alu64(&mut self, op: AluOp, dst: Reg, src: Operand) {
        self.op(Op::Alu {
            width: Width::W64,
            op,
            dst,
            src,
        });
    }

    /// `dst = imm` (64-bit).
    fn mov_imm(&mut self, dst: Reg, imm: i32) {
        self.alu64(AluOp::Mov, dst, Operand::Imm(imm));
    }

    /// r1 = a random non-empty slice of the application region (r9), r2 =
    /// its length: a helper's buffer arguments.
    fn region_slice_args(&mut self) {
        let off = self.s.below(AREA_LEN) as i32;
        let len = 1 + self.s.below(AREA_LEN - off as usize) as i32;
        self.alu64(AluOp::Mov, Reg::R1, Operand::Reg(Reg::R9));
        self.alu64(AluOp::Add, Reg::R1, Operand::Imm(off));
        self.mov_imm(Reg::R2, len);
    }

    /// Registers holding scalars in the body.
    fn scalars(&self) -> &'static [u8] {
        match self.kind {
            Kind::Memory => &[0, 1, 2, 3, 4, 5, 6, 7, 8],
            Kind::Packet => &[0, 1, 2, 3, 4, 5, 6, 7],
        }
    }

    fn scalar(&mut self) -> Reg {
        let s = self.scalars();
        reg(self.s.pick(s))
    }

    fn operand(&mut self) -> Operand {
        if self.s.byte() & 1 == 0 {
            Operand::Reg(self.scalar())
        } else {
            Operand::Imm(self.s.imm())
        }
    }

    fn init_scalars(&mut self, regs: &[u8]) {
        for &r in regs {
            let imm = self.s.imm64();
            self.op(Op::LoadImm64 { dst: reg(r), imm });
        }
    }

    fn init_stack(&mut self) {
        for k in 1..=(STACK_USED / 8) as i16 {
            let imm = self.s.imm();
            self.op(Op::Store {
                size: Size::DW,
                base: Reg::FP,
                off: -8 * k,
                src: Operand::Imm(imm),
            });
        }
    }

    /// A memory operand: base register and offset valid for `size`.
    fn place(&mut self, size: Size, writable_only: bool, aligned: bool) -> (Reg, i16) {
        let n = size.bytes();
        let choices: &[u8] = match (self.kind, writable_only) {
            (Kind::Packet, false) => &[10, 9, 8],
            _ => &[10, 9],
        };
        let base = reg(self.s.pick(choices));
        let span = match base.num() {
            8 => PACKET_PREFIX as usize,
            9 => AREA_LEN,
            _ => STACK_USED,
        };
        let slots = span / n;
        let mut off = if aligned {
            self.s.below(slots) * n
        } else {
            self.s.below(span - n + 1)
        } as i16;
        if base == Reg::FP {
            off -= STACK_USED as i16;
        }
        (base, off)
    }

    fn alu(&mut self) {
        const OPS: [AluOp; 13] = [
            AluOp::Add,
            AluOp::Sub,
            AluOp::Mul,
            AluOp::Div,
            AluOp::SDiv,
            AluOp::Or,
            AluOp::And,
            AluOp::Lsh,
            AluOp::Rsh,
            AluOp::Mod,
            AluOp::SMod,
            AluOp::Xor,
            AluOp::Arsh,
        ];
        let width = if self.s.byte() & 1 == 0 {
            Width::W64
        } else {
            Width::W32
        };
        let dst = self.scalar();
        match self.s.below(8) {
            0 => {
                let src = self.operand();
                self.op(Op::Alu {
                    width,
                    op: AluOp::Mov,
                    dst,
                    src,
                });
            }
            1 => {
                let bits = match width {
                    Width::W64 => self.s.pick(&[8u8, 16, 32]),
                    Width::W32 => self.s.pick(&[8u8, 16]),
                };
                let src = Operand::Reg(self.scalar());
                self.op(Op::Alu {
                    width,
                    op: AluOp::MovSx(bits),
                    dst,
                    src,
                });
            }
            2 => self.op(Op::Neg { width, dst }),
            3 => {
                let kind = self.s.pick(&[EndKind::ToLe, EndKind::ToBe, EndKind::Swap]);
                let bits = self.s.pick(&[16u8, 32, 64]);
                self.op(Op::End { kind, bits, dst });
            }
            4 => {
                let imm = self.s.imm64();
                self.op(Op::LoadImm64 { dst, imm });
            }
            _ => {
                let op = self.s.pick(&OPS);
                let src = self.operand();
                self.op(Op::Alu {
                    width,
                    op,
                    dst,
                    src,
                });
            }
        }
    }

    fn load(&mut self) {
        let size = self.s.pick(&SIZES);
        let sign_extend = size != Size::DW && self.s.byte() & 3 == 0;
        let (base, off) = self.place(size, false, false);
        let dst = self.scalar();
        self.op(Op::Load {
            size,
            sign_extend,
            dst,
            base,
            off,
        });
    }

    fn store(&mut self) {
        let size = self.s.pick(&SIZES);
        let (base, off) = self.place(size, true, false);
        let src = if self.s.byte() & 1 == 0 {
            Operand::Reg(self.scalar())
        } else {
            Operand::Imm(self.s.imm())
        };
        self.op(Op::Store {
            size,
            base,
            off,
            src,
        });
    }

    fn atomic(&mut self) {
        let size = self.s.pick(&[Size::W, Size::DW]);
        let fetch = self.s.byte() & 1 == 0;
        let op = self.s.pick(&[
            AtomicOp::Add { fetch },
            AtomicOp::Or { fetch },
            AtomicOp::And { fetch },
            AtomicOp::Xor { fetch },
            AtomicOp::Xchg,
            AtomicOp::CmpXchg,
        ]);
        let (base, off) = self.place(size, true, true);
        let src = self.scalar();
        self.op(Op::Atomic {
            size,
            op,
            base,
            off,
            src,
        });
    }

    /// A helper call with scalar (or in-range pointer) arguments, then r1-r5
    /// rewritten (a call leaves them unreadable).
    fn helper(&mut self) {
        self.in_group_all(|g| g.helper_ops());
    }

    /// Runs `f` with every op it emits after the first marked as inside the group.
    fn in_group_all(&mut self, f: impl FnOnce(&mut Self)) {
        let start = self.items.len();
        f(self);
        for i in start + 1..self.items.len() {
            self.inner[i] = true;
        }
    }

    fn helper_ops(&mut self) {
        match self.kind {
            Kind::Memory => {
                let v = if self.s.byte() & 7 == 0 {
                    0
                } else {
                    self.s.imm()
                };
                self.mov_imm(Reg::R1, v);
                self.op(Op::CallHelper {
                    id: CONFORMANCE_UNWIND,
                });
            }
            Kind::Packet => {
                match self.s.below(6) {
                    0 => self.op(Op::CallHelper {
                        id: ash_id::KTIME_NS,
                    }),
                    1 => {
                        let idx = self.s.below(COUNTERS) as i32;
                        self.mov_imm(Reg::R1, idx);
                        let src = Operand::Reg(self.scalar());
                        self.alu64(AluOp::Mov, Reg::R2, src);
                        self.op(Op::CallHelper {
                            id: ash_id::COUNTER_ADD,
                        });
                    }
                    2 => self.op(Op::CallHelper {
                        id: ash_id::WAKE_OWNER,
                    }),
                    3 => {
                        // checksum(region + off, len, seed)
                        self.region_slice_args();
                        let seed = self.s.imm();
                        self.mov_imm(Reg::R3, seed);
                        self.op(Op::CallHelper {
                            id: ash_id::CHECKSUM,
                        });
                    }
                    4 => {
                        // copy_to_region[_csum](0, region_off, pkt_off, len): may
                        // fail with an error code; both engines must agree.
                        self.mov_imm(Reg::R1, 0);
                        let a = self.s.below(AREA_LEN + 8) as i32;
                        self.mov_imm(Reg::R2, a);
                        let b = self.s.below(PACKET_PREFIX as usize + 8) as i32;
                        self.mov_imm(Reg::R3, b);
                        let c = self.s.below(40) as i32;
                        self.mov_imm(Reg::R4, c);
                        let seed = self.s.imm();
                        self.mov_imm(Reg::R5, seed);
                        let id = self
                            .s
                            .pick(&[ash_id::COPY_TO_REGION, ash_id::COPY_TO_REGION_CSUM]);
                        self.op(Op::CallHelper { id });
                    }
                    _ => {
                        // send_frame(region + off, len)
                        self.region_slice_args();
                        self.op(Op::CallHelper {
                            id: ash_id::SEND_FRAME,
                        });
                    }
                }
            }
        }
        self.init_scalars(&[1, 2, 3, 4, 5]);
    }

    fn body(&mut self, max_items: usize, allow_calls: bool) {
        let n = self.s.below(max_items + 1);
        let mut jumps = Vec::new();
        for _ in 0..n {
            match self.s.below(20) {
                0..=6 => self.alu(),
                7..=9 => self.load(),
                10..=11 => self.store(),
                12 => self.atomic(),
                13..=15 => {
                    let width = if self.s.byte() & 1 == 0 {
                        Width::W64
                    } else {
                        Width::W32
                    };
                    let cond = self.s.pick(&[
                        JmpCond::Eq,
                        JmpCond::Ne,
                        JmpCond::Gt,
                        JmpCond::Ge,
                        JmpCond::Lt,
                        JmpCond::Le,
                        JmpCond::Sgt,
                        JmpCond::Sge,
                        JmpCond::Slt,
                        JmpCond::Sle,
                        JmpCond::Set,
                    ]);
                    let dst = self.scalar();
                    let src = self.operand();
                    jumps.push(self.items.len());
                    let skip = self.s.below(8);
                    self.push(Item::Jump {
                        width,
                        cond,
                        dst,
                        src,
                        target: skip,
                    });
                }
                16..=17 if allow_calls => self.helper(),
                18 if allow_calls => {
                    self.in_group_all(|g| {
                        g.push(Item::CallSub);
                        g.init_scalars(&[1, 2, 3, 4, 5]);
                    });
                }
                _ => self.alu(),
            }
        }
        // Resolve each jump's distance to an item at or before the body's
        // end, never inside a group.
        let end = self.items.len();
        for j in jumps {
            if let Item::Jump { target, .. } = self.items[j] {
                let mut t = (j + 1 + target).min(end);
                while t < end && self.inner[t] {
                    t += 1;
                }
                if let Item::Jump { target, .. } = &mut self.items[j] {
                    *target = t;
                }
            }
        }
    }

    /// r0 = r0 ^ r1 ^ ... ^ stack words, then exit: every value matters.
    fn epilogue(&mut self, regs: &[u8]) {
        for &r in regs.iter().filter(|&&r| r != 0) {
            self.alu64(AluOp::Xor, Reg::R0, Operand::Reg(reg(r)));
        }
        for k in 1..=(STACK_USED / 8) as i16 {
            self.op(Op::Load {
                size: Size::DW,
                sign_extend: false,
                dst: Reg::R1,
                base: Reg::FP,
                off: -8 * k,
            });
            self.alu64(AluOp::Add, Reg::R0, Operand::Reg(Reg::R1));
        }
        self.op(Op::Exit);
    }
}

/// Generates one case.
pub fn generate(s: &mut Source<'_>, kind: Kind) -> Case {
    let mut g = Gen {
        s,
        kind,
        items: Vec::new(),
        inner: Vec::new(),
    };
    match kind {
        Kind::Memory => {
            g.alu64(AluOp::Mov, Reg::R9, Operand::Reg(Reg::R1));
            g.init_scalars(&[0, 1, 2, 3, 4, 5, 6, 7, 8]);
        }
        Kind::Packet => {
            let ld = |dst, off| Op::Load {
                size: Size::DW,
                sign_extend: false,
                dst,
                base: Reg::R1,
                off,
            };
            g.op(ld(Reg::R8, packet_ctx::DATA as i16));
            g.op(ld(Reg::R7, packet_ctx::DATA_END as i16));
            g.alu64(AluOp::Mov, Reg::R6, Operand::Reg(Reg::R8));
            g.alu64(AluOp::Add, Reg::R6, Operand::Imm(PACKET_PREFIX));
            g.push(Item::JumpShort {
                dst: Reg::R6,
                src: Reg::R7,
            });
            g.mov_imm(Reg::R1, 0);
            g.op(Op::CallHelper {
                id: ash_id::REGION_PTR,
            });
            g.alu64(AluOp::Mov, Reg::R9, Operand::Reg(Reg::R0));
            g.init_scalars(&[0, 1, 2, 3, 4, 5, 6, 7]);
        }
    }
    g.init_stack();
    g.body(40, true);
    let scalars = g.scalars();
    g.epilogue(scalars);
    if kind == Kind::Packet {
        // A packet handler's r0 is a verdict: keep the hash in the region
        // (compared as memory) and return its low bit.
        let exit = g.items.pop();
        debug_assert!(matches!(exit, Some(Item::Op(Op::Exit))));
        g.inner.pop();
        g.op(Op::Store {
            size: Size::DW,
            base: Reg::R9,
            off: 0,
            src: Operand::Reg(Reg::R0),
        });
        g.alu64(AluOp::And, Reg::R0, Operand::Imm(1));
        g.op(Op::Exit);
    }
    let main_end = g.items.len();
    // The short-packet exit: r0 = 1.
    g.mov_imm(Reg::R0, 1);
    g.op(Op::Exit);
    // The subfunction: scalar work on r0-r7 (r6, r7 are restored by the
    // call), its own stack frame.
    let sub = g.items.len();
    let saved_kind = g.kind;
    g.kind = Kind::Packet; // scalars r0..r7, no packet/region bases below
    g.init_scalars(&[0, 6, 7]);
    g.init_stack();
    for _ in 0..g.s.below(10) {
        match g.s.below(3) {
            0 => {
                let size = g.s.pick(&SIZES);
                let off = g.s.below(STACK_USED - size.bytes() + 1) as i16 - STACK_USED as i16;
                let dst = g.scalar();
                g.op(Op::Load {
                    size,
                    sign_extend: false,
                    dst,
                    base: Reg::FP,
                    off,
                });
            }
            _ => g.alu(),
        }
    }
    g.epilogue(&[0, 1, 2, 3, 4, 5, 6, 7]);
    g.kind = saved_kind;

    // Lay out in words and resolve offsets.
    let items = g.items;
    let mut start = Vec::with_capacity(items.len() + 1);
    let mut w = 0usize;
    for it in &items {
        start.push(w);
        w += match it {
            Item::Op(op) => op.words(),
            _ => 1,
        };
    }
    start.push(w);
    let rel = |from: usize, to: usize| start[to] as i64 - start[from] as i64 - 1;
    let mut ops = Vec::with_capacity(items.len());
    for (i, it) in items.iter().enumerate() {
        ops.push(match *it {
            Item::Op(op) => op,
            Item::Jump {
                width,
                cond,
                dst,
                src,
                target,
            } => Op::Jmp {
                width,
                cond,
                dst,
                src,
                off: rel(i, target.min(main_end - 1)) as i16,
            },
            Item::CallSub => Op::CallLocal {
                off: rel(i, sub) as i32,
            },
            Item::JumpShort { dst, src } => Op::Jmp {
                width: Width::W64,
                cond: JmpCond::Gt,
                dst,
                src: Operand::Reg(src),
                off: rel(i, main_end) as i16,
            },
        });
    }
    let mut words = Vec::with_capacity(w);
    for op in &ops {
        let (enc, n) = op.encode();
        words.extend_from_slice(&enc[..n]);
    }
    let mut area = vec![0u8; AREA_LEN];
    for b in area.iter_mut() {
        *b = g.s.byte();
    }
    let packet = match kind {
        Kind::Memory => Vec::new(),
        Kind::Packet => {
            // Mostly long enough for the prefix; sometimes short (the
            // program must then take its bounds-check exit).
            let len = if g.s.byte() & 7 == 0 {
                g.s.below(PACKET_PREFIX as usize)
            } else {
                PACKET_PREFIX as usize + g.s.below(64)
            };
            (0..len).map(|_| g.s.byte()).collect()
        }
    };
    Case {
        kind,
        words,
        area,
        packet,
    }
}

/// `n` cases from a fixed xorshift byte stream started at `seed` (not 0),
/// `bytes` bytes of choices each, `memory` and `packet` programs
/// alternately (memory first): the same programs on every call, for tests
/// and benchmarks that want a fixed sample.
pub fn seeded(seed: u64, n: usize, bytes: usize) -> Vec<Case> {
    let mut state = seed;
    (0..n)
        .map(|i| {
            let data: Vec<u8> = (0..bytes)
                .map(|_| {
                    state ^= state << 13;
                    state ^= state >> 7;
                    state ^= state << 17;
                    state as u8
                })
                .collect();
            let kind = if i % 2 == 0 {
                Kind::Memory
            } else {
                Kind::Packet
            };
            generate(&mut Source::new(&data), kind)
        })
        .collect()
}
