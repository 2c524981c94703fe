//! Code generation for a merged classifier (see the module documentation of
//! [`super`] for the register use and the calling convention).

use super::leaf::{self, LeafTable, LeafTables, layout};
use super::table::{self, Table, TableKind};
use super::{CompiledTrie, TrieError, TrieOptions, TrieStats};
use crate::handler::blind::KeyStream;
use crate::x86::{AluRR, Asm, Cond, Mem, OpSize, Reg, ShiftOp};
use alloc::collections::BTreeMap;
use alloc::vec;
use alloc::vec::Vec;
use filter_lang::filter::{Classifier, CmpShape, FieldWidth, Node, NodeId, ShiftEdge};

/// The frame pointer (argument 1).
const FRAME: Reg = Reg::Rdi;
/// The frame length (argument 2).
const LEN: Reg = Reg::Rsi;
/// The current base, an integer offset into the frame.
const BASE: Reg = Reg::Rbx;
/// `FRAME + BASE`, for loads (only dereferenced after a bounds check).
const CURSOR: Reg = Reg::R8;
/// Best depth so far (-1: none), best filter id, its owner.
const BEST_DEPTH: Reg = Reg::R12;
const BEST_ID: Reg = Reg::R13;
const BEST_OWNER: Reg = Reg::R14;
/// The leaf-table header array (argument 4).
const HEADERS: Reg = Reg::R15;

/// One branch out of a node.
enum Branch<'n> {
    Group(CmpShape, Vec<(u32, NodeId)>),
    Shift(&'n ShiftEdge),
}

struct Gen<'c> {
    c: &'c Classifier,
    opts: TrieOptions,
    a: Asm,
    /// Offset of each emitted node's code.
    at: BTreeMap<NodeId, usize>,
    /// rel32 fields to patch with a node's offset: (field offset, node).
    node_fix: Vec<(usize, NodeId)>,
    /// Tables to place after the code: (lea field offset, table, children,
    /// key blinding xor).
    tables: Vec<(usize, Table, Vec<NodeId>, u32)>,
    /// Whether a shift edge lies at or below a node (its callers must save
    /// the base around a call into it).
    shifts_below: BTreeMap<NodeId, bool>,
    /// Offset of the shared `ret`.
    gret: usize,
    stats: TrieStats,
    leaves: LeafTables,
    /// Blinding keys, when blinding.
    keys: Option<KeyStream>,
}

fn full_mask(w: FieldWidth) -> u32 {
    w.full_mask()
}

