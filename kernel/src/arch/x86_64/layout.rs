//! The kernel's virtual memory layout (x86-64, 4-level paging).
//!
//! ```text
//! 0x0000_0000_0000_0000 - 0x0000_7FFF_FFFF_FFFF  user half (PML4 0-255): never mapped by the kernel
//! 0xFFFF_8000_0000_0000 - +512 GiB                direct map of physical memory (PML4 256), RW, NX
//! 0xFFFF_C000_0000_0000 - +1 GiB                  kernel heap (PML4 384), RW, NX, grown on demand
//! 0xFFFF_FD00_0000_0000 - +512 GiB                compiled code (PML4 506): JIT'd classifiers and handlers, RX once placed
//! 0xFFFF_FD80_0000_0000 - +512 GiB                network windows (PML4 507): environment pages bound to handlers, RW, NX
//! 0xFFFF_FE00_0000_0000 - ...                     kernel stacks (PML4 508), each under an unmapped guard page
//! 0xFFFF_FFFF_8000_0000 + phys                    kernel image (PML4 511): text RX, rodata R, data/bss RW+NX
//! ```
//!
//! Environments get their own PML4 whose upper half (slots 256-511) is
//! copied from the kernel's, so kernel mappings are shared and user
//! mappings can never reach a kernel slot (`user_space.rs`).

/// Base of the direct map of physical memory.
pub const PHYSMAP_BASE: u64 = 0xFFFF_8000_0000_0000;
/// Largest physical address the direct map can cover.
pub const PHYSMAP_MAX: u64 = 512 << 30;
/// Base of the kernel heap.
pub const HEAP_BASE: u64 = 0xFFFF_C000_0000_0000;
/// Largest size the kernel heap can grow to.
pub const HEAP_MAX: u64 = 1 << 30;
/// Base of the region for compiled code (the network path's classifier and
/// handlers: mapped read-write while written, then read-execute).
pub const CODE_BASE: u64 = 0xFFFF_FD00_0000_0000;
/// Size of the compiled-code region.
pub const CODE_SIZE: u64 = 512 << 30;
/// Base of the network windows: the pages of an environment's handler
/// regions mapped contiguously (RW, NX) so that compiled handlers reach
/// them at one kernel address (`net/window.rs`).
pub const NET_WINDOW_BASE: u64 = 0xFFFF_FD80_0000_0000;
/// Size of the network-window region.
pub const NET_WINDOW_SIZE: u64 = 512 << 30;
/// Base of the kernel-stack region.
pub const STACKS_BASE: u64 = 0xFFFF_FE00_0000_0000;
/// Size of the kernel-stack region.
pub const STACKS_SIZE: u64 = 512 << 30;
/// Virtual address of physical address 0 in the kernel image mapping.
pub const KERNEL_BASE: u64 = 0xFFFF_FFFF_8000_0000;
/// Exclusive upper bound of user addresses (the lower canonical half).
pub const USER_END: u64 = 0x0000_8000_0000_0000;
/// First PML4 slot that belongs to the kernel.
pub const FIRST_KERNEL_PML4_SLOT: usize = 256;
/// Page size.
pub const PAGE_SIZE: u64 = 4096;

/// Kernel-virtual address of a physical address through the direct map.
pub const fn phys_to_virt(phys: u64) -> u64 {
    PHYSMAP_BASE + phys
}

/// Sections of the linked kernel image (addresses from the link script).
#[derive(Clone, Copy, Debug)]
pub struct ImageSections {
    pub text: (u64, u64),
    pub rodata: (u64, u64),
    pub data: (u64, u64),
    pub bss: (u64, u64),
}

unsafe extern "C" {
    static __text_start: u8;
    static __text_end: u8;
    static __rodata_start: u8;
    static __rodata_end: u8;
    static __data_start: u8;
    static __data_end: u8;
    static __bss_start: u8;
    static __bss_end: u8;
    static __image_phys_start: u8;
}

/// Virtual bounds of the kernel image sections.
pub fn image_sections() -> ImageSections {
    let a = |p: *const u8| p as u64;
    ImageSections {
        text: (a(&raw const __text_start), a(&raw const __text_end)),
        rodata: (a(&raw const __rodata_start), a(&raw const __rodata_end)),
        data: (a(&raw const __data_start), a(&raw const __data_end)),
        bss: (a(&raw const __bss_start), a(&raw const __bss_end)),
    }
}

/// Physical range `[start, end)` occupied by the loaded kernel image
/// (including the boot section and `.bss`).
pub fn image_physical_range() -> (u64, u64) {
    let start = &raw const __image_phys_start as u64;
    (start, image_sections().bss.1 - KERNEL_BASE)
}
