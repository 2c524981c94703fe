//! pcap-filter, the tcpdump expression language, with tcpdump's meaning.
//!
//! Pipeline: [`lexer`] → [`parser`] (qualifiers resolved into [`ast`]) →
//! [`lower`] (a [`cfg::Cfg`] shaped like libpcap's BPF, with libpcap's
//! semantics, evaluated by [`cfg::Cfg::eval`]) → either
//! * [`atoms`]: a disjunction of DPF [`Filter`]s, when every test is a field
//!   comparison and the result stays small (the kernel merges these into its
//!   classifier), or
//! * [`bytecode`]: a `packet`-type BPF handler program (r0 = 1 match,
//!   0 no match) for everything else (arithmetic, `len`, variable offsets,
//!   expansions above [`atoms::MAX_FILTERS`]).
//!
//! See `docs/DSL.md` for the supported syntax and the exact semantics.

pub mod ast;
pub mod atoms;
pub mod bytecode;
pub mod cfg;
pub mod error;
pub mod lexer;
pub mod lower;
pub mod parser;
pub mod ranges;

pub use error::{Error, ErrorKind, Span};

use crate::bpf::Op;
use crate::filter::Filter;
use alloc::vec::Vec;

/// What an expression compiled to.
#[derive(Clone, PartialEq, Eq, Debug)]
pub enum Target {
    /// Filters whose disjunction is the expression (empty: matches nothing).
    Atoms(Vec<Filter>),
    /// A `packet` handler program returning 1 (match) or 0.
    Bytecode {
        ops: Vec<Op>,
        /// Why atoms could not express the expression.
        reason: atoms::AtomError,
    },
}

/// A compiled expression.
#[derive(Clone, Debug)]
pub struct Compiled {
    pub expr: ast::Expr,
    pub cfg: cfg::Cfg,
    pub target: Target,
}

/// Parses and compiles a pcap-filter expression.
pub fn compile(src: &str) -> Result<Compiled, Error> {
    let expr = parser::parse(src)?;
    let cfg = lower::lower(&expr);
    let target = match atoms::to_filters(&cfg) {
        Ok(f) => Target::Atoms(f),
        Err(reason) => Target::Bytecode {
            ops: bytecode::emit(&cfg).map_err(
                |bytecode::BytecodeError::TooLarge { words, max }| {
                    Error::new(ErrorKind::TooLong { words, max }, Span::new(0, src.len()))
                },
            )?,
            reason,
        },
    };
    Ok(Compiled { expr, cfg, target })
}

impl Compiled {
    /// Whether the compiled atoms match `frame` (the captured bytes), for the
    /// atom target; `None` for the bytecode target (run it with
    /// [`bytecode::run`]).
    pub fn atoms_match(&self, frame: &[u8]) -> Option<bool> {
        match &self.target {
            Target::Atoms(fs) => Some(fs.iter().any(|f| f.matches(frame))),
            Target::Bytecode { .. } => None,
        }
    }
}
