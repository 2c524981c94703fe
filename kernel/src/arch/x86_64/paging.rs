//! Kernel page tables: built by the kernel at boot (replacing the boot
//! stub's identity map) and extended later for the heap and kernel stacks.
//!
//! Built with the `x86_64` crate's `OffsetPageTable` over the direct map.
//! Policy: W^X everywhere (no mapping is both writable and executable), NX on
//! everything but kernel text, nothing in the user half.

use spin::Mutex;
use x86_64::registers::control::{Cr3, Cr3Flags, Cr4, Cr4Flags};
use x86_64::structures::paging::mapper::{MapToError, TranslateResult, UnmapError};
use x86_64::structures::paging::{
    FrameAllocator, Mapper, OffsetPageTable, Page, PageTable, PageTableFlags as F, PhysFrame,
    Size2MiB, Size4KiB, Translate,
};
use x86_64::{PhysAddr, VirtAddr};

use super::layout::{FIRST_KERNEL_PML4_SLOT, PAGE_SIZE, PHYSMAP_BASE, phys_to_virt};

/// Access rights of a kernel mapping.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    /// Read-only, not executable.
    Read,
    /// Read-write, not executable.
    ReadWrite,
    /// Read and execute, not writable.
    ReadExecute,
}

/// Caching of a mapping.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Caching {
    WriteBack,
    /// Uncached (memory-mapped device registers).
    Uncached,
}

/// Errors from page-table operations.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PagingError {
    /// No physical frame was free for a page table.
    OutOfFrames,
    /// The virtual page is already mapped.
    AlreadyMapped { virt: u64 },
    /// The virtual page is covered by a huge page.
    InsideHugePage { virt: u64 },
    /// The page is not mapped.
    NotMapped { virt: u64 },
    /// `switch`/`map` called before the kernel space exists.
    NotInitialized,
}

impl core::fmt::Display for PagingError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::OutOfFrames => write!(f, "out of physical frames for page tables"),
            Self::AlreadyMapped { virt } => write!(f, "virtual page {virt:#x} is already mapped"),
            Self::InsideHugePage { virt } => {
                write!(f, "virtual page {virt:#x} lies inside a huge page")
            }
            Self::NotMapped { virt } => write!(f, "virtual page {virt:#x} is not mapped"),
            Self::NotInitialized => write!(f, "kernel page tables are not built yet"),
        }
    }
}

impl<S: x86_64::structures::paging::PageSize> From<MapToError<S>> for PagingError {
    fn from(e: MapToError<S>) -> Self {
        match e {
            MapToError::FrameAllocationFailed => Self::OutOfFrames,
            MapToError::ParentEntryHugePage => Self::InsideHugePage { virt: 0 },
            MapToError::PageAlreadyMapped(f) => Self::AlreadyMapped {
                virt: f.start_address().as_u64(),
            },
        }
    }
}

/// Source of zeroed frames for page tables (the kernel's frame allocator).
pub type TableFrameSource<'a> = &'a mut dyn FnMut() -> Option<u64>;

struct Frames<'a>(TableFrameSource<'a>);

// SAFETY: the closure returns frames that the frame allocator hands out
// exclusively, so each one is unused.
unsafe impl FrameAllocator<Size4KiB> for Frames<'_> {
    fn allocate_frame(&mut self) -> Option<PhysFrame<Size4KiB>> {
        let phys = (self.0)()?;
        let virt = phys_to_virt(phys) as *mut u8;
        // SAFETY: the direct map covers all usable RAM and the frame is ours.
        unsafe { core::ptr::write_bytes(virt, 0, PAGE_SIZE as usize) };
        Some(PhysFrame::containing_address(PhysAddr::new(phys)))
    }
}

fn flags(access: Access, caching: Caching) -> F {
    let mut f = F::PRESENT | F::GLOBAL;
    match access {
        Access::Read => f |= F::NO_EXECUTE,
        Access::ReadWrite => f |= F::WRITABLE | F::NO_EXECUTE,
        Access::ReadExecute => {}
    }
    if caching == Caching::Uncached {
        f |= F::NO_CACHE | F::WRITE_THROUGH;
    }
    f
}

/// The kernel's address space (its PML4 and a mapper over the direct map).
pub struct KernelSpace {
    mapper: OffsetPageTable<'static>,
    pml4_phys: u64,
}

