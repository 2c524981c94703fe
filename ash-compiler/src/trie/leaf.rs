//! Data-driven leaf tables: DPF's answer to "10,000 connections that differ
//! only in a port".
//!
//! A comparison group whose children are all leaves (they accept filters and
//! continue nowhere) and that has more than [`super::TrieOptions::linear_max`]
//! values is not compiled to per-leaf code: its values and the winning
//! `(id, owner)` of each leaf live in a [`LeafTable`] in ordinary read-write
//! memory, which the code searches (open addressing, linear probing, load
//! factor at most 1/2) through a [`TableHeader`]. Installing or removing a
//! filter that only adds or removes such a leaf then changes data, not code:
//! [`LeafTables::insert_in_place`] / [`LeafTables::remove_in_place`].
//! Code stays read-execute and never changes (W^X); a table that grows is
//! reallocated and its header updated.

use alloc::collections::BTreeMap;
use alloc::vec;
use alloc::vec::Vec;
use filter_lang::filter::{Atom, Classifier, CmpShape, Filter, FilterId, Node, NodeId};

/// The hash multiplier (Fibonacci hashing spreads runs of consecutive
/// values, such as port ranges, without collisions).
pub const MULT: u32 = 0x9e37_79b1;

/// Slot states.
const EMPTY: u32 = 0;
const FULL: u32 = 1;
const TOMBSTONE: u32 = 2;

/// One slot, as the generated code reads it.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Slot {
    pub key: u32,
    pub id: u32,
    pub owner: u32,
    pub state: u32,
}

/// Where a table is, as the generated code reads it (`headers[k]` at
/// `16 * k` from the pointer passed as the fourth argument).
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TableHeader {
    /// Address of the first [`Slot`].
    pub slots: u64,
    /// Slot count - 1 (the count is a power of two).
    pub mask: u32,
    /// `32 - log2(slot count)`: the hash is `(v * MULT) >> shift`.
    pub shift: u32,
}

/// Byte offsets of [`TableHeader`] and [`Slot`] fields used by the code.
pub mod layout {
    pub const HEADER_SIZE: i32 = 16;
    pub const HEADER_SLOTS: i32 = 0;
    pub const HEADER_MASK: i32 = 8;
    pub const HEADER_SHIFT: i32 = 12;
    pub const SLOT_SIZE_LOG2: u8 = 4;
    pub const SLOT_KEY: i32 = 0;
    pub const SLOT_ID: i32 = 4;
    pub const SLOT_OWNER: i32 = 8;
    pub const SLOT_STATE: i32 = 12;
}

const _: () = {
    assert!(core::mem::size_of::<Slot>() == 1 << layout::SLOT_SIZE_LOG2);
    assert!(core::mem::size_of::<TableHeader>() == layout::HEADER_SIZE as usize);
    assert!(core::mem::offset_of!(TableHeader, mask) == layout::HEADER_MASK as usize);
    assert!(core::mem::offset_of!(TableHeader, shift) == layout::HEADER_SHIFT as usize);
    assert!(core::mem::offset_of!(Slot, state) == layout::SLOT_STATE as usize);
};

/// One leaf table.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LeafTable {
    slots: Vec<Slot>,
    full: usize,
    tombstones: usize,
}

impl LeafTable {
    /// A table for `entries` (`(key, id, owner)`, distinct keys).
    pub fn new(entries: &[(u32, u32, u32)]) -> LeafTable {
        let mut t = LeafTable::with_capacity(entries.len());
        for &(k, id, owner) in entries {
            t.upsert(k, id, owner);
        }
        t
    }

    fn with_capacity(n: usize) -> LeafTable {
        let slots = (2 * n.max(4)).next_power_of_two();
        LeafTable {
            slots: vec![Slot::default(); slots],
            full: 0,
            tombstones: 0,
        }
    }

    fn bits(&self) -> u32 {
        self.slots.len().trailing_zeros()
    }

    fn home(&self, key: u32) -> usize {
        (key.wrapping_mul(MULT) >> (32 - self.bits())) as usize
    }

    fn find(&self, key: u32) -> Option<usize> {
        let mask = self.slots.len() - 1;
        let mut i = self.home(key);
        loop {
            let s = &self.slots[i];
            match s.state {
                EMPTY => return None,
                FULL if s.key == key => return Some(i),
                _ => i = (i + 1) & mask,
            }
        }
    }

