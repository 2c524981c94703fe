//! The merged classifier: all installed filters in one trie.
//!
//! # Structure (stable; the JIT compiles it)
//! A [`Node`] is reached by a unique atom path from the root, so every node
//! has one *base state* (the shift atoms on its path) and a depth (the number
//! of atoms on its path). A node holds:
//! * [`Node::accepts`]: the filters whose last atom leads here, ascending by
//!   id (identical filters share a node);
//! * [`Node::cmp_groups`]: one [`CmpGroup`] per distinct comparison shape
//!   ([`CmpShape`]: offset, width, mask) among the atoms that continue from
//!   here. A group maps the compared *value* to the child through a hash
//!   table, so 10,000 filters that differ only in a port number cost one
//!   load and one lookup;
//! * [`Node::shifts`]: one [`ShiftEdge`] per distinct shift atom;
//! * [`Node::max_depth`]: the depth of the deepest accepting node in its
//!   subtree, used to prune the walk.
//!
//! # Classification rule
//! Among all installed filters that match a frame, the one with the most
//! atoms wins; among those, the earliest inserted (smallest [`FilterId`]:
//! ids increase with every insertion and are never reused). The walk explores
//! every matching branch (a frame can satisfy several shapes at one node) and
//! never allocates.

use super::atom::{Atom, CmpShape, FieldWidth, Filter};
use alloc::vec::Vec;
use hashbrown::HashMap;

/// A stable handle of an installed filter. Ids grow with each insertion.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Debug)]
pub struct FilterId(pub u32);

/// Index of a node in the classifier's arena.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Debug)]
pub struct NodeId(pub u32);

/// The result of a classification: the winning filter and its owner tag.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub struct Hit {
    pub id: FilterId,
    /// Opaque tag given at insertion (the kernel stores the owning
    /// environment here).
    pub owner: u32,
}

/// A shift atom as a trie edge.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub struct ShiftEdge {
    pub off: u16,
    pub width: FieldWidth,
    pub mask: u32,
    pub shift: u8,
    pub child: NodeId,
}

impl ShiftEdge {
    fn same_atom(&self, off: u16, width: FieldWidth, mask: u32, shift: u8) -> bool {
        self.off == off && self.width == width && self.mask == mask && self.shift == shift
    }

    /// The base after this edge, or `None` when its field is outside `frame`.
    #[inline]
    pub fn apply(&self, frame: &[u8], base: usize) -> Option<usize> {
        Atom::Shift {
            off: self.off,
            width: self.width,
            mask: self.mask,
            shift: self.shift,
        }
        .apply(frame, base)
    }
}

/// Comparisons of one shape continuing from a node, dispatched by value.
#[derive(Clone, Debug)]
pub struct CmpGroup {
    shape: CmpShape,
    children: HashMap<u32, NodeId>,
}

impl CmpGroup {
    /// The shape every comparison of this group shares.
    pub fn shape(&self) -> CmpShape {
        self.shape
    }

    /// The child for a masked field value.
    #[inline]
    pub fn get(&self, value: u32) -> Option<NodeId> {
        self.children.get(&value).copied()
    }

    /// All `(value, child)` pairs, in no particular order.
    pub fn children(&self) -> impl Iterator<Item = (u32, NodeId)> + '_ {
        self.children.iter().map(|(&v, &n)| (v, n))
    }

    /// Number of distinct values.
    pub fn len(&self) -> usize {
        self.children.len()
    }

    /// Whether the group has no values (never true for a live group).
    pub fn is_empty(&self) -> bool {
        self.children.is_empty()
    }
}

/// One trie node. See the module documentation.
#[derive(Clone, Debug, Default)]
pub struct Node {
    depth: u16,
    max_depth: u16,
    accepts: Vec<Hit>,
    cmps: Vec<CmpGroup>,
    shifts: Vec<ShiftEdge>,
}

impl Node {
    /// Number of atoms on the path from the root.
    pub fn depth(&self) -> u16 {
        self.depth
    }

    /// Depth of the deepest accepting node at or below this one.
    pub fn max_depth(&self) -> u16 {
        self.max_depth
    }

    /// Filters ending here, ascending by id; the first wins among them.
    pub fn accepts(&self) -> &[Hit] {
        &self.accepts
    }

    /// Comparison groups continuing from here, one per shape.
    pub fn cmp_groups(&self) -> &[CmpGroup] {
        &self.cmps
    }

    /// Shift edges continuing from here.
    pub fn shifts(&self) -> &[ShiftEdge] {
        &self.shifts
    }

    fn is_dead(&self) -> bool {
        self.accepts.is_empty() && self.cmps.is_empty() && self.shifts.is_empty()
    }

    fn children(&self) -> impl Iterator<Item = NodeId> + '_ {
        self.cmps
            .iter()
            .flat_map(|g| g.children.values().copied())
            .chain(self.shifts.iter().map(|s| s.child))
    }
}

