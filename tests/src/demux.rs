//! The kernel's demultiplexer (`kernel/src/net/demux.rs`) on the host:
//! every binding's filters in one merged `Classifier` (the owner tag is
//! the binding's id), compiled by `ash_compiler::trie::compile_trie` and
//! placed in executable memory. Installing or removing a binding updates
//! the compiled code's leaf tables in place while every filter's update
//! can be made there, in the kernel's order, and recompiles otherwise.
//!
//! Three classifications of a frame must agree: the one-by-one reference
//! rule, the classifier's trie walk and the compiled code.

use ash_compiler::host::ExecBuffer;
use ash_compiler::trie::{CompiledTrie, TrieOptions, compile_trie};
use filter_lang::filter::{Classifier, Filter, FilterId, Hit, classify_one_by_one};

/// The compiled classifier and its placement.
struct Placed {
    trie: CompiledTrie,
    code: ExecBuffer,
}

/// Bindings' filters, merged and compiled.
pub struct Demux {
    classifier: Classifier,
    placed: Option<Placed>,
    opts: TrieOptions,
    /// Each binding's filter ids (`None` once removed); the index is the
    /// binding's id and the owner tag of its filters.
    bindings: Vec<Option<Vec<FilterId>>>,
    /// Installs and removals served by leaf-table updates alone.
    pub in_place_updates: u32,
    /// Compilations (the first one included).
    pub recompiles: u32,
}

impl Demux {
    /// An empty demultiplexer compiling with `opts`.
    pub fn new(opts: TrieOptions) -> Demux {
        Demux {
            classifier: Classifier::new(),
            placed: None,
            opts,
            bindings: Vec::new(),
            in_place_updates: 0,
            recompiles: 0,
        }
    }

    fn recompile(&mut self) -> Result<(), String> {
        if self.classifier.is_empty() {
            self.placed = None;
            return Ok(());
        }
        let trie = compile_trie(&self.classifier, &self.opts).map_err(|e| e.to_string())?;
        let code = ExecBuffer::new_trie(&trie).map_err(|e| e.to_string())?;
        self.recompiles += 1;
        self.placed = Some(Placed { trie, code });
        Ok(())
    }

    /// Installs a binding with `filters`; returns its id.
    pub fn install(&mut self, filters: Vec<Filter>) -> Result<u32, String> {
        let id = self.bindings.len() as u32;
        let mut ids = Vec::with_capacity(filters.len());
        let mut in_place = self.placed.is_some();
        for f in filters {
            let fid = self.classifier.insert(f, id).map_err(|e| e.to_string())?;
            ids.push(fid);
            if in_place && let Some(p) = self.placed.as_mut() {
                in_place = p.trie.leaves.insert_in_place(&self.classifier, fid);
            }
        }
        if ids.is_empty() {
        } else if in_place {
            self.in_place_updates += 1;
        } else {
            self.recompile()?;
        }
        self.bindings.push(Some(ids));
        Ok(id)
    }

    /// Removes binding `id` and its filters.
    pub fn remove(&mut self, id: u32) -> Result<(), String> {
        let ids = self
            .bindings
            .get_mut(id as usize)
            .and_then(Option::take)
            .ok_or_else(|| format!("no binding {id}"))?;
        let mut in_place = self.placed.is_some();
        for fid in ids {
            let (filter, _) = self
                .classifier
                .remove(fid)
                .ok_or_else(|| format!("filter {fid:?} of binding {id} is missing"))?;
            if in_place && let Some(p) = self.placed.as_mut() {
                in_place = p.trie.leaves.remove_in_place(&self.classifier, &filter);
            }
        }
        if in_place && !self.classifier.is_empty() {
            self.in_place_updates += 1;
            Ok(())
        } else {
            self.recompile()
        }
    }

    /// The live bindings' ids.
    pub fn live(&self) -> Vec<u32> {
        (0..self.bindings.len() as u32)
            .filter(|&i| self.bindings[i as usize].is_some())
            .collect()
    }

    /// Installed filters.
    pub fn len(&self) -> usize {
        self.classifier.len()
    }

    pub fn is_empty(&self) -> bool {
        self.classifier.is_empty()
    }

    pub fn classifier(&self) -> &Classifier {
        &self.classifier
    }

    /// The reference: every installed filter tried one by one.
    pub fn classify_reference(&self, frame: &[u8]) -> Option<Hit> {
        classify_one_by_one(self.classifier.filters(), frame)
    }

    /// The classifier's own trie walk.
    pub fn classify_trie(&self, frame: &[u8]) -> Option<Hit> {
        self.classifier.classify(frame)
    }

    /// The compiled code: the winning filter and its owner.
    pub fn classify_compiled(&self, frame: &[u8]) -> Option<Hit> {
        let p = self.placed.as_ref()?;
        // SAFETY: `p.code` holds `p.trie`'s code, placed by
        // `ExecBuffer::new_trie`, and `p.trie.leaves` are that
        // compilation's tables, changed since only by `LeafTables` itself.
        let hit = unsafe { p.code.classify(&p.trie.leaves, frame) };
        hit.map(|(id, owner)| Hit {
            id: FilterId(id),
            owner,
        })
    }

    /// Classifies `frame` all three ways; an error describes a
    /// disagreement.
    pub fn check(&self, frame: &[u8]) -> Result<Option<Hit>, String> {
        let want = self.classify_reference(frame);
        let trie = self.classify_trie(frame);
        let compiled = self.classify_compiled(frame);
        if trie != want || compiled != want {
            return Err(format!(
                "reference {want:?}, trie {trie:?}, compiled {compiled:?} for a {}-byte frame {frame:02x?}",
                frame.len()
            ));
        }
        Ok(want)
    }
}
