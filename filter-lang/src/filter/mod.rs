//! DPF-style demultiplexing filters (Engler and Kaashoek, SIGCOMM 1996).
//!
//! * [`atom`]: [`Atom`]s and [`Filter`]s (conjunctions of atoms) and their
//!   reference semantics.
//! * [`wire`]: the binary form the kernel ABI accepts.
//! * [`trie`]: the merged [`Classifier`] (insert, remove, classify) with
//!   hash dispatch of equal-shape comparisons; its node structure is public
//!   for code generators.
//! * [`overlap`]: conflict detection between filters.
//! * [`reference`]: one-by-one classification, the definition the trie and
//!   the JIT are tested against.
//!
//! Filters are declarative on purpose: the kernel can merge them, find the
//! common prefixes, and dispatch 10,000 connections through one hash lookup.

pub mod atom;
pub mod overlap;
pub mod reference;
pub mod trie;
pub mod wire;

pub use atom::{Atom, CmpShape, FieldWidth, Filter, FilterError, MAX_ATOMS, MAX_SHIFT};
pub use overlap::may_overlap;
pub use reference::classify_one_by_one;
pub use trie::{Classifier, CmpGroup, FilterId, Hit, InsertError, Node, NodeId, ShiftEdge};
