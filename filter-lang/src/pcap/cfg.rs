//! The control-flow graph every pcap-filter expression lowers to, and its
//! reference evaluator.
//!
//! The graph mirrors the BPF libpcap generates: each node tests one value
//! and branches; leaves accept or reject. Semantics, exactly libpcap's:
//! a load of bytes past the end of the captured frame ends the evaluation
//! with *reject*, wherever it happens (also under `not`); `len` is the wire
//! length; arithmetic is unsigned 32-bit, division or modulo by zero
//! rejects, shifts by 32 or more give 0. Both compilers (to filter atoms and
//! to handler bytecode) implement this graph, and the tests check them
//! against [`Cfg::eval`].

use super::ast::{ArOp, RelOp};
use super::ranges::RangeSet;
use crate::filter::FieldWidth;
use alloc::boxed::Box;
use alloc::vec::Vec;

/// Where a field's offset is counted from.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Debug)]
pub enum Base {
    /// The first byte of the frame.
    Abs,
    /// `4 * (frame[14] & 0x0f)`: the IPv4 header length, so `Ihl + 14` is
    /// the first byte of the IPv4 payload.
    Ihl,
}

/// Offset of the IPv4 IHL byte, and the shift atom that computes [`Base::Ihl`].
pub const IHL_OFF: u16 = 14;

impl Base {
    /// The base for `frame`, or `None` when its header byte is missing.
    pub fn resolve(self, frame: &[u8]) -> Option<usize> {
        match self {
            Base::Abs => Some(0),
            Base::Ihl => frame.get(IHL_OFF as usize).map(|b| 4 * (b & 0x0f) as usize),
        }
    }
}

/// A masked packet field at a fixed offset from a base.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Debug)]
pub struct Field {
    pub base: Base,
    pub off: u16,
    pub width: FieldWidth,
    pub mask: u32,
}

impl Field {
    pub fn abs(off: u16, width: FieldWidth) -> Field {
        Field {
            base: Base::Abs,
            off,
            width,
            mask: width.full_mask(),
        }
    }

    pub fn with_mask(mut self, mask: u32) -> Field {
        self.mask = mask & self.width.full_mask();
        self
    }

    /// The masked field value, or `None` when it is outside the frame.
    pub fn load(&self, frame: &[u8]) -> Option<u32> {
        let base = self.base.resolve(frame)?;
        crate::filter::atom::load(frame, base, self.off, self.width).map(|v| v & self.mask)
    }
}

/// A value computed at run time.
#[derive(Clone, PartialEq, Eq, Debug)]
pub enum Val {
    Num(u32),
    /// The wire length of the packet.
    Len,
    /// `width` bytes at `base + off + index`.
    Load {
        base: Base,
        off: u32,
        index: Box<Val>,
        width: FieldWidth,
    },
    Bin(ArOp, Box<Val>, Box<Val>),
    Neg(Box<Val>),
}

/// Why evaluation stopped early (both mean "reject").
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Abort {
    OutOfBounds,
    DivByZero,
}

impl Val {
    pub fn eval(&self, frame: &[u8], wirelen: u32) -> Result<u32, Abort> {
        Ok(match self {
            Val::Num(n) => *n,
            Val::Len => wirelen,
            Val::Load {
                base,
                off,
                index,
                width,
            } => {
                let i = index.eval(frame, wirelen)?;
                let b = base.resolve(frame).ok_or(Abort::OutOfBounds)?;
                let start = b as u64 + *off as u64 + i as u64;
                let start = usize::try_from(start).map_err(|_| Abort::OutOfBounds)?;
                crate::filter::atom::load(frame, start, 0, *width).ok_or(Abort::OutOfBounds)?
            }
            Val::Neg(v) => v.eval(frame, wirelen)?.wrapping_neg(),
            Val::Bin(op, a, b) => {
                let a = a.eval(frame, wirelen)?;
                let b = b.eval(frame, wirelen)?;
                match op {
                    ArOp::Add => a.wrapping_add(b),
                    ArOp::Sub => a.wrapping_sub(b),
                    ArOp::Mul => a.wrapping_mul(b),
                    ArOp::Div => a.checked_div(b).ok_or(Abort::DivByZero)?,
                    ArOp::Mod => a.checked_rem(b).ok_or(Abort::DivByZero)?,
                    ArOp::And => a & b,
                    ArOp::Or => a | b,
                    ArOp::Xor => a ^ b,
                    ArOp::Shl => a.checked_shl(b).unwrap_or(0),
                    ArOp::Shr => a.checked_shr(b).unwrap_or(0),
                }
            }
        })
    }
}

/// What a node tests.
#[derive(Clone, PartialEq, Eq, Debug)]
pub enum Test {
    /// `field ∈ set` (the masked value). Expressible by filter atoms.
    Field { field: Field, set: RangeSet },
    /// `lhs op rhs` on computed values. Bytecode only.
    Rel { op: RelOp, lhs: Val, rhs: Val },
}

/// Where a branch goes.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum Next {
    Accept,
    Reject,
    Node(usize),
}

/// One test and its two successors.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Node {
    pub test: Test,
    pub yes: Next,
    pub no: Next,
}

/// The graph. Nodes only point to nodes with smaller indices, so it is
/// acyclic and every walk ends.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Cfg {
    pub nodes: Vec<Node>,
    pub entry: Next,
}

impl Cfg {
    /// Reference evaluation: does the packet match? `frame` is the captured
    /// bytes, `wirelen` the length on the wire (`len`).
    pub fn eval(&self, frame: &[u8], wirelen: u32) -> bool {
        let mut cur = self.entry;
        loop {
            let n = match cur {
                Next::Accept => return true,
                Next::Reject => return false,
                Next::Node(i) => &self.nodes[i],
            };
            let hit = match &n.test {
                Test::Field { field, set } => match field.load(frame) {
                    Some(v) => set.contains(v),
                    None => return false,
                },
                Test::Rel { op, lhs, rhs } => {
                    match (lhs.eval(frame, wirelen), rhs.eval(frame, wirelen)) {
                        (Ok(a), Ok(b)) => op.holds(a, b),
                        _ => return false,
                    }
                }
            };
            cur = if hit { n.yes } else { n.no };
        }
    }

    /// Whether every test is a field test (so atoms may express it).
    pub fn is_field_only(&self) -> bool {
        self.nodes
            .iter()
            .all(|n| matches!(n.test, Test::Field { .. }))
    }
}
