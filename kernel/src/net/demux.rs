//! The demultiplexer: the merged classifier (`filter_lang::filter`),
//! compiled to native code by `ash-compiler`'s trie compiler and placed in
//! executable memory, plus the table of bindings its owner field indexes.
//!
//! A filter's classifier owner is its binding's id. Installing a binding
//! inserts its filters; when every new filter only adds a leaf to a leaf
//! table the compiled code stays and the tables are updated in place,
//! otherwise the classifier is recompiled and the new code placed before
//! the old is freed. Removal works the same way.

use alloc::boxed::Box;
use alloc::vec::Vec;

use ash_compiler::trie::{self, LeafTables, TrieOptions};
use filter_lang::filter::{Classifier, FilterId};

use super::binding::{BindError, Binding, BindingId, BindingSpec, BindingStats};
use super::code::CodeBlock;
use super::handler::Handler;
use super::hooks::{self, FrameSink, KERNEL_OWNER};
use super::ring::Ring;
use exo_abi::net::export::MAX_BINDINGS;
use exo_abi::net::ring::SLOT_UNCLAIMED;

/// Compiled classifier code and the leaf tables it searches.
struct PlacedTrie {
    code: CodeBlock,
    entry: usize,
    leaves: LeafTables,
}

/// How the classifier was last brought up to date.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DemuxStats {
    /// Full compilations (and placements) of the classifier.
    pub recompiles: u64,
    /// Changes applied to leaf tables in place.
    pub in_place_updates: u64,
    /// Bytes of the placed classifier code.
    pub code_bytes: usize,
}

/// Classifier, compiled code and bindings.
pub struct Demux {
    classifier: Classifier,
    trie: Option<PlacedTrie>,
    bindings: Vec<Option<Binding>>,
    /// The binding that receives frames no filter takes.
    default: Option<BindingId>,
    pub stats: DemuxStats,
}

impl Default for Demux {
    fn default() -> Self {
        Self::new()
    }
}

impl Demux {
    pub fn new() -> Demux {
        Demux {
            classifier: Classifier::new(),
            trie: None,
            bindings: Vec::new(),
            default: None,
            stats: DemuxStats::default(),
        }
    }

    fn recompile(&mut self) -> Result<(), BindError> {
        if self.classifier.is_empty() {
            self.trie = None;
            self.stats.code_bytes = 0;
            return Ok(());
        }
        let compiled = trie::compile_trie(&self.classifier, &TrieOptions::default())
            .map_err(BindError::Trie)?;
        let code = CodeBlock::place(&compiled.code, &[], |_| 0).map_err(BindError::Code)?;
        self.stats.recompiles += 1;
        self.stats.code_bytes = compiled.code.len();
        self.trie = Some(PlacedTrie {
            code,
            entry: compiled.entry,
            leaves: compiled.leaves,
        });
        Ok(())
    }

