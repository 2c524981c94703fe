//! Abstract machine states: what the verifier knows about every register and
//! stack byte of every call frame at one program point, and when one state
//! covers another (for pruning).

use super::scalar::Scalar;
use crate::bpf::op::Reg;
use alloc::vec::Vec;
use core::fmt;

/// Stack bytes per frame.
pub const STACK_SIZE: i64 = 512;
/// Largest magnitude a pointer's offset may have (keeps every pointer
/// computation far from wrap-around).
pub const MAX_PTR_OFF: i64 = 1 << 29;

/// What a pointer points into.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum PtrKind {
    /// The `packet` context (read-only).
    Ctx,
    /// Packet bytes (read-only), via `ctx.data`.
    Packet,
    /// `ctx.data_end`: only for comparisons.
    PacketEnd,
    /// The stack of call frame `n` (0 = main).
    Stack(u8),
    /// Application region `id`.
    Region(u32),
    /// The buffer of a `memory` program.
    Buffer,
}

impl fmt::Display for PtrKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PtrKind::Ctx => write!(f, "ctx"),
            PtrKind::Packet => write!(f, "pkt"),
            PtrKind::PacketEnd => write!(f, "pkt_end"),
            PtrKind::Stack(0) => write!(f, "fp"),
            PtrKind::Stack(n) => write!(f, "fp[frame {n}]"),
            PtrKind::Region(id) => write!(f, "region{id}"),
            PtrKind::Buffer => write!(f, "buf"),
        }
    }
}

/// A pointer: `object + var + fixed`.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub struct Ptr {
    pub kind: PtrKind,
    /// Constant part of the offset.
    pub fixed: i64,
    /// Variable part of the offset (the constant 0 for most pointers).
    pub var: Scalar,
    /// Packet pointers: pointers with the same `id` share `var`; 0 means
    /// `var` is the constant 0.
    pub id: u32,
    /// Packet pointers: `Some(k)` when a comparison with `data_end` proved
    /// `var + k <= packet length` (so, with `var + fixed + off >= 0`, every
    /// byte below `var + k` is inside the packet); `None` when nothing is
    /// proven (not even `var <= length`: no access at any offset).
    pub range: Option<i64>,
}

impl Ptr {
    /// A pointer to the start of `kind` (or, for stack, to the frame top).
    pub fn new(kind: PtrKind) -> Ptr {
        Ptr {
            kind,
            fixed: 0,
            var: Scalar::konst(0),
            id: 0,
            range: None,
        }
    }

    /// The offset as one constant, when it is one.
    pub fn const_off(&self) -> Option<i64> {
        self.var.as_const().map(|v| v as i64 + self.fixed)
    }

    /// Smallest and largest offset.
    pub fn off_bounds(&self) -> (i64, i64) {
        (self.var.smin + self.fixed, self.var.smax + self.fixed)
    }
}

impl fmt::Display for Ptr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.kind)?;
        if self.var.as_const() != Some(0) {
            write!(f, "+({})", self.var)?;
        }
        if self.fixed != 0 {
            write!(f, "{:+}", self.fixed)?;
        }
        if self.kind == PtrKind::Packet {
            match self.range {
                Some(r) => write!(f, " range={r}")?,
                None => write!(f, " range=none")?,
            }
        }
        Ok(())
    }
}

/// What a register holds.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum Value {
    /// Never written (reading it is an error).
    Uninit,
    Scalar(Scalar),
    Ptr(Ptr),
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Uninit => write!(f, "uninit"),
            Value::Scalar(s) => write!(f, "scalar({s})"),
            Value::Ptr(p) => write!(f, "ptr({p})"),
        }
    }
}

impl Value {
    /// Whether every concrete value of `other` is one of `self`'s (so a
    /// program continuing with `other` is covered by one with `self`).
    pub fn covers(&self, other: &Value) -> bool {
        match (self, other) {
            (Value::Uninit, _) => true,
            (Value::Scalar(a), Value::Scalar(b)) => a.includes(b),
            (Value::Ptr(a), Value::Ptr(b)) => {
                a.kind == b.kind
                    && a.fixed == b.fixed
                    && a.var.includes(&b.var)
                    // `None < Some(_)`: a proven range covers none.
                    && b.range >= a.range
                    // Pointers sharing a variable offset must keep sharing
                    // it: require the same id (conservative).
                    && a.id == b.id
            }
            _ => false,
        }
    }
}

/// What one stack byte holds.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum Byte {
    Uninit,
    /// Initialized data of unknown value.
    Misc,
    Zero,
}

/// One aligned 8-byte stack slot.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum Slot {
    /// Individual bytes.
    Bytes([Byte; 8]),
    /// A whole register spilled with an aligned 8-byte store.
    Spill(Value),
}

impl Slot {
    pub const UNINIT: Slot = Slot::Bytes([Byte::Uninit; 8]);

