//! A program as engines receive it: instruction words plus, optionally, where
//! each word came from in its source (an assembly or handler-language line),
//! so errors can point at the source.

use super::insn::Insn;
use alloc::vec::Vec;
use core::fmt;

/// A position in a program's source text (1-based line and column).
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
pub struct Span {
    pub line: u32,
    pub col: u32,
}

impl fmt::Display for Span {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}, column {}", self.line, self.col)
    }
}

/// Instruction words with an optional source span per word.
#[derive(Clone, PartialEq, Eq, Debug, Default)]
pub struct Program {
    /// The instruction words (`lddw` takes two).
    pub words: Vec<Insn>,
    /// `spans[pc]` is the source of word `pc`, when known. Either empty (no
    /// source information) or exactly as long as `words`.
    pub spans: Vec<Option<Span>>,
}

impl Program {
    /// A program without source information.
    pub fn from_words(words: Vec<Insn>) -> Self {
        Program {
            words,
            spans: Vec::new(),
        }
    }

    /// The source span of word `pc`, if recorded.
    pub fn span(&self, pc: usize) -> Option<Span> {
        self.spans.get(pc).copied().flatten()
    }
}
