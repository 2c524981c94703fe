//! The syntax tree of a source file, as parsed (names not yet resolved).

use super::error::Span;
use alloc::boxed::Box;
use alloc::string::String;
use alloc::vec::Vec;

/// A name and where it is written.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Ident {
    pub name: String,
    pub span: Span,
}

/// A verdict name.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Verdict {
    /// The handler dealt with the frame; the kernel drops it.
    Consume,
    /// The frame also goes to the owner's receive ring.
    Deliver,
}

impl Verdict {
    /// The `packet` program's r0 for this verdict.
    pub fn code(self) -> u64 {
        match self {
            Verdict::Consume => crate::bpf::spec::verdict::CONSUMED,
            Verdict::Deliver => crate::bpf::spec::verdict::DELIVER,
        }
    }
}

/// Element type of a region.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum RegionType {
    /// Raw bytes, read and written in network byte order by `[off:size]`
    /// and by protocol field names (a frame being built).
    Bytes,
    /// An array of native (little-endian) 16-, 32- or 64-bit integers.
    Array { elem: u8 },
}

/// A top-level item.
#[derive(Clone, PartialEq, Eq, Debug)]
pub enum Item {
    /// `filter "pcap-filter expression"`; `text_span` covers the text inside
    /// the quotes.
    Filter { text: String, text_span: Span },
    /// `region NAME: bytes[N] [writable]` or `region NAME: u64[N] ...`.
    Region {
        name: Ident,
        ty: RegionType,
        len: u64,
        len_span: Span,
        writable: bool,
    },
    /// `counter a, b, c`.
    Counter(Vec<Ident>),
    /// `const NAME = expr`.
    Const { name: Ident, value: Expr },
    /// `fallback deliver|consume`.
    Fallback { verdict: Verdict, span: Span },
    /// `handler { ... }`.
    Handler { body: Block, span: Span },
}

/// A `{ ... }` block.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Block {
    pub stmts: Vec<Stmt>,
    pub span: Span,
}

/// Compound assignment operators (`+=` and friends).
pub type AssignOp = Option<BinOp>;

/// A statement.
#[derive(Clone, PartialEq, Eq, Debug)]
pub enum Stmt {
    Let {
        name: Ident,
        value: Expr,
    },
    Assign {
        target: Expr,
        op: AssignOp,
        value: Expr,
        span: Span,
    },
    If {
        cond: Expr,
        then: Block,
        els: Option<Block>,
        span: Span,
    },
    For {
        var: Ident,
        start: Expr,
        end: Expr,
        body: Block,
        span: Span,
    },
    Break(Span),
    Continue(Span),
    Return(Verdict, Span),
    Expr(Expr),
}

impl Stmt {
    pub fn span(&self) -> Span {
        match self {
            Stmt::Let { name, value } => name.span.to(value.span),
            Stmt::Assign { span, .. }
            | Stmt::If { span, .. }
            | Stmt::For { span, .. }
            | Stmt::Break(span)
            | Stmt::Continue(span)
            | Stmt::Return(_, span) => *span,
            Stmt::Expr(e) => e.span,
        }
    }
}

/// Binary operators.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum BinOp {
    Add,
    Sub,
    Mul,
    Div,
    Mod,
    And,
    Or,
    Xor,
    Shl,
    Shr,
}

/// Comparisons.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum CmpOp {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

/// An expression.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Expr {
    pub kind: ExprKind,
    pub span: Span,
}

#[derive(Clone, PartialEq, Eq, Debug)]
pub enum ExprKind {
    Num(u64),
    Bool(bool),
    Name(String),
    /// `base.name`.
    Field(Box<Expr>, Ident),
    /// `base[index]` or `base[off:size]`.
    Index {
        base: Box<Expr>,
        index: Box<Expr>,
        size: Option<(u64, Span)>,
    },
    Call(Ident, Vec<Expr>),
    Not(Box<Expr>),
    Binary(BinOp, Box<Expr>, Box<Expr>),
    Cmp(CmpOp, Box<Expr>, Box<Expr>),
    AndAlso(Box<Expr>, Box<Expr>),
    OrElse(Box<Expr>, Box<Expr>),
}