    /// The `(id, owner)` stored for `key`.
    pub fn get(&self, key: u32) -> Option<(u32, u32)> {
        self.find(key)
            .map(|i| (self.slots[i].id, self.slots[i].owner))
    }

    /// Inserts or updates `key`. Keeps at least half of the slots empty,
    /// growing (rehashing) when needed.
    pub fn upsert(&mut self, key: u32, id: u32, owner: u32) {
        if let Some(i) = self.find(key) {
            self.slots[i].id = id;
            self.slots[i].owner = owner;
            return;
        }
        if 2 * (self.full + self.tombstones + 1) > self.slots.len() {
            let live: Vec<Slot> = self
                .slots
                .iter()
                .copied()
                .filter(|s| s.state == FULL)
                .collect();
            *self = LeafTable::with_capacity(live.len() + 1);
            for s in live {
                self.place(s.key, s.id, s.owner);
            }
        }
        self.place(key, id, owner);
    }

    fn place(&mut self, key: u32, id: u32, owner: u32) {
        let mask = self.slots.len() - 1;
        let mut i = self.home(key);
        while self.slots[i].state == FULL {
            i = (i + 1) & mask;
        }
        if self.slots[i].state == TOMBSTONE {
            self.tombstones -= 1;
        }
        self.slots[i] = Slot {
            key,
            id,
            owner,
            state: FULL,
        };
        self.full += 1;
    }

    /// Removes `key`; returns whether it was there.
    pub fn remove(&mut self, key: u32) -> bool {
        match self.find(key) {
            Some(i) => {
                self.slots[i].state = TOMBSTONE;
                self.full -= 1;
                self.tombstones += 1;
                true
            }
            None => false,
        }
    }

    /// Number of keys.
    pub fn len(&self) -> usize {
        self.full
    }

    /// Whether the table holds no key.
    pub fn is_empty(&self) -> bool {
        self.full == 0
    }

    /// The header the code reads.
    pub fn header(&self) -> TableHeader {
        TableHeader {
            slots: self.slots.as_ptr() as u64,
            mask: (self.slots.len() - 1) as u32,
            shift: 32 - self.bits(),
        }
    }

    /// Bytes of slot memory.
    pub fn bytes(&self) -> usize {
        self.slots.len() * core::mem::size_of::<Slot>()
    }
}

/// All leaf tables of one compiled classifier, with what is needed to keep
/// them in step with the classifier.
#[derive(Clone, Debug, Default)]
pub struct LeafTables {
    tables: Vec<LeafTable>,
    headers: Vec<TableHeader>,
    /// Which table serves the group of `shape` at node `parent`.
    index: BTreeMap<(NodeId, CmpShape), usize>,
    /// The `max_depth` each node's prune check was compiled with.
    max_depth: BTreeMap<NodeId, u16>,
}

/// The node path of `filter`'s atoms from the root, as far as it exists.
fn path(c: &Classifier, filter: &Filter) -> Vec<NodeId> {
    let mut out = vec![c.root()];
    let mut cur = c.root();
    for a in filter.atoms() {
        let n = c.node(cur);
        let next = match *a {
            Atom::Cmp { .. } => {
                let (shape, value) = a.cmp_shape().unwrap_or_else(|| unreachable!());
                n.cmp_groups()
                    .iter()
                    .find(|g| g.shape() == shape)
                    .and_then(|g| g.get(value))
            }
            Atom::Shift {
                off,
                width,
                mask,
                shift,
            } => n
                .shifts()
                .iter()
                .find(|s| s.off == off && s.width == width && s.mask == mask && s.shift == shift)
                .map(|s| s.child),
        };
        match next {
            Some(nx) => {
                out.push(nx);
                cur = nx;
            }
            None => break,
        }
    }
    out
}

/// Whether `n` accepts and continues nowhere.
pub fn is_leaf(n: &Node) -> bool {
    !n.accepts().is_empty() && n.cmp_groups().is_empty() && n.shifts().is_empty()
}

impl LeafTables {
    /// Registers a table built at compile time; returns its index.
    pub(super) fn add(&mut self, parent: NodeId, shape: CmpShape, table: LeafTable) -> usize {
        let k = self.tables.len();
        self.headers.push(table.header());
        self.tables.push(table);
        self.index.insert((parent, shape), k);
        k
    }

