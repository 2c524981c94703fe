//! The reference classifier: every filter checked one by one.
//!
//! This is the definition the merged trie (and the JIT compiled from it) must
//! agree with exactly: among the filters that match, most atoms wins, then
//! the smallest (earliest inserted) id.

use super::atom::Filter;
use super::trie::{FilterId, Hit};

/// Classifies `frame` against `(id, filter, owner)` triples one by one.
pub fn classify_one_by_one<'a, I>(filters: I, frame: &[u8]) -> Option<Hit>
where
    I: IntoIterator<Item = (FilterId, &'a Filter, u32)>,
{
    let mut best: Option<(usize, Hit)> = None;
    for (id, f, owner) in filters {
        if !f.matches(frame) {
            continue;
        }
        let better = match best {
            None => true,
            Some((n, b)) => f.len() > n || (f.len() == n && id < b.id),
        };
        if better {
            best = Some((f.len(), Hit { id, owner }));
        }
    }
    best.map(|(_, h)| h)
}