/// Why a filter could not be inserted.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum InsertError {
    /// All 2^32 filter ids have been used; build a new classifier.
    IdsExhausted,
    /// The trie would exceed 2^32 nodes.
    TooManyNodes,
}

impl core::fmt::Display for InsertError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            InsertError::IdsExhausted => {
                f.write_str("all filter ids are used up; rebuild the classifier")
            }
            InsertError::TooManyNodes => f.write_str("the classifier trie is full"),
        }
    }
}

#[derive(Clone, Debug)]
struct Entry {
    filter: Filter,
    owner: u32,
}

/// One step of a path: which edge of the parent leads to the child.
#[derive(Clone, Copy)]
enum Step {
    Cmp { group: usize, value: u32 },
    Shift { edge: usize },
}

/// The merged classifier.
#[derive(Clone, Debug)]
pub struct Classifier {
    nodes: Vec<Node>,
    free: Vec<NodeId>,
    filters: HashMap<FilterId, Entry>,
    next_id: u32,
    ids_exhausted: bool,
}

impl Default for Classifier {
    fn default() -> Self {
        Self::new()
    }
}

const ROOT: NodeId = NodeId(0);

impl Classifier {
    /// An empty classifier (a root node and nothing installed).
    pub fn new() -> Classifier {
        Classifier {
            nodes: alloc::vec![Node::default()],
            free: Vec::new(),
            filters: HashMap::new(),
            next_id: 0,
            ids_exhausted: false,
        }
    }

    /// The root node.
    pub fn root(&self) -> NodeId {
        ROOT
    }

    /// A node by id. Ids come from this classifier's own nodes and edges.
    ///
    /// # Panics
    /// On an id not taken from this classifier (a caller bug).
    pub fn node(&self, id: NodeId) -> &Node {
        &self.nodes[id.0 as usize]
    }

    /// Number of installed filters.
    pub fn len(&self) -> usize {
        self.filters.len()
    }

    /// Whether no filter is installed.
    pub fn is_empty(&self) -> bool {
        self.filters.is_empty()
    }

    /// Number of live trie nodes (including the root).
    pub fn node_count(&self) -> usize {
        self.nodes.len() - self.free.len()
    }

    /// An installed filter.
    pub fn filter(&self, id: FilterId) -> Option<&Filter> {
        self.filters.get(&id).map(|e| &e.filter)
    }

    /// The owner tag of an installed filter.
    pub fn owner(&self, id: FilterId) -> Option<u32> {
        self.filters.get(&id).map(|e| e.owner)
    }

    /// All installed filters, ascending by id.
    pub fn filters(&self) -> Vec<(FilterId, &Filter, u32)> {
        let mut v: Vec<_> = self
            .filters
            .iter()
            .map(|(&id, e)| (id, &e.filter, e.owner))
            .collect();
        v.sort_by_key(|x| x.0);
        v
    }

    fn alloc_node(&mut self, depth: u16) -> Result<NodeId, InsertError> {
        let node = Node {
            depth,
            ..Node::default()
        };
        if let Some(id) = self.free.pop() {
            self.nodes[id.0 as usize] = node;
            return Ok(id);
        }
        let id = u32::try_from(self.nodes.len()).map_err(|_| InsertError::TooManyNodes)?;
        self.nodes.push(node);
        Ok(NodeId(id))
    }

    /// Installs `filter` with an owner tag and returns its id.
    pub fn insert(&mut self, filter: Filter, owner: u32) -> Result<FilterId, InsertError> {
        if self.ids_exhausted {
            return Err(InsertError::IdsExhausted);
        }
        let id = FilterId(self.next_id);
        let mut path = Vec::with_capacity(filter.len() + 1);
        path.push(ROOT);
        let mut cur = ROOT;
        for (i, atom) in filter.atoms().iter().enumerate() {
            let depth = (i + 1) as u16;
            cur = match *atom {
                Atom::Cmp {
                    off,
                    width,
                    mask,
                    value,
                } => {
                    let shape = CmpShape { off, width, mask };
                    let node = &self.nodes[cur.0 as usize];
                    let gi = node.cmps.iter().position(|g| g.shape == shape);
                    match gi.and_then(|g| node.cmps[g].get(value)) {
                        Some(child) => child,
                        None => {
                            let child = self.alloc_node(depth)?;
                            let node = &mut self.nodes[cur.0 as usize];
                            let g = match gi {
                                Some(g) => g,
                                None => {
                                    node.cmps.push(CmpGroup {
                                        shape,
                                        children: HashMap::new(),
                                    });
                                    node.cmps.len() - 1
                                }
                            };
                            node.cmps[g].children.insert(value, child);
                            child
                        }
                    }
                }
                Atom::Shift {
                    off,
                    width,
                    mask,
                    shift,
                } => {
                    let node = &self.nodes[cur.0 as usize];
                    match node
                        .shifts
                        .iter()
                        .find(|s| s.same_atom(off, width, mask, shift))
                    {
                        Some(s) => s.child,
                        None => {
                            let child = self.alloc_node(depth)?;
                            self.nodes[cur.0 as usize].shifts.push(ShiftEdge {
                                off,
                                width,
                                mask,
                                shift,
                                child,
                            });
                            child
                        }
                    }
                }
            };
            path.push(cur);
        }
        let depth = filter.len() as u16;
        self.nodes[cur.0 as usize].accepts.push(Hit { id, owner });
        for n in path {
            let node = &mut self.nodes[n.0 as usize];
            node.max_depth = node.max_depth.max(depth);
        }
        self.filters.insert(id, Entry { filter, owner });
        match self.next_id.checked_add(1) {
            Some(n) => self.next_id = n,
            None => self.ids_exhausted = true,
        }
        Ok(id)
    }

