//! The per-environment read-only page at [`crate::layout::PRIVATE_BASE`]:
//! the environment's identity and its **repossession vector**, where the
//! kernel records every resource it took back by force (abort protocol).

/// Entries kept in the repossession vector (a ring: entry `i` is at
/// `entries[i % REPOSSESSION_CAPACITY]`).
pub const REPOSSESSION_CAPACITY: usize = 100;

/// [`RepossessionEntry::vaddr`] when the frame was not mapped by the
/// environment.
pub const NO_ADDRESS: u64 = u64::MAX;
/// [`RepossessionEntry::dump_page`] when the contents were not saved (no
/// dump area, dump area full or unmapped, or not a frame).
pub const NO_DUMP: u64 = u64::MAX;

/// What was taken.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u32)]
pub enum RepossessedKind {
    /// A physical frame (`resource` = frame number).
    Frame = 1,
    /// A time-slice slot (`resource` = slot position).
    Slot = 2,
    /// Nothing yet: a warning that the next overrun aborts the environment
    /// (`resource` = strikes so far).
    Warning = 3,
}

/// Why it was taken.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u32)]
pub enum RepossessionReason {
    /// A revocation request was not met by its deadline.
    RevocationDeadline = 1,
    /// The end-of-slice handler did not yield within its budget.
    SliceOverrun = 2,
    /// Emergency repossession below the guaranteed minimum (after a warning).
    Emergency = 3,
}

impl RepossessedKind {
    pub fn from_u32(v: u32) -> Option<Self> {
        Some(match v {
            1 => Self::Frame,
            2 => Self::Slot,
            3 => Self::Warning,
            _ => return None,
        })
    }
}

impl RepossessionReason {
    pub fn from_u32(v: u32) -> Option<Self> {
        Some(match v {
            1 => Self::RevocationDeadline,
            2 => Self::SliceOverrun,
            3 => Self::Emergency,
            _ => return None,
        })
    }
}

/// One record of the repossession vector (40 bytes).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[repr(C)]
pub struct RepossessionEntry {
    /// A [`RepossessedKind`].
    pub kind: u32,
    /// A [`RepossessionReason`].
    pub reason: u32,
    /// Frame number, slot position, or strike count.
    pub resource: u64,
    /// A virtual address the frame was mapped at in this environment, or
    /// [`NO_ADDRESS`].
    pub vaddr: u64,
    /// Page index in the dump area holding the frame's last contents, or
    /// [`NO_DUMP`].
    pub dump_page: u64,
    /// Kernel clock at the repossession.
    pub time_ns: u64,
}

/// The page at [`crate::layout::PRIVATE_BASE`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(C)]
pub struct PrivatePage {
    /// The environment's own id.
    pub id: u32,
    /// Its parent (0: started by the kernel).
    pub parent: u32,
    /// The spawn argument.
    pub arg: u64,
    /// Entries written to the repossession vector so far.
    pub repossessions: u64,
    pub reserved: [u64; 5],
    pub entries: [RepossessionEntry; REPOSSESSION_CAPACITY],
}

impl PrivatePage {
    /// Entry number `n` (counting from 0 over the whole life), if still in
    /// the ring.
    pub fn entry(&self, n: u64) -> Option<&RepossessionEntry> {
        let cap = REPOSSESSION_CAPACITY as u64;
        if n >= self.repossessions || self.repossessions - n > cap {
            return None;
        }
        self.entries.get((n % cap) as usize)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use core::mem::{offset_of, size_of};

    #[test]
    fn layout() {
        assert_eq!(size_of::<RepossessionEntry>(), 40);
        assert_eq!(offset_of!(PrivatePage, repossessions), 16);
        assert_eq!(offset_of!(PrivatePage, entries), 64);
        assert!(size_of::<PrivatePage>() <= 4096);
    }

    #[test]
    fn ring_indexing() {
        let mut p = PrivatePage {
            id: 1,
            parent: 0,
            arg: 0,
            repossessions: 0,
            reserved: [0; 5],
            entries: [RepossessionEntry::default(); REPOSSESSION_CAPACITY],
        };
        assert!(p.entry(0).is_none());
        p.repossessions = 105;
        p.entries[4].resource = 104;
        assert_eq!(p.entry(104).map(|e| e.resource), Some(104));
        assert!(p.entry(4).is_none(), "overwritten by entry 104");
        assert!(p.entry(5).is_some());
        assert!(p.entry(105).is_none());
    }

    #[test]
    fn kinds_and_reasons_decode() {
        assert_eq!(RepossessedKind::from_u32(2), Some(RepossessedKind::Slot));
        assert_eq!(RepossessedKind::from_u32(0), None);
        assert_eq!(
            RepossessionReason::from_u32(3),
            Some(RepossessionReason::Emergency)
        );
        assert_eq!(RepossessionReason::from_u32(4), None);
    }
}