    /// The first binding that an environment's filter `f` (of `owner`)
    /// would overlap without permission: one owned by someone else whose
    /// owner granted `owner` nothing. The kernel's own bindings are never
    /// checked (it is trusted), but environments must not overlap them.
    fn conflict<'f>(
        &self,
        owner: hooks::OwnerId,
        filters: impl IntoIterator<Item = &'f filter_lang::filter::Filter>,
    ) -> Result<(), BindError> {
        if owner == KERNEL_OWNER {
            return Ok(());
        }
        for (i, f) in filters.into_iter().enumerate() {
            for fid in self.classifier.conflicts(f) {
                let Some(bid) = self.classifier.owner(fid).map(BindingId) else {
                    continue;
                };
                let Some(b) = self.binding(bid) else { continue };
                if b.owner != owner && !b.grants.contains(&owner) {
                    return Err(BindError::Conflict {
                        filter: i,
                        binding: bid,
                        owner: b.owner,
                    });
                }
            }
        }
        Ok(())
    }

    /// Installs a binding: the checks first (owner alive, filters or the
    /// default, no unpermitted overlap, room in the table), then the
    /// handler verified, compiled and placed, then the filters merged and
    /// the classifier updated. On any error nothing changes.
    pub fn install(&mut self, spec: BindingSpec) -> Result<BindingId, BindError> {
        if !hooks::hooks().owner_alive(spec.owner) {
            return Err(BindError::OwnerGone(spec.owner));
        }
        if spec.filters.is_empty() && !spec.default {
            return Err(BindError::NoFilter);
        }
        if spec.default {
            if let Some(d) = self.default {
                return Err(BindError::DefaultTaken(d));
            }
            if spec.ring.is_none() && spec.sink.is_none() {
                return Err(BindError::DefaultWithoutRing);
            }
        }
        self.conflict(spec.owner, &spec.filters)?;
        let slot = self
            .bindings
            .iter()
            .position(Option::is_none)
            .unwrap_or(self.bindings.len());
        if slot >= MAX_BINDINGS {
            return Err(BindError::TooManyBindings);
        }
        let id = BindingId(slot as u32);
        let (sink, ring_slots): (Option<Box<dyn FrameSink>>, u32) = match spec.ring {
            Some(frames) => {
                let mut ring = Ring::new(frames, id.0).ok_or(BindError::RingTooSmall)?;
                if spec.default {
                    ring.set_flags(SLOT_UNCLAIMED);
                }
                let n = ring.slots();
                (Some(Box::new(ring)), n)
            }
            None => (spec.sink, 0),
        };
        let handler = match &spec.handler {
            Some((code, pspec)) => Some(Handler::load(code, pspec, spec.regions)?),
            None => None,
        };
        let tx_filters = if spec.owner == KERNEL_OWNER {
            Vec::new()
        } else {
            spec.filters.clone()
        };
        let mut ids: Vec<FilterId> = Vec::with_capacity(spec.filters.len());
        let mut in_place = self.trie.is_some();
        for f in spec.filters {
            match self.classifier.insert(f, id.0) {
                Ok(fid) => {
                    ids.push(fid);
                    if in_place && let Some(t) = self.trie.as_mut() {
                        in_place = t.leaves.insert_in_place(&self.classifier, fid);
                    }
                }
                Err(e) => {
                    self.unwind(&ids);
                    return Err(BindError::Insert(e));
                }
            }
        }
        if ids.is_empty() {
            // A default receiver without filters: the classifier is unchanged.
        } else if in_place {
            self.stats.in_place_updates += 1;
        } else if let Err(e) = self.recompile() {
            self.unwind(&ids);
            return Err(e);
        }
        let binding = Binding {
            id,
            owner: spec.owner,
            name: spec.name,
            filter_ids: ids,
            tx_filters,
            handler,
            sink,
            ring_slots,
            default: spec.default,
            pins: spec.pins,
            grants: Vec::new(),
            stats: BindingStats::default(),
            last_fault: None,
        };
        if spec.default {
            self.default = Some(id);
        }
        if slot == self.bindings.len() {
            self.bindings.push(Some(binding));
        } else {
            self.bindings[slot] = Some(binding);
        }
        Ok(id)
    }

    /// The default receiver of unclaimed frames.
    pub fn default_binding(&self) -> Option<BindingId> {
        self.default
    }

    /// Takes inserted filters out again after a failed install (the old
    /// code is still placed; recompiling restores the exact old state).
    fn unwind(&mut self, ids: &[FilterId]) {
        for &fid in ids {
            self.classifier.remove(fid);
        }
        if !ids.is_empty() && self.recompile().is_err() {
            log::error!("net: classifier could not be restored after a failed install");
        }
    }

    /// Removes a binding and its filters; returns it (its handler's code
    /// is freed when it is dropped).
    pub fn remove(&mut self, id: BindingId) -> Result<Binding, BindError> {
        let binding = self
            .bindings
            .get_mut(id.0 as usize)
            .and_then(Option::take)
            .ok_or(BindError::NoBinding(id))?;
        if self.default == Some(id) {
            self.default = None;
        }
        if binding.filter_ids.is_empty() {
            return Ok(binding);
        }
        let mut in_place = self.trie.is_some();
        for &fid in &binding.filter_ids {
            if let Some((filter, _)) = self.classifier.remove(fid)
                && in_place
                && let Some(t) = self.trie.as_mut()
            {
                in_place = t.leaves.remove_in_place(&self.classifier, &filter);
            }
        }
        if in_place && !self.classifier.is_empty() {
            self.stats.in_place_updates += 1;
        } else if let Err(e) = self.recompile() {
            log::error!("net: classifier recompilation after removing {id} failed: {e}");
            self.trie = None;
        }
        Ok(binding)
    }

    /// The binding whose filter takes `frame`, if any.
    pub fn classify(&self, frame: &[u8]) -> Option<BindingId> {
        let t = self.trie.as_ref()?;
        // SAFETY: `t.code` holds this classifier's compiled code (placed
        // executable, no relocations) and `t.leaves` the tables of the same
        // compilation, updated in place only by `LeafTables` itself.
        let hit =
            unsafe { ash_compiler::runtime::classify(t.code.addr(t.entry), &t.leaves, frame) };
        hit.map(|(_, owner)| BindingId(owner))
    }

    /// The slow reference path: the classifier's own `classify` (tests
    /// compare it with the compiled code).
    pub fn classify_reference(&self, frame: &[u8]) -> Option<BindingId> {
        self.classifier.classify(frame).map(|h| BindingId(h.owner))
    }

    pub fn binding(&self, id: BindingId) -> Option<&Binding> {
        self.bindings.get(id.0 as usize)?.as_ref()
    }

    pub fn binding_mut(&mut self, id: BindingId) -> Option<&mut Binding> {
        self.bindings.get_mut(id.0 as usize)?.as_mut()
    }

    /// Installed bindings.
    pub fn bindings(&self) -> impl Iterator<Item = &Binding> {
        self.bindings.iter().flatten()
    }

    /// `owner`'s bindings that overlap another owner's binding without
    /// that owner's grant (after a `RevokeGrant`): the bindings a
    /// revocation breaks.
    pub fn unpermitted_bindings_of(&self, owner: hooks::OwnerId) -> Vec<BindingId> {
        self.bindings()
            .filter(|b| b.owner == owner)
            .map(|b| b.id)
            .filter(|&id| self.conflict(owner, self.filters_of(id)).is_err())
            .collect()
    }

    /// Filters in the classifier.
    pub fn filter_count(&self) -> usize {
        self.classifier.len()
    }

    /// The filters of binding `id`.
    pub fn filters_of(&self, id: BindingId) -> Vec<&filter_lang::filter::Filter> {
        self.binding(id)
            .map(|b| {
                b.filter_ids
                    .iter()
                    .filter_map(|f| self.classifier.filter(*f))
                    .collect()
            })
            .unwrap_or_default()
    }
}
