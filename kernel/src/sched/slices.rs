//! The time-slice vector (Aegis): a fixed ring of slots that environments
//! allocate by position. Slots run in order, one slice each. A slot's
//! **holder** (who runs in it) is its owner unless a synchronous protected
//! control transfer donated it: each slot keeps the chain of donations so a
//! reply returns the slot to exactly the environment that gave it.

use arrayvec::ArrayVec;

use exo_abi::export::{SLICE_SLOTS, SliceEntry, SliceVector as Exported};
use exo_abi::{EnvId, Error};

/// Deepest chain of synchronous transfers a slot follows.
pub const MAX_DONATION_DEPTH: usize = 8;

#[derive(Clone, Debug, Default)]
struct Slot {
    owner: Option<EnvId>,
    /// Environments the slot was donated to, in order (the last one runs).
    chain: ArrayVec<EnvId, MAX_DONATION_DEPTH>,
}

impl Slot {
    fn holder(&self) -> Option<EnvId> {
        self.chain.last().copied().or(self.owner)
    }

    /// The holder before the last donation.
    fn previous(&self) -> Option<EnvId> {
        match self.chain.len() {
            0 => None,
            1 => self.owner,
            n => Some(self.chain[n - 2]),
        }
    }
}

/// The slots.
#[derive(Clone, Debug)]
pub struct SliceVector {
    slots: [Slot; SLICE_SLOTS],
}

impl Default for SliceVector {
    fn default() -> Self {
        Self::new()
    }
}

impl SliceVector {
    pub fn new() -> SliceVector {
        SliceVector {
            slots: core::array::from_fn(|_| Slot::default()),
        }
    }

    /// Allocates slot `pos` (or the first free one) to `owner`.
    pub fn alloc(&mut self, owner: EnvId, pos: Option<usize>) -> Result<usize, Error> {
        let pos = match pos {
            Some(p) if p >= SLICE_SLOTS => return Err(Error::InvalidArgument),
            Some(p) if self.slots[p].owner.is_some() => return Err(Error::SlotTaken),
            Some(p) => p,
            None => self
                .slots
                .iter()
                .position(|s| s.owner.is_none())
                .ok_or(Error::NoFreeSlot)?,
        };
        self.slots[pos] = Slot {
            owner: Some(owner),
            chain: ArrayVec::new(),
        };
        Ok(pos)
    }

    /// Frees slot `pos` of `owner`.
    pub fn free(&mut self, owner: EnvId, pos: usize) -> Result<(), Error> {
        match self.slots.get(pos) {
            Some(s) if s.owner == Some(owner) => {
                self.slots[pos] = Slot::default();
                Ok(())
            }
            Some(_) => Err(Error::NotSlotOwner),
            None => Err(Error::InvalidArgument),
        }
    }

    pub fn owner(&self, pos: usize) -> Option<EnvId> {
        self.slots.get(pos).and_then(|s| s.owner)
    }

    /// Who runs in slot `pos`.
    pub fn holder(&self, pos: usize) -> Option<EnvId> {
        self.slots.get(pos).and_then(Slot::holder)
    }

    /// Positions owned by `env`.
    pub fn owned_by(&self, env: EnvId) -> impl Iterator<Item = usize> + '_ {
        (0..SLICE_SLOTS).filter(move |&p| self.slots[p].owner == Some(env))
    }

    /// Whether every slot `from` holds can be donated once more.
    pub fn can_donate(&self, from: EnvId) -> bool {
        self.slots
            .iter()
            .filter(|s| s.holder() == Some(from))
            .all(|s| !s.chain.is_full())
    }

    /// Donates every slot `from` holds to `to` (a synchronous transfer).
    pub fn donate(&mut self, from: EnvId, to: EnvId) -> Result<(), Error> {
        if !self.can_donate(from) {
            return Err(Error::TooDeep);
        }
        for s in self.slots.iter_mut().filter(|s| s.holder() == Some(from)) {
            s.chain.push(to);
        }
        Ok(())
    }

    /// Returns to `to` the slots it donated to `from` (a reply).
    pub fn give_back(&mut self, from: EnvId, to: EnvId) {
        for s in self
            .slots
            .iter_mut()
            .filter(|s| s.holder() == Some(from) && s.previous() == Some(to))
        {
            s.chain.pop();
        }
    }

    /// Removes `env` everywhere: its own slots are freed; slots donated to
    /// it return to whoever donated them. Returns the positions it owned.
    pub fn forget(&mut self, env: EnvId) -> usize {
        let mut owned = 0;
        for s in &mut self.slots {
            if s.owner == Some(env) {
                *s = Slot::default();
                owned += 1;
            } else if let Some(i) = s.chain.iter().position(|e| *e == env) {
                s.chain.truncate(i);
            }
        }
        owned
    }

    /// Writes the exported view.
    pub fn export(&self, out: &mut Exported) {
        for (e, s) in out.entries.iter_mut().zip(&self.slots) {
            *e = SliceEntry {
                owner: s.owner.map_or(0, |o| o.0),
                holder: s.holder().map_or(0, |h| h.0),
            };
        }
    }
}

crate::kernel_test! {
    fn slices_are_allocated_by_position_and_donated_along_chains() {
        let (a, b, c) = (EnvId(0x100), EnvId(0x101), EnvId(0x102));
        let mut v = SliceVector::new();
        ensure_eq!(v.alloc(a, Some(3)), Ok(3));
        ensure_eq!(v.alloc(b, Some(3)), Err(Error::SlotTaken));
        ensure_eq!(v.alloc(b, Some(SLICE_SLOTS)), Err(Error::InvalidArgument));
        ensure_eq!(v.alloc(b, None), Ok(0));
        ensure_eq!(v.free(b, 3), Err(Error::NotSlotOwner));
        // a calls b (a's slot 3 now runs b), b calls c.
        v.donate(a, b)?;
        ensure_eq!(v.holder(3), Some(b));
        v.donate(b, c)?;
        ensure_eq!((v.holder(3), v.holder(0)), (Some(c), Some(c)));
        // c replies to b: both slots go back to b; b replies to a.
        v.give_back(c, b);
        ensure_eq!((v.holder(3), v.holder(0)), (Some(b), Some(b)));
        v.give_back(b, a);
        ensure_eq!((v.holder(3), v.holder(0)), (Some(a), Some(b)));
        // Death in the middle of a chain returns the slot to the donor.
        v.donate(a, b)?;
        v.donate(b, c)?;
        ensure_eq!(v.forget(b), 1);
        ensure_eq!(v.holder(3), Some(a));
        ensure_eq!(v.owner(0), None);
        for _ in 0..MAX_DONATION_DEPTH {
            v.donate(v.holder(3).ok_or("no holder")?, c)?;
        }
        ensure_eq!(v.donate(c, a), Err(Error::TooDeep));
        Ok(())
    }
}
