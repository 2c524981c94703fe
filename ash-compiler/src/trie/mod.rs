//! The filter-trie compiler (DPF's dynamic code generation): a merged
//! [`Classifier`] of filter-lang compiled to native code.
//!
//! Every trie node becomes a block of straight-line code with the atoms'
//! offsets, masks and values as immediates; a node's last branch continues
//! by a jump (by falling through when its only child follows), earlier
//! branches by a call, so a chain of single-child nodes is one run of
//! loads, compares and conditional returns. A comparison group with more
//! than [`TrieOptions::linear_max`] values dispatches through a hash table
//! placed after the code: perfect (one probe) when a multiplier without
//! collisions is found, open addressing otherwise ([`table`]). The code
//! computes exactly [`Classifier::classify`]: the deepest matching filter,
//! the smallest id among equals, with the same pruning.
//!
//! Groups of leaves (many filters that differ only in their last value,
//! e.g. one per connection) are data, not code: [`leaf`] tables in
//! read-write memory that the code searches, so installing or removing such
//! a filter updates a table in place ([`LeafTables::insert_in_place`],
//! [`LeafTables::remove_in_place`]); any other change recompiles
//! ([`compile_trie`] is linear in the trie's size). `bench-demux` reports
//! both costs.
//!
//! Calling convention: `extern "sysv64" fn(frame: *const u8, len: usize,
//! out: *mut [u32; 2], headers: *const TableHeader) -> u32` returning 1 and
//! writing `[id, owner]` on a match, 0 otherwise (see
//! [`crate::runtime::classify`]). Registers: rdi frame, rsi length, rbx base
//! offset, r8 = frame + base, r12d/r13d/r14d best depth/id/owner, r15 the
//! leaf-table headers. Every load from the frame is preceded by an integer
//! bounds check `base + off + width <= len`, so no frame, however short or
//! malformed, makes the code read outside it. The code has no relocations.

pub mod codegen;
pub mod leaf;
pub mod table;

pub use leaf::{LeafTables, TableHeader};

use alloc::vec::Vec;
use core::fmt;
use filter_lang::filter::Classifier;

/// Options for [`compile_trie`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TrieOptions {
    /// Comparison groups with at most this many values use a chain of
    /// compares; larger ones a hash table.
    pub linear_max: usize,
    /// Constant blinding: `Some(seed)` keeps the filters' values and masks
    /// (chosen by whoever installs filters) out of executable memory: each
    /// immediate is rebuilt from two random-looking halves, and the keys of
    /// dispatch tables placed after the code are stored xor a per-table key.
    pub blinding: Option<u64>,
}

impl Default for TrieOptions {
    fn default() -> Self {
        TrieOptions {
            linear_max: 4,
            blinding: None,
        }
    }
}

/// What was generated.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TrieStats {
    pub nodes: usize,
    pub linear_groups: usize,
    pub perfect_groups: usize,
    pub open_groups: usize,
    /// Groups of leaves served by a data table ([`leaf`]).
    pub leaf_groups: usize,
    pub code_bytes: usize,
    /// Dispatch tables placed after the code (read-only with it).
    pub table_bytes: usize,
    /// Leaf tables in read-write memory.
    pub leaf_table_bytes: usize,
}

/// A compiled classifier: code to place in executable memory, and the leaf
/// tables it reads (kept here, in ordinary memory, and updated in place).
#[derive(Debug)]
pub struct CompiledTrie {
    /// Code followed by the dispatch tables; position-independent.
    pub code: Vec<u8>,
    /// Offset of the entry point.
    pub entry: usize,
    pub stats: TrieStats,
    /// The leaf tables; pass [`LeafTables::headers`] to every call.
    pub leaves: LeafTables,
}

/// Why a classifier could not be compiled.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TrieError {
    /// The code would exceed the reach of 32-bit displacements.
    TooLarge,
    /// A node referenced by the trie was not emitted (a classifier
    /// invariant is broken).
    Internal,
}

impl fmt::Display for TrieError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TrieError::TooLarge => write!(f, "the compiled classifier exceeds 2 GiB"),
            TrieError::Internal => write!(
                f,
                "the classifier's trie references a node that is not reachable from its root"
            ),
        }
    }
}

/// Compiles a merged classifier to x86-64.
pub fn compile_trie(c: &Classifier, opts: &TrieOptions) -> Result<CompiledTrie, TrieError> {
    codegen::compile(c, opts)
}
