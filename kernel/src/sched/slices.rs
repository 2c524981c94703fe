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
    /// Bit `p` set: slot `p` is allocated (passes visit only those).
    allocated: u32,
}

const _: () = assert!(SLICE_SLOTS <= 32, "the allocation mask is one u32");

/// Positions of the set bits of `mask`, lowest first.
fn bits(mut mask: u32) -> impl Iterator<Item = usize> {
    core::iter::from_fn(move || {
        if mask == 0 {
            return None;
        }
        let p = mask.trailing_zeros() as usize;
        mask &= mask - 1;
        Some(p)
    })
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
            allocated: 0,
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
        self.allocated |= 1 << pos;
        Ok(pos)
    }

    /// Frees slot `pos` of `owner`.
    pub fn free(&mut self, owner: EnvId, pos: usize) -> Result<(), Error> {
        match self.slots.get(pos) {
            Some(s) if s.owner == Some(owner) => {
                self.slots[pos] = Slot::default();
                self.allocated &= !(1 << pos);
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
        bits(self.allocated).filter(move |&p| self.slots[p].owner == Some(env))
    }

    /// Positions whose holder is `env`.
    fn held_by(&self, env: EnvId) -> u32 {
        bits(self.allocated)
            .filter(|&p| self.slots[p].holder() == Some(env))
            .fold(0, |m, p| m | 1 << p)
    }

    /// Whether every slot `from` holds can be donated once more.
    pub fn can_donate(&self, from: EnvId) -> bool {
        bits(self.held_by(from)).all(|p| !self.slots[p].chain.is_full())
    }

    /// Donates every slot `from` holds to `to` (a synchronous transfer);
    /// returns the positions that changed.
    pub fn donate(&mut self, from: EnvId, to: EnvId) -> Result<u32, Error> {
        if !self.can_donate(from) {
            return Err(Error::TooDeep);
        }
        let changed = self.held_by(from);
        for p in bits(changed) {
            self.slots[p].chain.push(to);
        }
        Ok(changed)
    }

    /// Returns to `to` the slots it donated to `from` (a reply); returns
    /// the positions that changed.
    pub fn give_back(&mut self, from: EnvId, to: EnvId) -> u32 {
        let changed = bits(self.held_by(from))
            .filter(|&p| self.slots[p].previous() == Some(to))
            .fold(0, |m, p| m | 1 << p);
        for p in bits(changed) {
            self.slots[p].chain.pop();
        }
        changed
    }

    /// Removes `env` everywhere: its own slots are freed; slots donated to
    /// it return to whoever donated them. Returns how many it owned.
    pub fn forget(&mut self, env: EnvId) -> usize {
        let mut owned = 0;
        for p in bits(self.allocated) {
            let s = &mut self.slots[p];
            if s.owner == Some(env) {
                *s = Slot::default();
                self.allocated &= !(1 << p);
                owned += 1;
            } else if let Some(i) = s.chain.iter().position(|e| *e == env) {
                s.chain.truncate(i);
            }
        }
        owned
    }

    /// Writes the exported entries of the positions in `mask`.
    pub fn export_positions(&self, out: &mut Exported, mask: u32) {
        for p in bits(mask) {
            let s = &self.slots[p];
            out.entries[p] = SliceEntry {
                owner: s.owner.map_or(0, |o| o.0),
                holder: s.holder().map_or(0, |h| h.0),
            };
        }
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
        ensure_eq!(v.donate(a, b), Ok(1 << 3));
        ensure_eq!(v.give_back(b, a), 1 << 3);
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
