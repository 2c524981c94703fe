//! Compilation of a [`Cfg`] to a disjunction of atom [`Filter`]s.
//!
//! Every path from the entry to *accept* is a conjunction of field tests
//! (`field ∈ set`); the frames that match are exactly the union over paths
//! of the frames that satisfy the path's tests with every field inside the
//! frame, which is what a filter's atoms check (a field outside the frame
//! fails the atom). So the translation is exact, including libpcap's
//! "an out-of-bounds load rejects" rule. Three steps keep it small:
//!
//! 1. *Relaxation*: on a branch whose sibling goes straight to accept, the
//!    test's constraint is dropped (only its bounds remain): a frame that
//!    takes the sibling is accepted anyway.
//! 2. *Merging*: paths that differ in one field's set are joined, and a path
//!    implied by another is dropped.
//! 3. *Prefix expansion*: a set becomes masked-prefix atoms (a range
//!    `[lo, hi]` needs at most 62); a path becomes the cross product.
//!
//! Paths through a computed relation ([`Test::Rel`]) cannot be expressed,
//! nor can results above [`MAX_FILTERS`] filters: then the caller compiles
//! to bytecode instead.

use super::cfg::{Base, Cfg, Field, IHL_OFF, Next, Test};
use super::ranges::RangeSet;
use crate::filter::{Atom, FieldWidth, Filter};
use alloc::vec::Vec;
use core::fmt;

/// Most filters one expression may compile to.
pub const MAX_FILTERS: usize = 256;
/// Most accept paths explored before giving up.
pub const MAX_PATHS: usize = 4096;

/// Why an expression has no atom form.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum AtomError {
    /// It computes values (arithmetic, `len`, variable offsets).
    Computed,
    /// It has more than [`MAX_PATHS`] accept paths.
    TooManyPaths,
    /// It needs more than [`MAX_FILTERS`] filters.
    TooManyFilters,
}

impl fmt::Display for AtomError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AtomError::Computed => {
                f.write_str("it computes values (arithmetic, len or a variable offset)")
            }
            AtomError::TooManyPaths => write!(f, "it has more than {MAX_PATHS} accept paths"),
            AtomError::TooManyFilters => write!(f, "it needs more than {MAX_FILTERS} filters"),
        }
    }
}

type Conj = Vec<(Field, RangeSet)>;

/// Compiles `cfg` to filters whose disjunction matches exactly the frames
/// `cfg` accepts (for frames up to 65,535 bytes).
pub fn to_filters(cfg: &Cfg) -> Result<Vec<Filter>, AtomError> {
    if !cfg.is_field_only() {
        return Err(AtomError::Computed);
    }
    let mut paths = Vec::new();
    let mut budget = MAX_PATHS;
    walk(cfg, cfg.entry, Vec::new(), &mut paths, &mut budget)?;
    let paths = simplify(paths);
    let mut out: Vec<Filter> = Vec::new();
    for c in &paths {
        expand(c, &mut out)?;
    }
    let mut unique: Vec<Filter> = Vec::with_capacity(out.len());
    for f in out {
        if !unique.contains(&f) {
            unique.push(f);
        }
    }
    Ok(unique)
}

fn walk(
    cfg: &Cfg,
    at: Next,
    conj: Conj,
    out: &mut Vec<Conj>,
    budget: &mut usize,
) -> Result<(), AtomError> {
    let i = match at {
        Next::Accept => {
            out.push(conj);
            return Ok(());
        }
        Next::Reject => return Ok(()),
        Next::Node(i) => i,
    };
    let node = &cfg.nodes[i];
    let Test::Field { field, set } = &node.test else {
        return Err(AtomError::Computed);
    };
    let branches = [
        (node.yes, set.clone(), node.no),
        (node.no, set.complement(), node.yes),
    ];
    for (next, s, other) in branches {
        if next == Next::Reject {
            continue;
        }
        let s = if other == Next::Accept {
            RangeSet::full()
        } else {
            s
        };
        let mut c = conj.clone();
        match c.iter_mut().find(|(f, _)| f == field) {
            Some(e) => e.1 = e.1.intersect(&s),
            None => c.push((*field, s)),
        }
        if c.iter().any(|(_, s)| s.is_empty()) {
            continue;
        }
        *budget = budget.checked_sub(1).ok_or(AtomError::TooManyPaths)?;
        walk(cfg, next, c, out, budget)?;
    }
    Ok(())
}

fn set_of<'a>(c: &'a Conj, f: &Field) -> Option<&'a RangeSet> {
    c.iter().find(|(g, _)| g == f).map(|(_, s)| s)
}

/// Whether every frame satisfying `a` satisfies `b`.
fn implies(a: &Conj, b: &Conj) -> bool {
    b.iter()
        .all(|(f, sb)| set_of(a, f).is_some_and(|sa| sa.is_subset(sb)))
}

