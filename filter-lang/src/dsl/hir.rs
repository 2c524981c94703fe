//! The checked program: names resolved to variables, regions, counters,
//! protocol fields and helpers; types checked; constants folded. This is
//! what code generation reads.

use super::ast::{BinOp, CmpOp};
use super::error::Span;
use super::layers::{Field, Layer};
use alloc::boxed::Box;
use alloc::vec::Vec;

/// A variable (index into the handler's variable table).
pub type VarId = u32;

/// Bytes a protocol view reads: the packet or a `bytes` region.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Mem {
    Packet,
    Region(u32),
}

#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Expr {
    pub kind: ExprKind,
    pub span: Span,
}

#[derive(Clone, PartialEq, Eq, Debug)]
pub enum ExprKind {
    /// An integer, or a boolean as 0/1.
    Const(u64),
    Var(VarId),
    /// The frame length (`pkt.len`).
    PktLen,
    /// The receiving interface (`pkt.ifindex`).
    IfIndex,
    /// Where `layer` starts in `mem` (`offset(udp)`).
    Offset {
        mem: Mem,
        layer: Layer,
    },
    /// A protocol field.
    Field {
        mem: Mem,
        layer: Layer,
        field: &'static Field,
    },
    /// `size` bytes (network order) at `off` from `layer`'s start (from the
    /// frame start when `layer` is `None`).
    Raw {
        mem: Mem,
        layer: Option<Layer>,
        off: Box<Expr>,
        size: u8,
    },
    /// Element `index` of an array region (native byte order).
    Elem {
        region: u32,
        elem: u8,
        index: Box<Expr>,
    },
    Bin(BinOp, Box<Expr>, Box<Expr>),
    Cmp(CmpOp, Box<Expr>, Box<Expr>),
    Not(Box<Expr>),
    And(Box<Expr>, Box<Expr>),
    Or(Box<Expr>, Box<Expr>),
    Call(Call),
}

/// A helper call.
#[derive(Clone, PartialEq, Eq, Debug)]
pub enum Call {
    Now,
    Count {
        counter: u32,
        delta: Option<Box<Expr>>,
    },
    /// `copy` (no seed, `csum` false) or `copy_csum`.
    Copy {
        region: u32,
        region_off: Box<Expr>,
        pkt_off: Box<Expr>,
        len: Box<Expr>,
        csum: bool,
        seed: Option<Box<Expr>>,
    },
    Send {
        region: u32,
        len: Box<Expr>,
    },
    Wake,
    Checksum {
        region: u32,
        off: Box<Expr>,
        /// The largest value `off` can have (known statically).
        off_max: u64,
        len: Box<Expr>,
        seed: Option<Box<Expr>>,
    },
}

/// Something a statement stores to.
#[derive(Clone, PartialEq, Eq, Debug)]
pub enum Place {
    Var(VarId),
    Field {
        region: u32,
        layer: Layer,
        field: &'static Field,
    },
    Raw {
        region: u32,
        layer: Option<Layer>,
        off: Expr,
        size: u8,
    },
    Elem {
        region: u32,
        elem: u8,
        index: Expr,
    },
}

#[derive(Clone, PartialEq, Eq, Debug)]
pub enum Stmt {
    /// A new variable (its scope ends with the enclosing block).
    Let(VarId, Expr),
    Assign {
        place: Place,
        op: Option<BinOp>,
        value: Expr,
        span: Span,
    },
    If(Expr, Vec<Stmt>, Vec<Stmt>),
    For {
        var: VarId,
        start: u64,
        end: u64,
        body: Vec<Stmt>,
        span: Span,
    },
    Break(Span),
    Continue(Span),
    Return(u64, Span),
    Eval(Expr),
}

/// A region as code generation needs it.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct RegionInfo {
    /// Size in bytes.
    pub size: u32,
    /// Element size: 1 for bytes regions, else 2, 4 or 8.
    pub elem: u8,
    pub writable: bool,
}

/// A checked handler.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Handler {
    pub body: Vec<Stmt>,
    pub span: Span,
    pub regions: Vec<RegionInfo>,
    pub counters: u32,
    /// Number of variables.
    pub vars: u32,
    /// The verdict when the handler cannot complete.
    pub fallback: u64,
}