impl Gen<'_> {
    /// `jcc rel32` to a label placed later; returns the field to patch.
    fn jcc_fwd(&mut self, c: Cond) -> usize {
        self.a.jcc_rel32(c, 0);
        self.a.len() - 4
    }

    fn jmp_fwd(&mut self) -> usize {
        self.a.jmp_rel32(0);
        self.a.len() - 4
    }

    /// Points the rel32 field at `field` to the current position.
    fn bind(&mut self, field: usize) {
        let rel = self.a.len() as i64 - (field as i64 + 4);
        self.a.patch_u32(field, rel as i32 as u32);
    }

    fn jcc_to(&mut self, c: Cond, target: usize) {
        let rel = target as i64 - (self.a.len() as i64 + 6);
        self.a.jcc_rel32(c, rel as i32);
    }

    fn jcc_node(&mut self, c: Cond, n: NodeId) {
        self.a.jcc_rel32(c, 0);
        self.node_fix.push((self.a.len() - 4, n));
    }

    fn jmp_node(&mut self, n: NodeId) {
        self.a.jmp_rel32(0);
        self.node_fix.push((self.a.len() - 4, n));
    }

    fn call_node(&mut self, n: NodeId) {
        let save = self.shifts_below.get(&n).copied().unwrap_or(true);
        if save {
            self.a.push(BASE);
            self.a.push(CURSOR);
        }
        self.a.call_rel32(0);
        self.node_fix.push((self.a.len() - 4, n));
        if save {
            self.a.pop(CURSOR);
            self.a.pop(BASE);
        }
    }

    /// Bounds check for a field at `base + off`, then the field (big-endian,
    /// masked) in eax. On failure jumps to the returned field's target, or
    /// returns from the node when `fail_ret`.
    fn load_field(
        &mut self,
        off: u16,
        width: FieldWidth,
        mask: u32,
        fail_ret: bool,
    ) -> Option<usize> {
        let end = off as i32 + width.bytes() as i32;
        self.a.lea(Reg::Rax, Mem::new(BASE, end));
        self.a.alu_rr(AluRR::Cmp, OpSize::B64, Reg::Rax, LEN);
        let fail = if fail_ret {
            self.jcc_to(Cond::A, self.gret);
            None
        } else {
            Some(self.jcc_fwd(Cond::A))
        };
        let m = Mem::new(CURSOR, off as i32);
        match width {
            FieldWidth::B1 => self.a.load(OpSize::B8, Reg::Rax, m),
            FieldWidth::B2 => {
                // Swap in the full register (no partial-register write).
                self.a.load(OpSize::B16, Reg::Rax, m);
                self.a.bswap(OpSize::B32, Reg::Rax);
                self.a.shift_ri(ShiftOp::Shr, OpSize::B32, Reg::Rax, 16);
            }
            FieldWidth::B4 => {
                self.a.load(OpSize::B32, Reg::Rax, m);
                self.a.bswap(OpSize::B32, Reg::Rax);
            }
        }
        if mask != full_mask(width) {
            self.alu_imm(AluRR::And, mask);
        }
        fail
    }

    /// `op eax, imm` (`and`/`cmp`), the immediate blinded through ecx when
    /// blinding is on.
    fn alu_imm(&mut self, op: AluRR, imm: u32) {
        match self.keys.as_mut() {
            None => self.a.alu_ri(op, OpSize::B32, Reg::Rax, imm as i32),
            Some(k) => {
                let key = k.next_i32() as u32;
                self.a.mov_ri32(Reg::Rcx, imm ^ key);
                self.a.alu_ri(AluRR::Xor, OpSize::B32, Reg::Rcx, key as i32);
                self.a.alu_rr(op, OpSize::B32, Reg::Rax, Reg::Rcx);
            }
        }
    }

    fn accept(&mut self, n: &Node) {
        let Some(h) = n.accepts().first() else { return };
        let d = n.depth() as i32;
        self.a.alu_ri(AluRR::Cmp, OpSize::B32, BEST_DEPTH, d);
        let skip1 = self.jcc_fwd(Cond::G);
        let take = self.jcc_fwd(Cond::L);
        self.a
            .alu_ri(AluRR::Cmp, OpSize::B32, BEST_ID, h.id.0 as i32);
        let skip2 = self.jcc_fwd(Cond::Be);
        self.bind(take);
        self.a.mov_ri32(BEST_DEPTH, d as u32);
        self.a.mov_ri32(BEST_ID, h.id.0);
        self.a.mov_ri32(BEST_OWNER, h.owner);
        self.bind(skip1);
        self.bind(skip2);
    }

    fn group(
        &mut self,
        parent: NodeId,
        shape: CmpShape,
        values: &[(u32, NodeId)],
        tail: bool,
        next: Option<NodeId>,
    ) {
        let fail = self.load_field(shape.off, shape.width, shape.mask, tail);
        let mut to_next = Vec::new();
        to_next.extend(fail);
        if is_leaf_group(self.c, &self.opts, values.len(), values.iter().map(|v| v.1)) {
            self.leaf_group(parent, shape, values, tail);
        } else if values.len() <= self.opts.linear_max {
            self.stats.linear_groups += 1;
            if tail {
                if let [(v, child)] = values
                    && next == Some(*child)
                {
                    self.alu_imm(AluRR::Cmp, *v);
                    self.jcc_to(Cond::Ne, self.gret);
                    return;
                }
                for &(v, child) in values {
                    self.alu_imm(AluRR::Cmp, v);
                    self.jcc_node(Cond::E, child);
                }
                self.a.ret();
            } else {
                for (i, &(v, child)) in values.iter().enumerate() {
                    self.alu_imm(AluRR::Cmp, v);
                    let skip = self.jcc_fwd(Cond::Ne);
                    self.call_node(child);
                    if i + 1 < values.len() {
                        to_next.push(self.jmp_fwd());
                    }
                    self.bind(skip);
                }
            }
        } else {
            let keys: Vec<u32> = values.iter().map(|&(v, _)| v).collect();
            let t = table::build(&keys);
            // With blinding, the table stores key ^ tk and the code compares
            // value ^ tk (r9d), so no chosen value sits in executable memory.
            let tk = self.keys.as_mut().map_or(0, |k| k.next_i32() as u32);
            let probe = if tk == 0 {
                Reg::Rax
            } else {
                self.a.mov_rr(OpSize::B32, Reg::R9, Reg::Rax);
                self.a.alu_ri(AluRR::Xor, OpSize::B32, Reg::R9, tk as i32);
                Reg::R9
            };
            match t.kind {
                TableKind::Perfect => self.stats.perfect_groups += 1,
                TableKind::OpenAddressing => self.stats.open_groups += 1,
            }
            self.a
                .imul_rri(OpSize::B32, Reg::Rdx, Reg::Rax, t.mult as i32);
            self.a
                .shift_ri(ShiftOp::Shr, OpSize::B32, Reg::Rdx, (32 - t.bits) as u8);
            let lea = self.a.lea_rip(Reg::Rcx, 0);
            self.a.shift_ri(ShiftOp::Shl, OpSize::B32, Reg::Rdx, 3);
            let miss = match t.kind {
                TableKind::Perfect => {
                    self.a.alu_rr(AluRR::Add, OpSize::B64, Reg::Rdx, Reg::Rcx);
                    self.a.cmp_rm(OpSize::B32, probe, Mem::new(Reg::Rdx, 0));
                    let miss = self.jcc_fwd(Cond::Ne);
                    self.a.load_sx(OpSize::B32, Reg::Rdx, Mem::new(Reg::Rdx, 4));
                    miss
                }
                TableKind::OpenAddressing => {
                    let top = self.a.len();
                    self.a.mov_rr(OpSize::B64, Reg::R10, Reg::Rcx);
                    self.a.alu_rr(AluRR::Add, OpSize::B64, Reg::R10, Reg::Rdx);
                    self.a.load(OpSize::B32, Reg::R11, Mem::new(Reg::R10, 4));
                    self.a.alu_rr(AluRR::Test, OpSize::B32, Reg::R11, Reg::R11);
                    let miss = self.jcc_fwd(Cond::E);
                    self.a.cmp_rm(OpSize::B32, probe, Mem::new(Reg::R10, 0));
                    let found = self.jcc_fwd(Cond::E);
                    self.a.alu_ri(AluRR::Add, OpSize::B32, Reg::Rdx, 8);
                    let wrap = (t.slots.len() * 8 - 1) as i32;
                    self.a.alu_ri(AluRR::And, OpSize::B32, Reg::Rdx, wrap);
                    let back = top as i64 - (self.a.len() as i64 + 5);
                    self.a.jmp_rel32(back as i32);
                    self.bind(found);
                    self.a.load_sx(OpSize::B32, Reg::Rdx, Mem::new(Reg::R10, 4));
                    miss
                }
            };
            self.a.alu_rr(AluRR::Add, OpSize::B64, Reg::Rdx, Reg::Rcx);
            let children: Vec<NodeId> = values.iter().map(|&(_, n)| n).collect();
            if tail {
                self.a.jmp_r(Reg::Rdx);
                self.bind(miss);
                self.a.ret();
            } else {
                let save = children
                    .iter()
                    .any(|n| self.shifts_below.get(n).copied().unwrap_or(true));
                if save {
                    self.a.push(BASE);
                    self.a.push(CURSOR);
                }
                self.a.call_r(Reg::Rdx);
                if save {
                    self.a.pop(CURSOR);
                    self.a.pop(BASE);
                }
                self.bind(miss);
            }
            self.tables.push((lea, t, children, tk));
        }
        for f in to_next {
            self.bind(f);
        }
    }

    fn shift(&mut self, s: &ShiftEdge, tail: bool, next: Option<NodeId>) {
        let fail = self.load_field(s.off, s.width, s.mask, tail);
        if s.shift > 0 {
            self.a
                .shift_ri(ShiftOp::Shl, OpSize::B64, Reg::Rax, s.shift);
        }
        if tail {
            self.a.alu_rr(AluRR::Add, OpSize::B64, BASE, Reg::Rax);
            self.a.mov_rr(OpSize::B64, CURSOR, FRAME);
            self.a.alu_rr(AluRR::Add, OpSize::B64, CURSOR, BASE);
            if next != Some(s.child) {
                self.jmp_node(s.child);
            }
        } else {
            self.a.push(BASE);
            self.a.push(CURSOR);
            self.a.alu_rr(AluRR::Add, OpSize::B64, BASE, Reg::Rax);
            self.a.mov_rr(OpSize::B64, CURSOR, FRAME);
            self.a.alu_rr(AluRR::Add, OpSize::B64, CURSOR, BASE);
            self.a.call_rel32(0);
            self.node_fix.push((self.a.len() - 4, s.child));
            self.a.pop(CURSOR);
            self.a.pop(BASE);
        }
        if let Some(f) = fail {
            self.bind(f);
        }
    }

    fn branches<'n>(n: &'n Node) -> Vec<Branch<'n>> {
        let mut b: Vec<Branch<'n>> = n
            .cmp_groups()
            .iter()
            .map(|g| {
                let mut v: Vec<(u32, NodeId)> = g.children().collect();
                v.sort_unstable();
                Branch::Group(g.shape(), v)
            })
            .collect();
        b.extend(n.shifts().iter().map(Branch::Shift));
        b
    }

    /// Emits node `id`; `next` is the node emitted right after it.
    fn node(&mut self, id: NodeId, next: Option<NodeId>) {
        self.at.insert(id, self.a.len());
        self.stats.nodes += 1;
        let n = self.c.node(id);
        let branches = Self::branches(n);
        if id != self.c.root() && branches.len() > 1 {
            self.leaves.note_max_depth(id, n.max_depth());
            // Prune: nothing below can beat the best found so far. Only
            // worth a test where the walk would otherwise explore several
            // branches; skipping it never changes the result.
            self.a
                .alu_ri(AluRR::Cmp, OpSize::B32, BEST_DEPTH, n.max_depth() as i32);
            self.jcc_to(Cond::G, self.gret);
        }
        self.accept(n);
        if branches.is_empty() {
            self.a.ret();
            return;
        }
        let last = branches.len() - 1;
        for (i, b) in branches.iter().enumerate() {
            match b {
                Branch::Group(shape, values) => self.group(id, *shape, values, i == last, next),
                Branch::Shift(s) => self.shift(s, i == last, next),
            }
        }
    }

    /// The child of a node's last branch when it is a single target: it is
    /// emitted right after the node so the tail transfer falls through.
    fn tail_child(c: &Classifier, opts: &TrieOptions, n: &Node) -> Option<NodeId> {
        if let Some(s) = n.shifts().last() {
            return Some(s.child);
        }
        let g = n.cmp_groups().last()?;
        if g.len() == 1 && !is_leaf_group(c, opts, 1, g.children().map(|(_, c)| c)) {
            g.children().next().map(|(_, c)| c)
        } else {
            None
        }
    }

    fn mark_shifts_below(&mut self) {
        // Post-order over the trie without recursion.
        let root = self.c.root();
        let mut stack = vec![(root, false)];
        while let Some((id, done)) = stack.pop() {
            let n = self.c.node(id);
            let kids = n
                .cmp_groups()
                .iter()
                .flat_map(|g| g.children().map(|(_, c)| c))
                .chain(n.shifts().iter().map(|s| s.child));
            if done {
                let below =
                    !n.shifts().is_empty() || kids.into_iter().any(|k| self.shifts_below[&k]);
                self.shifts_below.insert(id, below);
            } else {
                stack.push((id, true));
                stack.extend(kids.map(|k| (k, false)));
            }
        }
    }

    /// A group of leaves dispatched through a [`LeafTable`] (eax = value):
    /// open addressing over the table the header `k` describes, then the
    /// accept with the slot's id and owner.
    fn leaf_group(
        &mut self,
        parent: NodeId,
        shape: CmpShape,
        values: &[(u32, NodeId)],
        tail: bool,
    ) {
        let entries: Vec<(u32, u32, u32)> = values
            .iter()
            .map(|&(v, n)| {
                let h = self.c.node(n).accepts()[0];
                (v, h.id.0, h.owner)
            })
            .collect();
        let depth = values
            .first()
            .map_or(0, |&(_, n)| self.c.node(n).depth() as i32);
        let k = self.leaves.add(parent, shape, LeafTable::new(&entries));
        self.stats.leaf_groups += 1;
        let h = (k as i32) * layout::HEADER_SIZE;
        self.a.load(
            OpSize::B64,
            Reg::R9,
            Mem::new(HEADERS, h + layout::HEADER_SLOTS),
        );
        self.a.load(
            OpSize::B32,
            Reg::R10,
            Mem::new(HEADERS, h + layout::HEADER_MASK),
        );
        self.a.load(
            OpSize::B32,
            Reg::Rcx,
            Mem::new(HEADERS, h + layout::HEADER_SHIFT),
        );
        self.a
            .imul_rri(OpSize::B32, Reg::Rdx, Reg::Rax, leaf::MULT as i32);
        self.a.shift_cl(ShiftOp::Shr, OpSize::B32, Reg::Rdx);
        let top = self.a.len();
        self.a.mov_rr(OpSize::B64, Reg::R11, Reg::Rdx);
        self.a
            .shift_ri(ShiftOp::Shl, OpSize::B64, Reg::R11, layout::SLOT_SIZE_LOG2);
        self.a.alu_rr(AluRR::Add, OpSize::B64, Reg::R11, Reg::R9);
        self.a.load(
            OpSize::B32,
            Reg::Rcx,
            Mem::new(Reg::R11, layout::SLOT_STATE),
        );
        self.a.alu_rr(AluRR::Test, OpSize::B32, Reg::Rcx, Reg::Rcx);
        let miss = self.jcc_fwd(Cond::E);
        self.a.alu_ri(AluRR::Cmp, OpSize::B32, Reg::Rcx, 1);
        let skip = self.jcc_fwd(Cond::Ne);
        self.a
            .cmp_rm(OpSize::B32, Reg::Rax, Mem::new(Reg::R11, layout::SLOT_KEY));
        let hit = self.jcc_fwd(Cond::E);
        self.bind(skip);
        self.a.alu_ri(AluRR::Add, OpSize::B32, Reg::Rdx, 1);
        self.a.alu_rr(AluRR::And, OpSize::B32, Reg::Rdx, Reg::R10);
        let back = top as i64 - (self.a.len() as i64 + 5);
        self.a.jmp_rel32(back as i32);
        self.bind(hit);
        self.a.alu_ri(AluRR::Cmp, OpSize::B32, BEST_DEPTH, depth);
        let worse = self.jcc_fwd(Cond::G);
        let take = self.jcc_fwd(Cond::L);
        self.a
            .cmp_rm(OpSize::B32, BEST_ID, Mem::new(Reg::R11, layout::SLOT_ID));
        let later = self.jcc_fwd(Cond::Be);
        self.bind(take);
        self.a.mov_ri32(BEST_DEPTH, depth as u32);
        self.a
            .load(OpSize::B32, BEST_ID, Mem::new(Reg::R11, layout::SLOT_ID));
        self.a.load(
            OpSize::B32,
            BEST_OWNER,
            Mem::new(Reg::R11, layout::SLOT_OWNER),
        );
        for f in [miss, worse, later] {
            self.bind(f);
        }
        if tail {
            self.a.ret();
        }
    }

    fn entry(&mut self) {
        for r in [BASE, BEST_DEPTH, BEST_ID, BEST_OWNER, HEADERS, Reg::Rdx] {
            self.a.push(r);
        }
        self.a.mov_rr(OpSize::B64, HEADERS, Reg::Rcx);
        self.a.mov_ri32(BEST_DEPTH, u32::MAX);
        self.a.alu_rr(AluRR::Xor, OpSize::B32, BASE, BASE);
        self.a.mov_rr(OpSize::B64, CURSOR, FRAME);
        self.a.call_rel32(0);
        let root = self.c.root();
        self.node_fix.push((self.a.len() - 4, root));
        self.a.pop(Reg::Rdx);
        self.a.alu_rr(AluRR::Xor, OpSize::B32, Reg::Rax, Reg::Rax);
        self.a
            .alu_rr(AluRR::Test, OpSize::B32, BEST_DEPTH, BEST_DEPTH);
        let none = self.jcc_fwd(Cond::L);
        // One 8-byte store of [id, owner] (both registers hold zero-extended
        // 32-bit values), so the caller's 8-byte read of `out` is forwarded
        // from the store instead of stalling on two 4-byte ones.
        self.a.mov_rr(OpSize::B64, Reg::Rcx, BEST_OWNER);
        self.a.shift_ri(ShiftOp::Shl, OpSize::B64, Reg::Rcx, 32);
        self.a.alu_rr(AluRR::Or, OpSize::B64, Reg::Rcx, BEST_ID);
        self.a.store(OpSize::B64, Mem::new(Reg::Rdx, 0), Reg::Rcx);
        self.a.mov_ri32(Reg::Rax, 1);
        self.bind(none);
        for r in [HEADERS, BEST_OWNER, BEST_ID, BEST_DEPTH, BASE] {
            self.a.pop(r);
        }
        self.a.ret();
        self.gret = self.a.len();
        self.a.ret();
    }
}

