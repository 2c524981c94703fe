//! Fixed virtual addresses of the user half (PML4 slots 0-255).
//!
//! ```text
//! 0x0000_0000_0040_0000               program image (linked by user/user.ld)
//! ...                                 free for the library OS (Map/Unmap)
//! STACK_TOP - 64 KiB .. STACK_TOP     initial stack, mapped at spawn
//! ...                                 free for the library OS
//! USER_MAP_END = PRIVATE_BASE         end of what environments may map
//! PRIVATE_BASE (PML4 slot 254)        per-environment read-only page
//! EXPORT_BASE  (PML4 slot 255)        read-only pages shared by all environments:
//!   + 0x0000_0000 KERNEL_INFO         kernel information and clock
//!   + 0x0000_1000 ENV_TABLE           environment table
//!   + 0x0000_2000 SLICE_VECTOR        time-slice vector
//!   + 0x0010_0000 NET_EXPORT          network counters and bindings (`net::export`), 1 MiB
//!   + 0x4000_0000 FRAME_TABLE         physical frame ownership table
//! USER_END                            start of the non-canonical hole
//! ```
//!
//! Everything from [`USER_MAP_END`] up is managed by the kernel: the map
//! calls refuse it with [`crate::Error::ReservedAddress`].

/// Where `user/user.ld` links program images.
pub const IMAGE_BASE: u64 = 0x0000_0000_0040_0000;
/// Top of the initial stack the kernel maps at spawn.
pub const STACK_TOP: u64 = 0x0000_7000_0000_0000;
/// Pages of the initial stack.
pub const STACK_PAGES: u64 = 16;
/// First address environments may not map.
pub const USER_MAP_END: u64 = PRIVATE_BASE;
/// The per-environment read-only page ([`crate::private::PrivatePage`]).
pub const PRIVATE_BASE: u64 = 0x0000_7F00_0000_0000;
/// Base of the read-only region shared by every environment.
pub const EXPORT_BASE: u64 = 0x0000_7F80_0000_0000;
/// [`crate::export::KernelInfo`].
pub const KERNEL_INFO: u64 = EXPORT_BASE;
/// [`crate::export::EnvTable`].
pub const ENV_TABLE: u64 = EXPORT_BASE + 0x1000;
/// [`crate::export::SliceVector`].
pub const SLICE_VECTOR: u64 = EXPORT_BASE + 0x2000;
/// The network counters and binding list ([`crate::net::export`]).
pub const NET_EXPORT: u64 = EXPORT_BASE + 0x10_0000;
/// Size of the network export window.
pub const NET_EXPORT_SIZE: u64 = 0x10_0000;
/// The frame ownership table: one [`crate::export::FrameEntry`] per
/// physical frame, [`crate::export::KernelInfo::frame_count`] entries.
pub const FRAME_TABLE: u64 = EXPORT_BASE + 0x4000_0000;
/// One past the highest user address (the lower canonical half).
pub const USER_END: u64 = 0x0000_8000_0000_0000;

// The regions follow each other without overlap.
const _: () = {
    assert!(STACK_TOP < USER_MAP_END);
    assert!(KERNEL_INFO < ENV_TABLE && ENV_TABLE < SLICE_VECTOR);
    assert!(SLICE_VECTOR + 0x1000 <= NET_EXPORT);
    assert!(NET_EXPORT + NET_EXPORT_SIZE <= FRAME_TABLE);
};

/// Whether `[vaddr, vaddr + len)` lies in the part of the user half an
/// environment may map (also false on overflow).
pub fn mappable(vaddr: u64, len: u64) -> bool {
    vaddr
        .checked_add(len)
        .is_some_and(|end| end <= USER_MAP_END)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn regions_are_ordered_and_slot_aligned() {
        const SLOT: u64 = 1 << 39;
        assert_eq!(PRIVATE_BASE % SLOT, 0);
        assert_eq!(PRIVATE_BASE / SLOT, 254);
        assert_eq!(EXPORT_BASE / SLOT, 255);
        assert!(mappable(0, USER_MAP_END));
        assert!(!mappable(USER_MAP_END - 4096, 8192));
        assert!(!mappable(u64::MAX, 2));
    }
}
