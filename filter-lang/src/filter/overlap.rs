//! Overlap detection: could one frame match two filters?
//!
//! Every comparison atom constrains some bits of some bytes *relative to its
//! base*. The base of an atom is named symbolically by the chain of shift
//! atoms before it (the empty chain is the frame start). Two filters
//! overlap unless their constraints contradict: some bit of the same byte,
//! at the same symbolic base, is required to be 0 by one and 1 by the other
//! (or one filter contradicts itself).
//!
//! * **Exact** when no atom of either filter follows a shift (all bytes are
//!   at absolute offsets): the frame that sets exactly the constrained bits
//!   matches both, unless a field ends past 65,535 bytes (then the filter
//!   matches nothing and overlaps nothing).
//! * **Conservative** otherwise: bytes at different symbolic bases (say, 20
//!   bytes into the frame and 6 bytes after a variable IPv4 header) may be
//!   the same byte of some frame, so their constraints are not compared;
//!   such pairs are reported as "may overlap" unless a contradiction shows
//!   up at a common base. A reported non-overlap is always true.

use super::atom::{Atom, FieldWidth, Filter};
use alloc::vec::Vec;

/// Largest frame the classifier is defined for.
pub const MAX_FRAME: usize = 65_535;

/// A shift atom, as part of a symbolic base.
type ShiftKey = (u16, FieldWidth, u32, u8);

/// Bit constraints on bytes, keyed by (symbolic base, offset).
#[derive(Default)]
struct Constraints {
    /// Distinct shift chains seen; index 0 is the empty chain.
    chains: Vec<Vec<ShiftKey>>,
    /// (chain index, byte offset, mask, value).
    bytes: Vec<(usize, usize, u8, u8)>,
}

impl Constraints {
    fn chain_index(&mut self, chain: &[ShiftKey]) -> usize {
        if let Some(i) = self.chains.iter().position(|c| c == chain) {
            return i;
        }
        self.chains.push(chain.to_vec());
        self.chains.len() - 1
    }

    /// Adds a filter's constraints; `false` if they contradict (the filters
    /// added so far can match no common frame).
    fn add(&mut self, filter: &Filter) -> bool {
        if self.chains.is_empty() {
            self.chains.push(Vec::new());
        }
        let mut chain: Vec<ShiftKey> = Vec::new();
        let mut ci = 0usize;
        for atom in filter.atoms() {
            match *atom {
                Atom::Shift {
                    off,
                    width,
                    mask,
                    shift,
                } => {
                    chain.push((off, width, mask, shift));
                    ci = self.chain_index(&chain);
                }
                Atom::Cmp {
                    off,
                    width,
                    mask,
                    value,
                } => {
                    let w = width.bytes();
                    if ci == 0 && off as usize + w > MAX_FRAME {
                        return false;
                    }
                    for i in 0..w {
                        let sh = 8 * (w - 1 - i);
                        let m = (mask >> sh) as u8;
                        let v = (value >> sh) as u8;
                        if m == 0 {
                            continue;
                        }
                        let pos = off as usize + i;
                        match self
                            .bytes
                            .iter_mut()
                            .find(|(c, p, _, _)| *c == ci && *p == pos)
                        {
                            Some((_, _, m0, v0)) => {
                                if (*v0 ^ v) & (*m0 & m) != 0 {
                                    return false;
                                }
                                *v0 |= v;
                                *m0 |= m;
                            }
                            None => self.bytes.push((ci, pos, m, v)),
                        }
                    }
                }
            }
        }
        true
    }
}

/// Whether some frame may match both filters (see the module documentation
/// for when this is exact and when it is conservative).
pub fn may_overlap(a: &Filter, b: &Filter) -> bool {
    let mut c = Constraints::default();
    c.add(a) && c.add(b)
}

/// Whether a filter can match no frame at all, as far as its comparisons
/// show (exact for filters without shift atoms).
pub fn is_unsatisfiable(f: &Filter) -> bool {
    !Constraints::default().add(f)
}

impl super::trie::Classifier {
    /// The installed filters that may match some frame `filter` matches,
    /// ascending by id (exact or conservative as described in
    /// [`may_overlap`]). A kernel policy uses this to refuse a filter that
    /// would take packets another environment's filter claims.
    pub fn conflicts(&self, filter: &Filter) -> Vec<super::trie::FilterId> {
        if is_unsatisfiable(filter) {
            return Vec::new();
        }
        self.filters()
            .into_iter()
            .filter(|(_, f, _)| may_overlap(filter, f))
            .map(|(id, _, _)| id)
            .collect()
    }
}