// SAFETY: the page tables are reachable only through the `KERNEL_SPACE` lock.
unsafe impl Send for KernelSpace {}

static KERNEL_SPACE: Mutex<Option<KernelSpace>> = Mutex::new(None);

impl KernelSpace {
    /// Creates an empty address space whose PML4 lives in a fresh frame.
    pub fn new(frames: TableFrameSource<'_>) -> Result<KernelSpace, PagingError> {
        let frame = Frames(frames)
            .allocate_frame()
            .ok_or(PagingError::OutOfFrames)?;
        let pml4_phys = frame.start_address().as_u64();
        // SAFETY: the frame is freshly allocated and zeroed, reachable
        // through the direct map, and owned by this KernelSpace from now on.
        let table = unsafe { &mut *(phys_to_virt(pml4_phys) as *mut PageTable) };
        // SAFETY: all physical memory is mapped at PHYSMAP_BASE.
        let mapper = unsafe { OffsetPageTable::new(table, VirtAddr::new(PHYSMAP_BASE)) };
        Ok(KernelSpace { mapper, pml4_phys })
    }

    /// Maps 4 KiB pages `[virt, virt + len)` to `[phys, phys + len)`.
    pub fn map_4k(
        &mut self,
        virt: u64,
        phys: u64,
        len: u64,
        access: Access,
        caching: Caching,
        frames: TableFrameSource<'_>,
    ) -> Result<(), PagingError> {
        let mut frames = Frames(frames);
        let f = flags(access, caching);
        for off in (0..len).step_by(PAGE_SIZE as usize) {
            let page = Page::<Size4KiB>::containing_address(VirtAddr::new(virt + off));
            let frame = PhysFrame::containing_address(PhysAddr::new(phys + off));
            // SAFETY: callers map frames they own (or device registers) at
            // kernel addresses nothing else uses; a live address space gets
            // the TLB flush below.
            let flush = unsafe { self.mapper.map_to(page, frame, f, &mut frames) }.map_err(
                |e| match e {
                    MapToError::PageAlreadyMapped(_) => {
                        PagingError::AlreadyMapped { virt: virt + off }
                    }
                    MapToError::ParentEntryHugePage => {
                        PagingError::InsideHugePage { virt: virt + off }
                    }
                    MapToError::FrameAllocationFailed => PagingError::OutOfFrames,
                },
            )?;
            flush.flush();
        }
        Ok(())
    }

    /// Maps `[virt, virt + len)` with 2 MiB pages (both aligned to 2 MiB).
    pub fn map_2m(
        &mut self,
        virt: u64,
        phys: u64,
        len: u64,
        access: Access,
        frames: TableFrameSource<'_>,
    ) -> Result<(), PagingError> {
        let mut frames = Frames(frames);
        let f = flags(access, Caching::WriteBack) | F::HUGE_PAGE;
        for off in (0..len).step_by(2 << 20) {
            let page = Page::<Size2MiB>::containing_address(VirtAddr::new(virt + off));
            let frame = PhysFrame::<Size2MiB>::containing_address(PhysAddr::new(phys + off));
            // SAFETY: as in `map_4k`.
            let flush = unsafe { self.mapper.map_to(page, frame, f, &mut frames) }?;
            flush.flush();
        }
        Ok(())
    }

    /// Unmaps one 4 KiB page and returns the physical frame it mapped.
    pub fn unmap_4k(&mut self, virt: u64) -> Result<u64, PagingError> {
        let page = Page::<Size4KiB>::containing_address(VirtAddr::new(virt));
        match self.mapper.unmap(page) {
            Ok((frame, flush)) => {
                flush.flush();
                Ok(frame.start_address().as_u64())
            }
            Err(UnmapError::ParentEntryHugePage) => Err(PagingError::InsideHugePage { virt }),
            Err(_) => Err(PagingError::NotMapped { virt }),
        }
    }

    /// Physical address and rights of a mapped kernel address.
    pub fn translate(&self, virt: u64) -> Option<Translation> {
        match self.mapper.translate(VirtAddr::new(virt)) {
            TranslateResult::Mapped {
                frame,
                offset,
                flags,
            } => Some(Translation {
                phys: frame.start_address().as_u64() + offset,
                writable: flags.contains(F::WRITABLE),
                executable: !flags.contains(F::NO_EXECUTE),
                user: flags.contains(F::USER_ACCESSIBLE),
                uncached: flags.contains(F::NO_CACHE),
            }),
            _ => None,
        }
    }