/// Whether a group of `len` values leading to `children` is served by a
/// leaf table: more values than a compare chain takes, all of them leaves.
fn is_leaf_group(
    c: &Classifier,
    opts: &TrieOptions,
    len: usize,
    mut children: impl Iterator<Item = NodeId>,
) -> bool {
    len > opts.linear_max && children.all(|n| leaf::is_leaf(c.node(n)))
}

/// Compiles `c`.
pub fn compile(c: &Classifier, opts: &TrieOptions) -> Result<CompiledTrie, TrieError> {
    let mut g = Gen {
        c,
        opts: *opts,
        a: Asm::new(),
        at: BTreeMap::new(),
        node_fix: Vec::new(),
        tables: Vec::new(),
        shifts_below: BTreeMap::new(),
        gret: 0,
        stats: TrieStats::default(),
        leaves: LeafTables::default(),
        keys: opts.blinding.map(KeyStream::new),
    };
    g.mark_shifts_below();
    g.entry();
    // Depth-first, the tail child of each node right after it.
    let mut stack = vec![c.root()];
    while let Some(id) = stack.pop() {
        let n = c.node(id);
        let tail = Gen::tail_child(c, opts, n);
        let mut kids: Vec<NodeId> = n
            .cmp_groups()
            .iter()
            // Leaves served by a leaf table have no code of their own.
            .filter(|g| !is_leaf_group(c, opts, g.len(), g.children().map(|(_, c)| c)))
            .flat_map(|g| g.children().map(|(_, c)| c))
            .chain(n.shifts().iter().map(|s| s.child))
            .filter(|&k| Some(k) != tail)
            .collect();
        kids.sort_unstable();
        stack.extend(kids);
        stack.extend(tail);
        let next = stack.last().copied();
        g.node(id, next.filter(|&x| Some(x) == tail));
    }
    let code_bytes = g.a.len();
    // Tables after the code, 8-byte aligned.
    while !g.a.len().is_multiple_of(8) {
        g.a.data(&[0xcc]);
    }
    let tables = core::mem::take(&mut g.tables);
    for (lea, t, children, tk) in &tables {
        let start = g.a.len();
        let rel = start as i64 - (*lea as i64 + 4);
        g.a.patch_u32(*lea, rel as i32 as u32);
        let target = |i: usize| -> Result<i32, TrieError> {
            let at = g.at.get(&children[i]).copied().ok_or(TrieError::Internal)?;
            i32::try_from(at as i64 - start as i64).map_err(|_| TrieError::TooLarge)
        };
        let mut bytes = Vec::with_capacity(t.slots.len() * 8);
        // A perfect table's empty slot repeats a member's entry: its key
        // hashes elsewhere, so no value reaching this slot can equal it.
        let filler = t.slots.iter().flatten().next().copied();
        for slot in &t.slots {
            let (key, tgt) = match (slot, t.kind, filler) {
                (Some((k, i)), _, _) => (*k ^ tk, target(*i)?),
                (None, TableKind::Perfect, Some((k, i))) => (k ^ tk, target(i)?),
                _ => (0, 0),
            };
            bytes.extend_from_slice(&key.to_le_bytes());
            bytes.extend_from_slice(&tgt.to_le_bytes());
        }
        g.a.data(&bytes);
    }
    for &(field, n) in &g.node_fix {
        let at = g.at.get(&n).copied().ok_or(TrieError::Internal)?;
        let rel = i32::try_from(at as i64 - (field as i64 + 4)).map_err(|_| TrieError::TooLarge)?;
        g.a.patch_u32(field, rel as u32);
    }
    let mut stats = g.stats;
    stats.code_bytes = code_bytes;
    stats.table_bytes = g.a.len() - code_bytes;
    stats.leaf_table_bytes = g.leaves.bytes();
    Ok(CompiledTrie {
        code: g.a.into_bytes(),
        entry: 0,
        stats,
        leaves: g.leaves,
    })
}