    fn covers(&self, other: &Slot) -> bool {
        match (self, other) {
            (Slot::Bytes(a), Slot::Bytes(b)) => a.iter().zip(b).all(|(x, y)| byte_covers(*x, *y)),
            (Slot::Spill(a), Slot::Spill(b)) => a.covers(b),
            (Slot::Bytes(a), Slot::Spill(Value::Scalar(_))) => {
                a.iter().all(|x| matches!(x, Byte::Uninit | Byte::Misc))
            }
            (Slot::Spill(Value::Scalar(s)), Slot::Bytes(b)) => {
                *s == Scalar::UNKNOWN && b.iter().all(|x| *x != Byte::Uninit)
            }
            _ => false,
        }
    }
}

fn byte_covers(a: Byte, b: Byte) -> bool {
    a == b || a == Byte::Uninit || (a == Byte::Misc && b == Byte::Zero)
}

/// One call frame.
#[derive(Clone, PartialEq, Eq, Hash, Debug)]
pub struct Frame {
    pub regs: [Value; Reg::COUNT],
    /// `slots[i]` covers `[fp - 8(i+1), fp - 8i)`; missing slots are
    /// uninitialized.
    pub slots: Vec<Slot>,
    /// Where `exit` returns to (`None` for the main program).
    pub ret_pc: Option<usize>,
}

impl Frame {
    /// A frame whose registers are all uninitialized but r10.
    pub fn new(depth: u8, ret_pc: Option<usize>) -> Frame {
        let mut regs = [Value::Uninit; Reg::COUNT];
        regs[10] = Value::Ptr(Ptr::new(PtrKind::Stack(depth)));
        Frame {
            regs,
            slots: Vec::new(),
            ret_pc,
        }
    }

    /// The slot covering stack offset `off` (negative, relative to fp).
    pub fn slot(&self, off: i64) -> Slot {
        let i = ((-off - 1) / 8) as usize;
        self.slots.get(i).copied().unwrap_or(Slot::UNINIT)
    }

    /// Mutable slot for offset `off`, growing the slot vector as needed.
    pub fn slot_mut(&mut self, off: i64) -> &mut Slot {
        let i = ((-off - 1) / 8) as usize;
        if self.slots.len() <= i {
            self.slots.resize(i + 1, Slot::UNINIT);
        }
        &mut self.slots[i]
    }

    /// Whether this frame covers `other`, looking only at the registers in
    /// `live` (bit n = rn).
    fn covers(&self, other: &Frame, live: u16) -> bool {
        if self.ret_pc != other.ret_pc {
            return false;
        }
        for r in 0..10 {
            if live >> r & 1 == 1 && !self.regs[r].covers(&other.regs[r]) {
                return false;
            }
        }
        let n = self.slots.len().max(other.slots.len());
        (0..n).all(|i| {
            let a = self.slots.get(i).copied().unwrap_or(Slot::UNINIT);
            let b = other.slots.get(i).copied().unwrap_or(Slot::UNINIT);
            a.covers(&b)
        })
    }
}

/// The whole abstract state: the call stack, innermost frame last.
#[derive(Clone, PartialEq, Eq, Hash, Debug)]
pub struct State {
    pub frames: Vec<Frame>,
    /// Next fresh packet pointer id.
    pub next_id: u32,
}

impl State {
    /// Size of the state in cells (registers plus stack slots over all
    /// frames): the unit of the analysis's memory and work budgets (a cell
    /// is one [`Value`] or [`Slot`], 80 bytes).
    pub fn cells(&self) -> usize {
        self.frames.iter().map(|f| Reg::COUNT + f.slots.len()).sum()
    }

    pub fn cur(&self) -> &Frame {
        self.frames.last().expect("a state always has a frame")
    }

    pub fn cur_mut(&mut self) -> &mut Frame {
        self.frames.last_mut().expect("a state always has a frame")
    }

    /// Depth of the innermost frame (0 = main).
    pub fn depth(&self) -> u8 {
        (self.frames.len() - 1) as u8
    }

    pub fn reg(&self, r: Reg) -> Value {
        self.cur().regs[r.idx()]
    }

    pub fn set(&mut self, r: Reg, v: Value) {
        self.cur_mut().regs[r.idx()] = v;
    }

    /// A fresh packet pointer id.
    pub fn fresh_id(&mut self) -> u32 {
        self.next_id += 1;
        self.next_id
    }

    /// Whether `self` covers `other`: every concrete machine state described
    /// by `other` is described by `self`, as far as the rest of the program
    /// can tell. `live(frame, pc)` gives the registers live at `pc` in a
    /// frame (the innermost frame at `pc`, callers at their return sites).
    pub fn covers(&self, other: &State, live: &dyn Fn(usize, usize) -> u16, pc: usize) -> bool {
        if self.frames.len() != other.frames.len() {
            return false;
        }
        let n = self.frames.len();
        self.frames
            .iter()
            .zip(&other.frames)
            .enumerate()
            .all(|(i, (a, b))| {
                let at = if i + 1 == n {
                    pc
                } else {
                    match self.frames[i + 1].ret_pc {
                        Some(r) => r,
                        None => return false,
                    }
                };
                // In callers, r0-r5 are overwritten by the return.
                let mask = if i + 1 == n { 0x3ff } else { 0x3c0 };
                a.covers(b, live(i, at) & mask)
            })
    }
}