fn simplify(mut paths: Vec<Conj>) -> Vec<Conj> {
    // Merge pairs that differ in exactly one field's set.
    'again: loop {
        for i in 0..paths.len() {
            for j in i + 1..paths.len() {
                let (a, b) = (&paths[i], &paths[j]);
                if a.len() != b.len() || !a.iter().all(|(f, _)| set_of(b, f).is_some()) {
                    continue;
                }
                let diff: Vec<&Field> = a
                    .iter()
                    .filter(|(f, s)| set_of(b, f) != Some(s))
                    .map(|(f, _)| f)
                    .collect();
                if diff.len() == 1 {
                    let f = *diff[0];
                    let u = set_of(a, &f)
                        .unwrap_or(&RangeSet::empty())
                        .union(set_of(b, &f).unwrap_or(&RangeSet::empty()));
                    let mut merged = paths[i].clone();
                    if let Some(e) = merged.iter_mut().find(|(g, _)| *g == f) {
                        e.1 = u;
                    }
                    paths[i] = merged;
                    paths.swap_remove(j);
                    continue 'again;
                }
            }
        }
        break;
    }
    // Drop paths implied by another.
    let mut keep: Vec<Conj> = Vec::new();
    for (i, p) in paths.iter().enumerate() {
        let redundant = paths
            .iter()
            .enumerate()
            .any(|(j, q)| j != i && implies(p, q) && (!implies(q, p) || j < i));
        if !redundant {
            keep.push(p.clone());
        }
    }
    keep
}

/// The `(mask, value)` atoms for `field ∈ set`; `[(0, 0)]` (a bounds check)
/// for the full set; empty when no value of the field is in the set.
fn atoms_for(field: &Field, set: &RangeSet) -> Vec<(u32, u32)> {
    if set.is_full() {
        return alloc::vec![(0, 0)];
    }
    let mut out: Vec<(u32, u32)> = Vec::new();
    for (pm, pv) in set.prefixes() {
        let m = field.mask & pm;
        if pv & !m != 0 {
            continue;
        }
        if !out.contains(&(m, pv)) {
            out.push((m, pv));
        }
    }
    // A (0, 0) atom subsumes every other.
    if out.contains(&(0, 0)) {
        return alloc::vec![(0, 0)];
    }
    out
}

fn field_end(f: &Field) -> usize {
    f.off as usize + f.width.bytes()
}

fn expand(c: &Conj, out: &mut Vec<Filter>) -> Result<(), AtomError> {
    let mut fields: Vec<(Field, Vec<(u32, u32)>)> = Vec::new();
    for (f, s) in c {
        let a = atoms_for(f, s);
        if a.is_empty() {
            return Ok(());
        }
        fields.push((*f, a));
    }
    // Bounds-only atoms implied by a field that reaches at least as far.
    let has_ihl = fields.iter().any(|(f, _)| f.base == Base::Ihl);
    let snapshot: Vec<(Field, bool)> = fields
        .iter()
        .map(|(f, a)| (*f, a.as_slice() == [(0, 0)]))
        .collect();
    fields.retain(|(f, a)| {
        if a.as_slice() != [(0, 0)] {
            return true;
        }
        let covered = snapshot.iter().any(|(g, bounds_only)| {
            g != f
                && g.base == f.base
                && field_end(g) >= field_end(f)
                && (!bounds_only || field_end(g) > field_end(f) || g < f)
        });
        let covered_by_shift =
            f.base == Base::Abs && has_ihl && field_end(f) <= IHL_OFF as usize + 1;
        !(covered || covered_by_shift)
    });
    fields.sort_by_key(|(f, _)| *f);
    let mut partial: Vec<Vec<Atom>> = alloc::vec![Vec::new()];
    let mut shifted = false;
    for (f, alts) in &fields {
        if f.base == Base::Ihl && !shifted {
            shifted = true;
            for p in &mut partial {
                p.push(Atom::Shift {
                    off: IHL_OFF,
                    width: FieldWidth::B1,
                    mask: 0x0f,
                    shift: 2,
                });
            }
        }
        if partial.len() * alts.len() > MAX_FILTERS {
            return Err(AtomError::TooManyFilters);
        }
        let mut next = Vec::with_capacity(partial.len() * alts.len());
        for p in &partial {
            for &(mask, value) in alts {
                let mut q = p.clone();
                q.push(Atom::Cmp {
                    off: f.off,
                    width: f.width,
                    mask,
                    value,
                });
                next.push(q);
            }
        }
        partial = next;
    }
    if out.len() + partial.len() > MAX_FILTERS {
        return Err(AtomError::TooManyFilters);
    }
    for atoms in partial {
        // Atoms built here are valid by construction (value within mask,
        // mask within width, at most one shift); too many atoms cannot
        // occur for pcap paths but is still reported, not unwrapped.
        let f = Filter::new(atoms).map_err(|_| AtomError::TooManyFilters)?;
        out.push(f);
    }
    Ok(())
}
