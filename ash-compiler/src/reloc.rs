//! Relocations: the few places in compiled code that need absolute
//! addresses known only once the caller has placed the code.

use alloc::vec::Vec;
use core::fmt;

/// What a relocation refers to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RelocTarget {
    /// The helper-call trampoline, [`crate::runtime::helper_trampoline`]
    /// (or a kernel-side function with the same signature and contract).
    HelperTrampoline,
}

/// How the address is written.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RelocKind {
    /// An absolute 64-bit little-endian address (the `imm64` of `movabs`).
    Abs64,
}

/// One fix-up: write `target`'s address at `offset` in the code.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Relocation {
    /// Byte offset in the code buffer.
    pub offset: usize,
    /// Encoding of the address.
    pub kind: RelocKind,
    /// What to point at.
    pub target: RelocTarget,
}

/// A relocation that cannot be applied.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RelocError {
    /// The relocation's bytes lie outside the code buffer (the buffer is not
    /// the one the relocations were produced for).
    OutOfBounds { offset: usize, len: usize },
}

impl fmt::Display for RelocError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            RelocError::OutOfBounds { offset, len } => write!(
                f,
                "relocation at offset {offset} lies outside the {len}-byte code buffer; apply relocations to the code they came with"
            ),
        }
    }
}

/// Applies `relocs` to `code` (a copy of the compiled code at its final
/// place), asking `resolve` for each target's address.
pub fn apply(
    code: &mut [u8],
    relocs: &[Relocation],
    mut resolve: impl FnMut(RelocTarget) -> u64,
) -> Result<(), RelocError> {
    for r in relocs {
        match r.kind {
            RelocKind::Abs64 => {
                let len = code.len();
                let bytes = code.get_mut(r.offset..r.offset.wrapping_add(8)).ok_or(
                    RelocError::OutOfBounds {
                        offset: r.offset,
                        len,
                    },
                )?;
                bytes.copy_from_slice(&resolve(r.target).to_le_bytes());
            }
        }
    }
    Ok(())
}

/// The distinct targets a relocation list needs.
pub fn targets(relocs: &[Relocation]) -> Vec<RelocTarget> {
    let mut t: Vec<RelocTarget> = Vec::new();
    for r in relocs {
        if !t.contains(&r.target) {
            t.push(r.target);
        }
    }
    t
}
