//! Memory management: physical frames, the kernel's own page tables, the
//! kernel heap and kernel stacks.
//!
//! `init` runs once at boot: it builds the frame table from the boot memory
//! map, builds fresh kernel page tables (image sections with W^X rights,
//! guard pages left unmapped, the direct map of RAM with NX, the APIC page
//! uncached), switches to them (dropping the boot identity map), then maps
//! the initial heap.

pub mod frame;
pub mod heap;
pub mod kstack;
pub mod phys;

use spin::Once;

use crate::arch::layout::{self, PAGE_SIZE, phys_to_virt};
use crate::arch::paging::{Access, Caching, KernelSpace, PagingError};
use crate::boot_info::{BootInfo, MemoryMap};
use frame::FrameUse;

/// Errors during memory initialization.
#[derive(Clone, Copy, Debug)]
pub enum MmError {
    Frame(frame::FrameError),
    Paging(PagingError),
    Heap(heap::HeapError),
    /// RAM extends past what the direct map can cover.
    TooMuchMemory {
        end: u64,
    },
}

impl core::fmt::Display for MmError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::Frame(e) => write!(f, "frame allocator: {e}"),
            Self::Paging(e) => write!(f, "kernel page tables: {e}"),
            Self::Heap(e) => write!(f, "{e}"),
            Self::TooMuchMemory { end } => {
                write!(
                    f,
                    "RAM ends at {end:#x}, beyond the {:#x}-byte direct map",
                    layout::PHYSMAP_MAX
                )
            }
        }
    }
}

impl From<PagingError> for MmError {
    fn from(e: PagingError) -> Self {
        Self::Paging(e)
    }
}

/// What `init` set up, for the boot banner.
#[derive(Clone, Copy, Debug)]
pub struct MemoryReport {
    pub usable_bytes: u64,
    pub frames_total: usize,
    pub frames_free: usize,
    pub direct_map_bytes: u64,
    pub heap_bytes: u64,
    pub pml4_phys: u64,
}

static MEMORY_MAP: Once<MemoryMap> = Once::new();

/// The boot memory map (after `init`).
pub fn memory_map() -> &'static MemoryMap {
    MEMORY_MAP.get().expect("mm::init has not run")
}

fn table_frame() -> Option<u64> {
    frame::alloc(FrameUse::PageTable).ok().map(|f| f.phys())
}

/// Maps `[start, end)` of the kernel image with `access`, skipping `skip`.
fn map_image_range(
    space: &mut KernelSpace,
    (start, end): (u64, u64),
    access: Access,
    skip: &[u64],
) -> Result<(), PagingError> {
    for page in (start..end).step_by(PAGE_SIZE as usize) {
        if skip.contains(&page) {
            continue;
        }
        space.map_4k(
            page,
            page - layout::KERNEL_BASE,
            PAGE_SIZE,
            access,
            Caching::WriteBack,
            &mut table_frame,
        )?;
    }
    Ok(())
}

/// Sets up physical and virtual memory. `apic_phys` is the local APIC's
/// register page, mapped uncached in the direct map.
pub fn init(boot: &BootInfo, apic_phys: u64) -> Result<MemoryReport, MmError> {
    let map = MEMORY_MAP.call_once(|| boot.memory);
    frame::init(map, layout::image_physical_range()).map_err(MmError::Frame)?;

    let mut space = KernelSpace::new(&mut table_frame)?;
    let sections = layout::image_sections();
    let guards: [u64; crate::arch::gdt::STATIC_STACKS] = {
        let mut g = [0; crate::arch::gdt::STATIC_STACKS];
        for (slot, page) in g.iter_mut().zip(kstack::static_guard_pages()) {
            *slot = page;
        }
        g
    };
    map_image_range(&mut space, sections.text, Access::ReadExecute, &guards)?;
    map_image_range(&mut space, sections.rodata, Access::Read, &guards)?;
    map_image_range(&mut space, sections.data, Access::ReadWrite, &guards)?;
    map_image_range(&mut space, sections.bss, Access::ReadWrite, &guards)?;

    const HUGE: u64 = 2 << 20;
    let direct_end = map.usable_end().next_multiple_of(HUGE);
    if direct_end > layout::PHYSMAP_MAX {
        return Err(MmError::TooMuchMemory { end: direct_end });
    }
    space.map_2m(
        phys_to_virt(0),
        0,
        direct_end,
        Access::ReadWrite,
        &mut table_frame,
    )?;
    if apic_phys >= direct_end {
        space.map_4k(
            phys_to_virt(apic_phys),
            apic_phys,
            PAGE_SIZE,
            Access::ReadWrite,
            Caching::Uncached,
            &mut table_frame,
        )?;
    }
    let pml4_phys = space.pml4_phys();
    space.activate();
    frame::lift_boot_limit();

    heap::init().map_err(MmError::Heap)?;
    let (frames_total, frames_free) =
        frame::with_table(|t| (t.len(), t.free_frames())).map_err(MmError::Frame)?;
    Ok(MemoryReport {
        usable_bytes: map.usable_bytes(),
        frames_total,
        frames_free,
        direct_map_bytes: direct_end,
        heap_bytes: heap::usage().0,
        pml4_phys,
    })
}

