//! The environment table: fixed slots with generation counters, so an id
//! names one environment for ever and a stale id finds nothing; and the log
//! of how recent environments ended.

use alloc::boxed::Box;
use alloc::collections::VecDeque;
use core::sync::atomic::{AtomicU32, Ordering};

use exo_abi::EnvId;
use exo_abi::ids::MAX_ENVS;

use super::environment::{Env, ExitStatus};

/// Ids of live environments by slot, readable without the kernel lock.
static ALIVE: [AtomicU32; MAX_ENVS] = [const { AtomicU32::new(0) }; MAX_ENVS];

/// Whether `id` names a live environment (lock-free; for interrupt context
/// and for subsystems that hold their own locks).
pub fn is_alive(id: EnvId) -> bool {
    !id.is_none()
        && ALIVE
            .get(id.index())
            .is_some_and(|a| a.load(Ordering::Acquire) == id.0)
}

struct Slot {
    generation: u32,
    env: Option<Box<Env>>,
}

/// Live environments by slot.
pub struct EnvTable {
    slots: [Slot; MAX_ENVS],
    /// Bit `i` set: slot `i` holds an environment (iteration stops at the
    /// highest one, so the kernel loop's passes cost what is alive, not
    /// the table size).
    occupied: u64,
}

const _: () = assert!(MAX_ENVS <= 64, "the occupancy mask is one u64");

impl EnvTable {
    pub fn new() -> EnvTable {
        EnvTable {
            slots: core::array::from_fn(|_| Slot {
                generation: 0,
                env: None,
            }),
            occupied: 0,
        }
    }

    /// The live environment `id`.
    pub fn get(&self, id: EnvId) -> Option<&Env> {
        self.slots
            .get(id.index())
            .and_then(|s| s.env.as_deref())
            .filter(|e| e.id == id)
    }

    /// The live environment `id`, mutably.
    pub fn get_mut(&mut self, id: EnvId) -> Option<&mut Env> {
        self.slots
            .get_mut(id.index())
            .and_then(|s| s.env.as_deref_mut())
            .filter(|e| e.id == id)
    }

    /// Two distinct live environments at once.
    pub fn pair_mut(&mut self, a: EnvId, b: EnvId) -> Option<(&mut Env, &mut Env)> {
        if a.index() == b.index() {
            return None;
        }
        let (lo, hi, swapped) = if a.index() < b.index() {
            (a, b, false)
        } else {
            (b, a, true)
        };
        let (left, right) = self.slots.split_at_mut(hi.index());
        let x = left[lo.index()].env.as_deref_mut().filter(|e| e.id == lo)?;
        let y = right[0].env.as_deref_mut().filter(|e| e.id == hi)?;
        Some(if swapped { (y, x) } else { (x, y) })
    }

    /// The id of the environment in slot `index`.
    pub fn id_at(&self, index: usize) -> Option<EnvId> {
        self.slots.get(index)?.env.as_ref().map(|e| e.id)
    }

    /// Reserves a slot: the id the next [`EnvTable::insert`] will use.
    pub fn next_id(&self) -> Option<EnvId> {
        let (index, slot) = self
            .slots
            .iter()
            .enumerate()
            .find(|(_, s)| s.env.is_none())?;
        let generation = match slot.generation.wrapping_add(1) {
            g if g == 0 || g >= 1 << 24 => 1,
            g => g,
        };
        EnvId::new(index, generation)
    }

    /// Places `env` (whose id came from [`EnvTable::next_id`]).
    pub fn insert(&mut self, env: Env) {
        let slot = &mut self.slots[env.id.index()];
        assert!(slot.env.is_none(), "environment slot in use");
        slot.generation = env.id.generation();
        ALIVE[env.id.index()].store(env.id.0, Ordering::Release);
        self.occupied |= 1 << env.id.index();
        slot.env = Some(Box::new(env));
    }

    /// Takes environment `id` out of the table.
    pub fn remove(&mut self, id: EnvId) -> Option<Box<Env>> {
        let slot = self.slots.get_mut(id.index())?;
        if slot.env.as_ref().is_some_and(|e| e.id == id) {
            ALIVE[id.index()].store(0, Ordering::Release);
            self.occupied &= !(1 << id.index());
            slot.env.take()
        } else {
            None
        }
    }

    /// Slots up to the highest occupied one.
    fn span(&self) -> usize {
        64 - self.occupied.leading_zeros() as usize
    }

    /// Ids of all live environments.
    pub fn ids(&self) -> impl Iterator<Item = EnvId> + '_ {
        self.iter().map(|e| e.id)
    }

    /// All live environments.
    pub fn iter(&self) -> impl Iterator<Item = &Env> {
        self.slots[..self.span()]
            .iter()
            .filter_map(|s| s.env.as_deref())
    }

    /// All live environments, mutably.
    pub fn iter_mut(&mut self) -> impl Iterator<Item = &mut Env> {
        let span = self.span();
        self.slots[..span]
            .iter_mut()
            .filter_map(|s| s.env.as_deref_mut())
    }

    /// Live environments.
    pub fn live(&self) -> usize {
        self.occupied.count_ones() as usize
    }
}

impl Default for EnvTable {
    fn default() -> Self {
        Self::new()
    }
}

/// How the most recent environments ended (bounded).
#[derive(Default)]
pub struct ExitLog {
    entries: VecDeque<(EnvId, &'static str, ExitStatus)>,
}

const EXIT_LOG_LEN: usize = 128;

impl ExitLog {
    pub fn record(&mut self, id: EnvId, name: &'static str, status: ExitStatus) {
        if self.entries.len() == EXIT_LOG_LEN {
            self.entries.pop_front();
        }
        self.entries.push_back((id, name, status));
    }

    /// How `id` ended, if it ended recently.
    pub fn status(&self, id: EnvId) -> Option<ExitStatus> {
        self.entries
            .iter()
            .rev()
            .find(|(i, _, _)| *i == id)
            .map(|(_, _, s)| *s)
    }
}
