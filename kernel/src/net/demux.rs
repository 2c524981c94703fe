//! The demultiplexer: the merged classifier (`filter_lang::filter`),
//! compiled to native code by `ash-compiler`'s trie compiler and placed in
//! executable memory, plus the table of bindings its owner field indexes.
//!
//! A filter's classifier owner is its binding's id. Installing a binding
//! inserts its filters; when every new filter only adds a leaf to a leaf
//! table the compiled code stays and the tables are updated in place,
//! otherwise the classifier is recompiled and the new code placed before
//! the old is freed. Removal works the same way.
//!
//! **Filter programs** (bindings whose filter the atoms cannot express:
//! `len`, arithmetic, variable offsets) cannot be merged or checked for
//! overlap, so they rank below every atom filter: a frame no atom filter
//! takes is offered to the filter programs in install order, and the
//! first that returns 1 takes it; then the default receiver. A program
//! therefore never takes a frame another owner's atoms claim. Programs are
//! verified (`packet` type), may not call, and are JIT-compiled like
//! handlers.

use alloc::boxed::Box;
use alloc::vec::Vec;

use ash_compiler::trie::{self, LeafTables, TrieOptions};
use filter_lang::bpf::Insn;
use filter_lang::bpf::ash::{AshEnv, SendError};
use filter_lang::bpf::spec::{ProgramSpec, ProgramType};
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
    /// Bindings with a filter program, in install order.
    programs: Vec<BindingId>,
    pub stats: DemuxStats,
}

/// The compiled atom classifier, borrowed apart from the bindings.
#[derive(Clone, Copy)]
pub struct Atoms<'a>(Option<&'a PlacedTrie>);

impl Atoms<'_> {
    /// The binding whose atom filter takes `frame`, if any.
    pub fn classify(&self, frame: &[u8]) -> Option<BindingId> {
        let t = self.0?;
        // SAFETY: `t.code` holds this classifier's compiled code (placed
        // executable, no relocations) and `t.leaves` the tables of the same
        // compilation, updated in place only by `LeafTables` itself.
        let hit =
            unsafe { ash_compiler::runtime::classify(t.code.addr(t.entry), &t.leaves, frame) };
        hit.map(|(_, owner)| BindingId(owner))
    }
}

/// Filter-program bindings one environment may have
/// (`exo_abi::net::MAX_FILTER_PROGRAMS`): every unclaimed frame is offered
/// to every program in turn, so their number bounds the receive path's
/// cost per frame (each program's run is bounded by its verifier proof).
/// The kernel's own bindings are not limited.
pub const MAX_PROGRAMS_PER_OWNER: usize = exo_abi::net::MAX_FILTER_PROGRAMS as usize;

/// The environment of a filter program run: programs cannot call (checked
/// at load), so nothing here is ever reached but the clock.
struct NoEffects;

impl AshEnv for NoEffects {
    fn now_ns(&mut self) -> u64 {
        crate::time::now_ns()
    }
    fn send_frame(&mut self, _frame: &[u8]) -> Result<(), SendError> {
        Err(SendError::Unavailable)
    }
    fn wake_owner(&mut self) {}
}

/// Verifies and compiles a filter program: a `packet` program without
/// calls, returning 1 to take a frame.
fn load_filter_program(words: &[Insn]) -> Result<Handler, BindError> {
    if let Some(pc) = words.iter().position(|i| i.is_call()) {
        return Err(BindError::FilterProgramCalls { pc });
    }
    Handler::load_bpf(words, &ProgramSpec::new(ProgramType::Packet))
        .map_err(BindError::FilterProgram)
}

/// Whether `program` takes `frame` (a fault, which a verified program
/// without calls cannot raise, counts as no).
pub(super) fn program_takes(program: &mut Handler, frame: &[u8]) -> bool {
    matches!(program.run(frame, &mut NoEffects), Ok(1))
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
            programs: Vec::new(),
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
        if spec.filters.is_empty() && spec.filter_program.is_none() && !spec.default {
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
        let filter_program = match &spec.filter_program {
            Some(words) => {
                let mine = self
                    .programs
                    .iter()
                    .filter(|id| self.binding(**id).is_some_and(|b| b.owner == spec.owner))
                    .count();
                if spec.owner != KERNEL_OWNER && mine >= MAX_PROGRAMS_PER_OWNER {
                    return Err(BindError::TooManyPrograms(MAX_PROGRAMS_PER_OWNER));
                }
                Some(load_filter_program(words)?)
            }
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
            filter_program,
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
        if binding.filter_program.is_some() {
            self.programs.push(id);
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
        self.programs.retain(|&p| p != id);
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

    /// The binding that takes `frame`: an atom filter's (compiled trie),
    /// else the first filter program's that returns 1.
    pub fn classify(&mut self, frame: &[u8]) -> Option<BindingId> {
        self.classify_atoms(frame)
            .or_else(|| self.classify_programs(frame))
    }

    /// The first binding (in install order) whose filter program takes
    /// `frame`; atom filters are not consulted.
    fn classify_programs(&mut self, frame: &[u8]) -> Option<BindingId> {
        let Demux {
            programs, bindings, ..
        } = self;
        programs.iter().copied().find(|id| {
            bindings
                .get_mut(id.0 as usize)
                .and_then(Option::as_mut)
                .and_then(|b| b.filter_program.as_mut())
                .is_some_and(|p| program_takes(p, frame))
        })
    }

    /// Whether a frame may be sent by `owner` under the filter-program
    /// half of the transmit rule (`super::tx`): no atom filter takes its
    /// `mirror` image, and a filter program of `owner`'s takes it.
    pub fn program_permits(&mut self, owner: hooks::OwnerId, mirror: &[u8]) -> bool {
        if self.classify_atoms(mirror).is_some() {
            return false;
        }
        self.bindings
            .iter_mut()
            .flatten()
            .filter(|b| b.owner == owner)
            .filter_map(|b| b.filter_program.as_mut())
            .any(|p| program_takes(p, mirror))
    }

    /// The binding whose atom filter takes `frame`, if any (the compiled
    /// trie).
    pub fn classify_atoms(&self, frame: &[u8]) -> Option<BindingId> {
        Atoms(self.trie.as_ref()).classify(frame)
    }

    /// Binding `id`, mutably, beside the atom classifier (its handler's
    /// sends are checked against both while it runs).
    pub fn binding_with_atoms(&mut self, id: BindingId) -> Option<(&mut Binding, Atoms<'_>)> {
        let b = self.bindings.get_mut(id.0 as usize)?.as_mut()?;
        Some((b, Atoms(self.trie.as_ref())))
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

    /// Whether no binding has a filter program (tests).
    pub fn is_empty_of_programs(&self) -> bool {
        self.programs.is_empty()
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