/// Makes device registers at `[phys, phys + len)` reachable and returns
/// their kernel-virtual address (in the direct map). Pages beyond the RAM
/// covered by the direct map are mapped read-write, uncached, NX; pages
/// inside it are already mapped (the firmware's MTRRs make PCI holes
/// uncached).
pub fn map_mmio(phys: u64, len: u64) -> Result<u64, MmError> {
    use crate::arch::paging::with_kernel_space;
    let start = phys & !(PAGE_SIZE - 1);
    let end = phys
        .checked_add(len)
        .ok_or(MmError::TooMuchMemory { end: u64::MAX })?;
    if end > layout::PHYSMAP_MAX {
        return Err(MmError::TooMuchMemory { end });
    }
    for page in (start..end).step_by(PAGE_SIZE as usize) {
        let virt = phys_to_virt(page);
        let mapped = with_kernel_space(|k| k.translate(virt))?;
        match mapped {
            Some(t) if t.phys == page => continue,
            Some(_) => return Err(MmError::Paging(PagingError::AlreadyMapped { virt })),
            None => with_kernel_space(|k| {
                k.map_4k(
                    virt,
                    page,
                    PAGE_SIZE,
                    Access::ReadWrite,
                    Caching::Uncached,
                    &mut table_frame,
                )
            })??,
        }
    }
    Ok(phys_to_virt(phys))
}

crate::kernel_test! {
    fn page_tables_are_w_xor_x_and_leave_the_user_half_empty() {
        let audit = crate::arch::paging::audit();
        ensure!(audit.leaves > 0, "no mappings found");
        ensure_eq!(audit.writable_and_executable, 0);
        ensure_eq!(audit.user_half_entries, 0);
        ensure_eq!(audit.user_leaves, 0);
        Ok(())
    }
}

crate::kernel_test! {
    fn image_sections_have_their_rights() {
        use crate::arch::paging::with_kernel_space;
        let s = layout::image_sections();
        let text = with_kernel_space(|k| k.translate(s.text.0))?.ok_or("text unmapped")?;
        ensure!(text.executable && !text.writable, "text is {text:?}");
        let ro = with_kernel_space(|k| k.translate(s.rodata.0))?.ok_or("rodata unmapped")?;
        ensure!(!ro.executable && !ro.writable, "rodata is {ro:?}");
        let data = with_kernel_space(|k| k.translate(s.data.0))?.ok_or("data unmapped")?;
        ensure!(!data.executable && data.writable, "data is {data:?}");
        ensure_eq!(text.phys, s.text.0 - layout::KERNEL_BASE);
        let low = with_kernel_space(|k| k.translate(0x10_0000))?;
        ensure!(low.is_none(), "the boot identity map is still present: {low:?}");
        Ok(())
    }
}

crate::kernel_test! {
    fn mmio_mapping_reaches_the_hpet() {
        // QEMU's pc machine has an HPET at 0xFED0_0000; its capabilities
        // register reports vendor 0x8086 and a 10 ns (0x0098_9680 fs) period.
        const HPET: u64 = 0xFED0_0000;
        let virt = map_mmio(HPET, PAGE_SIZE)?;
        let t = crate::arch::paging::with_kernel_space(|k| k.translate(virt))?.ok_or("HPET page unmapped")?;
        ensure!(t.uncached && t.writable && !t.executable, "HPET mapping has rights {t:?}");
        // SAFETY: `virt` maps the HPET's register page; the capabilities
        // register at offset 0 is read-only and reading it has no effect.
        let caps = unsafe { core::ptr::read_volatile(virt as *const u64) };
        ensure_eq!((caps >> 16) & 0xFFFF, 0x8086);
        ensure_eq!(caps >> 32, 10_000_000);
        ensure_eq!(map_mmio(HPET, PAGE_SIZE)?, virt);
        Ok(())
    }
}
