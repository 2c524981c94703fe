//! Capability and flag bits.

use bitflags::bitflags;

bitflags! {
    /// Capabilities on a physical frame. The owner of a frame holds all of
    /// them; other environments hold what was granted to them.
    #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
    pub struct FrameCaps: u64 {
        /// May map the frame readable.
        const READ = 1 << 0;
        /// May map the frame writable.
        const WRITE = 1 << 1;
        /// May grant capabilities it holds on the frame to others.
        const GRANT = 1 << 2;
    }
}

bitflags! {
    /// Rights of a mapping installed with [`crate::Sysno::Map`]. Every
    /// mapping is readable and user accessible; these add to that.
    #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
    pub struct MapFlags: u64 {
        /// Writable (needs [`FrameCaps::WRITE`]).
        const WRITE = 1 << 0;
        /// Executable (needs [`FrameCaps::READ`]).
        const EXEC = 1 << 1;
    }
}

bitflags! {
    /// Kinds of upcall an environment accepts (one bit per
    /// [`crate::UpcallKind`], bit number = kind number).
    #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
    pub struct UpcallKinds: u64 {
        const EXCEPTION = 1 << 1;
        const PCT = 1 << 2;
        const SLICE_END = 1 << 3;
        const REVOCATION = 1 << 4;
        const REPOSSESSION = 1 << 5;
    }
}

impl MapFlags {
    /// The capabilities a mapping with these rights requires.
    pub fn required_caps(self) -> FrameCaps {
        if self.contains(MapFlags::WRITE) {
            FrameCaps::READ | FrameCaps::WRITE
        } else {
            FrameCaps::READ
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::UpcallKind;

    #[test]
    fn map_rights_need_matching_caps() {
        assert_eq!(MapFlags::empty().required_caps(), FrameCaps::READ);
        assert_eq!(
            (MapFlags::WRITE | MapFlags::EXEC).required_caps(),
            FrameCaps::READ | FrameCaps::WRITE
        );
        assert_eq!(MapFlags::from_bits(4), None);
    }

    #[test]
    fn upcall_kind_bits_follow_kind_numbers() {
        for k in UpcallKind::ALL {
            assert_eq!(
                UpcallKinds::from_bits(1 << k as u64).map(|b| b.bits()),
                Some(1 << k as u64)
            );
            assert_eq!(k.bit().bits(), 1 << k as u64);
        }
    }
}