    /// Records the max depth a node's prune check was compiled with.
    pub(super) fn note_max_depth(&mut self, n: NodeId, d: u16) {
        self.max_depth.insert(n, d);
    }

    /// The header array to pass to the compiled code.
    pub fn headers(&self) -> *const TableHeader {
        self.headers.as_ptr()
    }

    /// Number of tables.
    pub fn len(&self) -> usize {
        self.tables.len()
    }

    /// Whether there are no tables.
    pub fn is_empty(&self) -> bool {
        self.tables.is_empty()
    }

    /// Bytes of slot memory in all tables.
    pub fn bytes(&self) -> usize {
        self.tables.iter().map(LeafTable::bytes).sum()
    }

    fn sync(&mut self, k: usize) {
        self.headers[k] = self.tables[k].header();
    }

    /// Brings the tables up to date after `c.insert(..)` returned `id`,
    /// when the new filter only adds (or joins) a leaf of a table group and
    /// no compiled prune bound became too small. Returns `false` when the
    /// code must be recompiled instead.
    pub fn insert_in_place(&mut self, c: &Classifier, id: FilterId) -> bool {
        let Some(filter) = c.filter(id) else {
            return false;
        };
        let Some(Atom::Cmp { .. }) = filter.atoms().last() else {
            return false;
        };
        let p = path(c, filter);
        if p.len() != filter.len() + 1 || p.len() < 2 {
            return false;
        }
        // A deeper filter than the compiled prune checks assumed.
        for &n in &p[..p.len() - 1] {
            if let Some(&d) = self.max_depth.get(&n)
                && c.node(n).max_depth() > d
            {
                return false;
            }
        }
        let (parent, leaf) = (p[p.len() - 2], p[p.len() - 1]);
        let (shape, value) = filter.atoms()[filter.len() - 1]
            .cmp_shape()
            .unwrap_or_else(|| unreachable!());
        let Some(&k) = self.index.get(&(parent, shape)) else {
            return false;
        };
        let n = c.node(leaf);
        if !is_leaf(n) {
            return false;
        }
        let h = n.accepts()[0];
        self.tables[k].upsert(value, h.id.0, h.owner);
        self.sync(k);
        true
    }

    /// Brings the tables up to date after `c.remove(..)` removed `filter`,
    /// when it was a leaf of a table group that keeps other leaves. Returns
    /// `false` when the code must be recompiled instead.
    pub fn remove_in_place(&mut self, c: &Classifier, filter: &Filter) -> bool {
        let Some(Atom::Cmp { .. }) = filter.atoms().last() else {
            return false;
        };
        let p = path(c, filter);
        if p.len() < filter.len() {
            return false;
        }
        let parent = p[filter.len() - 1];
        let (shape, value) = filter.atoms()[filter.len() - 1]
            .cmp_shape()
            .unwrap_or_else(|| unreachable!());
        let Some(&k) = self.index.get(&(parent, shape)) else {
            return false;
        };
        match p.get(filter.len()) {
            // Identical filters remain: the first of them wins now.
            Some(&leaf) if is_leaf(c.node(leaf)) => {
                let h = c.node(leaf).accepts()[0];
                self.tables[k].upsert(value, h.id.0, h.owner);
            }
            Some(_) => return false,
            None => {
                if !self.tables[k].remove(value) || self.tables[k].is_empty() {
                    // An emptied group may be pruned from the trie and its
                    // node reused: rebuild instead.
                    return false;
                }
            }
        }
        self.sync(k);
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn upsert_remove_grow_keep_lookups_right() {
        let mut t = LeafTable::new(&[(1, 10, 100), (2, 20, 200)]);
        for k in 3..1000u32 {
            t.upsert(k, k * 10, k * 100);
        }
        for k in (1..1000u32).step_by(3) {
            assert!(t.remove(k));
        }
        for k in 1..1000u32 {
            let want = (k % 3 != 1).then_some((k * 10, k * 100));
            assert_eq!(t.get(k), want, "key {k}");
        }
        assert!(t.slots.iter().any(|s| s.state == EMPTY));
        assert_eq!(t.len(), 666);
        t.upsert(5, 1, 2);
        assert_eq!(t.get(5), Some((1, 2)));
    }
}
