//! Environment identifiers.

use core::fmt;

/// Most environments alive at once (the size of the exported table).
pub const MAX_ENVS: usize = 64;

/// An environment identifier: `generation << 8 | index`. The index selects
/// the slot of the environment table ([`crate::export::EnvEntry`]); the
/// generation (never 0) changes each time a slot is reused, so a stale id
/// never names a newer environment. 0 names no environment.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
#[repr(transparent)]
pub struct EnvId(pub u32);

impl EnvId {
    /// No environment.
    pub const NONE: EnvId = EnvId(0);

    /// The id of table slot `index` in `generation` (`None` if out of range).
    pub fn new(index: usize, generation: u32) -> Option<EnvId> {
        if index >= MAX_ENVS || generation == 0 || generation >= 1 << 24 {
            return None;
        }
        Some(EnvId(generation << 8 | index as u32))
    }

    /// Decodes a register value (`None` for 0 and for values that cannot
    /// be an id).
    pub fn from_u64(v: u64) -> Option<EnvId> {
        let v = u32::try_from(v).ok()?;
        let id = EnvId(v);
        (id.generation() != 0 && id.index() < MAX_ENVS).then_some(id)
    }

    /// Slot in the environment table.
    pub const fn index(self) -> usize {
        (self.0 & 0xFF) as usize
    }

    /// Generation of the slot.
    pub const fn generation(self) -> u32 {
        self.0 >> 8
    }

    pub const fn is_none(self) -> bool {
        self.0 == 0
    }
}

impl fmt::Display for EnvId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "env {}.{}", self.index(), self.generation())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_encode_index_and_generation() {
        let id = EnvId::new(5, 3).unwrap();
        assert_eq!((id.index(), id.generation()), (5, 3));
        assert_eq!(EnvId::from_u64(u64::from(id.0)), Some(id));
        assert_eq!(EnvId::new(MAX_ENVS, 1), None);
        assert_eq!(EnvId::new(0, 0), None);
        assert_eq!(EnvId::from_u64(0), None);
        assert_eq!(EnvId::from_u64(1 << 40), None);
        assert_eq!(EnvId::from_u64(0x1FF), None, "index 255 is out of range");
    }
}