    /// Physical address of the PML4.
    pub fn pml4_phys(&self) -> u64 {
        self.pml4_phys
    }

    /// Makes this address space current and the one later `with_kernel_space`
    /// calls operate on. Enables global pages.
    pub fn activate(self) {
        let frame = PhysFrame::containing_address(PhysAddr::new(self.pml4_phys));
        // SAFETY: the new tables map the kernel image (text, rodata, data,
        // bss including the current stack) and the direct map at the same
        // virtual addresses as the boot tables, so execution continues.
        unsafe {
            Cr4::update(|f| f.insert(Cr4Flags::PAGE_GLOBAL));
            Cr3::write(frame, Cr3Flags::empty());
        }
        *KERNEL_SPACE.lock() = Some(self);
    }
}

/// Result of a translation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Translation {
    pub phys: u64,
    pub writable: bool,
    pub executable: bool,
    pub user: bool,
    pub uncached: bool,
}

/// Makes the kernel's own address space current again (after running
/// environments, before destroying one of their spaces).
pub fn activate_kernel_tables() {
    let guard = KERNEL_SPACE.lock();
    if let Some(space) = guard.as_ref() {
        // SAFETY: the kernel's tables map the whole kernel half, which every
        // user space shares, so the running code and stack stay mapped.
        unsafe { super::cpu::switch_address_space(space.pml4_phys) };
    }
}

/// Runs `f` on the active kernel address space.
pub fn with_kernel_space<R>(f: impl FnOnce(&mut KernelSpace) -> R) -> Result<R, PagingError> {
    let mut guard = KERNEL_SPACE.lock();
    let space = guard.as_mut().ok_or(PagingError::NotInitialized)?;
    Ok(f(space))
}

/// Findings of a walk over the whole active page-table tree.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Audit {
    /// Leaf mappings (any size).
    pub leaves: u64,
    /// Leaves that are both writable and executable (must be 0).
    pub writable_and_executable: u64,
    /// Present entries in the user half of the PML4 (must be 0 for the kernel).
    pub user_half_entries: u64,
    /// Leaves with the user bit (must be 0 for the kernel).
    pub user_leaves: u64,
}

/// Walks every present entry of the active page tables and counts policy
/// violations. The effective rights of a leaf combine all levels: writable
/// only if every level is writable, executable only if no level has NX.
pub fn audit() -> Audit {
    let (frame, _) = Cr3::read();
    let mut audit = Audit::default();
    let pml4 = table_at(frame.start_address().as_u64());
    for (slot, entry) in pml4.iter().enumerate() {
        if !entry.flags().contains(F::PRESENT) {
            continue;
        }
        if slot < FIRST_KERNEL_PML4_SLOT {
            audit.user_half_entries += 1;
        }
        walk(entry.addr().as_u64(), 3, entry.flags(), &mut audit);
    }
    audit
}

fn table_at(phys: u64) -> &'static PageTable {
    // SAFETY: `phys` comes from a present non-leaf entry of the active page
    // tables, so it is a page table in RAM, covered by the direct map. It is
    // only read.
    unsafe { &*(phys_to_virt(phys) as *const PageTable) }
}

fn walk(table_phys: u64, level: u8, inherited: F, audit: &mut Audit) {
    for entry in table_at(table_phys).iter() {
        let f = entry.flags();
        if !f.contains(F::PRESENT) {
            continue;
        }
        let writable = inherited.contains(F::WRITABLE) && f.contains(F::WRITABLE);
        let no_exec = inherited.contains(F::NO_EXECUTE) || f.contains(F::NO_EXECUTE);
        let user = inherited.contains(F::USER_ACCESSIBLE) && f.contains(F::USER_ACCESSIBLE);
        if level == 1 || f.contains(F::HUGE_PAGE) {
            audit.leaves += 1;
            if writable && !no_exec {
                audit.writable_and_executable += 1;
            }
            if user {
                audit.user_leaves += 1;
            }
        } else {
            let mut next = F::PRESENT;
            next.set(F::WRITABLE, writable);
            next.set(F::NO_EXECUTE, no_exec);
            next.set(F::USER_ACCESSIBLE, user);
            walk(entry.addr().as_u64(), level - 1, next, audit);
        }
    }
}