    /// Removes an installed filter, pruning trie branches no other filter
    /// uses. Returns the filter and its owner, or `None` for an unknown id.
    pub fn remove(&mut self, id: FilterId) -> Option<(Filter, u32)> {
        let entry = self.filters.remove(&id)?;
        // Re-walk the filter's path: (node, step from its parent).
        let mut path: Vec<(NodeId, Step)> = Vec::with_capacity(entry.filter.len());
        let mut cur = ROOT;
        for atom in entry.filter.atoms() {
            let node = &self.nodes[cur.0 as usize];
            let (step, next) = match *atom {
                Atom::Cmp {
                    off,
                    width,
                    mask,
                    value,
                } => {
                    let shape = CmpShape { off, width, mask };
                    let g = node
                        .cmps
                        .iter()
                        .position(|g| g.shape == shape)
                        .expect("installed filter's path exists");
                    let child = node.cmps[g].get(value).expect("installed path");
                    (Step::Cmp { group: g, value }, child)
                }
                Atom::Shift {
                    off,
                    width,
                    mask,
                    shift,
                } => {
                    let e = node
                        .shifts
                        .iter()
                        .position(|s| s.same_atom(off, width, mask, shift))
                        .expect("installed filter's path exists");
                    (Step::Shift { edge: e }, node.shifts[e].child)
                }
            };
            path.push((next, step));
            cur = next;
        }
        let leaf = &mut self.nodes[cur.0 as usize];
        leaf.accepts.retain(|h| h.id != id);

        // Walk back up: drop dead nodes, then recompute max_depth.
        let mut child = cur;
        for i in (0..path.len()).rev() {
            let parent = if i == 0 { ROOT } else { path[i - 1].0 };
            let step = path[i].1;
            if self.nodes[child.0 as usize].is_dead() {
                let p = &mut self.nodes[parent.0 as usize];
                match step {
                    Step::Cmp { group, value } => {
                        p.cmps[group].children.remove(&value);
                        if p.cmps[group].children.is_empty() {
                            p.cmps.swap_remove(group);
                        }
                    }
                    Step::Shift { edge } => {
                        p.shifts.swap_remove(edge);
                    }
                }
                self.nodes[child.0 as usize] = Node::default();
                self.free.push(child);
            } else {
                self.refresh_max_depth(child);
            }
            child = parent;
        }
        self.refresh_max_depth(ROOT);
        Some((entry.filter, entry.owner))
    }

    fn refresh_max_depth(&mut self, n: NodeId) {
        let node = &self.nodes[n.0 as usize];
        let own = if node.accepts.is_empty() {
            0
        } else {
            node.depth
        };
        let below = node
            .children()
            .map(|c| self.nodes[c.0 as usize].max_depth)
            .max()
            .unwrap_or(0);
        self.nodes[n.0 as usize].max_depth = own.max(below);
    }

    /// Classifies a frame: the winning filter (see the module documentation)
    /// or `None`. Allocation-free; recursion depth is at most the longest
    /// installed filter's atom count.
    pub fn classify(&self, frame: &[u8]) -> Option<Hit> {
        let mut best: Option<(u16, Hit)> = None;
        self.walk(ROOT, frame, 0, &mut best);
        best.map(|(_, h)| h)
    }

    fn walk(&self, n: NodeId, frame: &[u8], base: usize, best: &mut Option<(u16, Hit)>) {
        let node = &self.nodes[n.0 as usize];
        if let Some((d, _)) = *best
            && node.max_depth < d
        {
            return;
        }
        if let Some(&h) = node.accepts.first() {
            let better = match *best {
                None => true,
                Some((d, b)) => node.depth > d || (node.depth == d && h.id < b.id),
            };
            if better {
                *best = Some((node.depth, h));
            }
        }
        for g in &node.cmps {
            if let Some(v) = g.shape.load(frame, base)
                && let Some(child) = g.get(v)
            {
                self.walk(child, frame, base, best);
            }
        }
        for s in &node.shifts {
            if let Some(nb) = s.apply(frame, base) {
                self.walk(s.child, frame, nb, best);
            }
        }
    }
}
