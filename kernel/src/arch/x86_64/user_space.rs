//! Address spaces of environments: page tables whose lower half the
//! environment builds through system calls and whose upper half is the
//! kernel's.
//!
//! A `UserSpace` owns a PML4 whose slots 256-511 are copies of the
//! kernel's (the kernel pre-creates the next-level tables of every kernel
//! slot, so later kernel mappings show up everywhere), slot 255 points at
//! the shared tables of the read-only export region (present, user, never
//! writable at the top level), and slots 0-254 belong to the environment.
//! Leaf rights come from the caller (already checked against
//! capabilities); intermediate tables are always present + writable + user,
//! so the leaf alone decides. The kernel reads and writes user memory only
//! through [`UserSpace::read`]/[`UserSpace::write`], which walk the tables
//! in software and copy through the direct map: a bad user pointer is an
//! error, never a kernel page fault.

use x86_64::structures::paging::mapper::{MapToError, TranslateResult, UnmapError};
use x86_64::structures::paging::{
    Mapper, OffsetPageTable, Page, PageTable, PageTableFlags as F, PhysFrame, Size4KiB, Translate,
};
use x86_64::{PhysAddr, VirtAddr};

use super::layout::{FIRST_KERNEL_PML4_SLOT, PAGE_SIZE, PHYSMAP_BASE, phys_to_virt};
use super::paging::{PagingError, TableFrameSource};

/// PML4 slot of the export region (shared by all spaces).
pub const EXPORT_SLOT: usize = 255;
/// PML4 slot of the per-environment private page.
pub const PRIVATE_SLOT: usize = 254;

/// Rights of a user mapping (always readable and user accessible).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct UserRights {
    pub writable: bool,
    pub executable: bool,
}

/// A translated user page.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct UserTranslation {
    /// Physical address of the byte.
    pub phys: u64,
    pub user: bool,
    pub writable: bool,
    pub executable: bool,
}

/// A user access that hit an unmapped or insufficiently mapped page.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct UserFault {
    pub addr: u64,
    pub write: bool,
}

impl core::fmt::Display for UserFault {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        let what = if self.write { "writable" } else { "readable" };
        write!(f, "user address {:#x} is not {what}", self.addr)
    }
}

struct TableFrames<'a>(TableFrameSource<'a>);

// SAFETY: the source hands out frames exclusively owned by the caller; they
// are zeroed before use.
unsafe impl x86_64::structures::paging::FrameAllocator<Size4KiB> for TableFrames<'_> {
    fn allocate_frame(&mut self) -> Option<PhysFrame<Size4KiB>> {
        let phys = (self.0)()?;
        // SAFETY: the frame is RAM in the direct map and owned by us.
        unsafe { core::ptr::write_bytes(phys_to_virt(phys) as *mut u8, 0, PAGE_SIZE as usize) };
        Some(PhysFrame::containing_address(PhysAddr::new(phys)))
    }
}

/// The tables of one environment.
#[derive(Debug)]
pub struct UserSpace {
    pml4: u64,
}

fn table(phys: u64) -> &'static mut PageTable {
    // SAFETY: `phys` is a page-table frame owned by a UserSpace (or the
    // export template), reachable through the direct map; on one CPU with
    // interrupts off, the kernel touches a table through one reference at a
    // time.
    unsafe { &mut *(phys_to_virt(phys) as *mut PageTable) }
}

fn mapper(pml4: u64) -> OffsetPageTable<'static> {
    // SAFETY: the PML4 is a live table and the direct map covers RAM.
    unsafe { OffsetPageTable::new(table(pml4), VirtAddr::new(PHYSMAP_BASE)) }
}

fn leaf_flags(rights: UserRights) -> F {
    let mut f = F::PRESENT | F::USER_ACCESSIBLE;
    if rights.writable {
        f |= F::WRITABLE;
    }
    if !rights.executable {
        f |= F::NO_EXECUTE;
    }
    f
}

const TABLE_FLAGS: F = F::PRESENT.union(F::WRITABLE).union(F::USER_ACCESSIBLE);

fn map_error(e: MapToError<Size4KiB>, virt: u64) -> PagingError {
    match e {
        MapToError::FrameAllocationFailed => PagingError::OutOfFrames,
        MapToError::ParentEntryHugePage => PagingError::InsideHugePage { virt },
        MapToError::PageAlreadyMapped(_) => PagingError::AlreadyMapped { virt },
    }
}

/// Makes sure every kernel PML4 slot in `slots` has a next-level table, so
/// that spaces copied from the kernel's PML4 see mappings the kernel adds
/// later. Call before creating the first user space.
pub fn prepare_kernel_slots(
    kernel_pml4: u64,
    slots: &[usize],
    frames: TableFrameSource<'_>,
) -> Result<(), PagingError> {
    let mut frames = TableFrames(frames);
    let pml4 = table(kernel_pml4);
    for &slot in slots {
        if slot < FIRST_KERNEL_PML4_SLOT || !pml4[slot].is_unused() {
            continue;
        }
        use x86_64::structures::paging::FrameAllocator;
        let f = frames.allocate_frame().ok_or(PagingError::OutOfFrames)?;
        pml4[slot].set_frame(f, F::PRESENT | F::WRITABLE);
    }
    Ok(())
}

/// The tables shared by every space for the export region (slot 255). The
/// kernel maps export pages into them once; every space links the same
/// next-level table.
#[derive(Debug)]
pub struct ExportTables {
    /// A private PML4 used only to build the slot's subtree.
    template: u64,
}

impl ExportTables {
    pub fn new(frames: TableFrameSource<'_>) -> Result<ExportTables, PagingError> {
        use x86_64::structures::paging::FrameAllocator;
        let f = TableFrames(frames)
            .allocate_frame()
            .ok_or(PagingError::OutOfFrames)?;
        Ok(ExportTables {
            template: f.start_address().as_u64(),
        })
    }

    /// Maps `phys` read-only (user, no execute) at `virt` in the export
    /// region (`virt` must lie in slot 255).
    pub fn map(
        &mut self,
        virt: u64,
        phys: u64,
        frames: TableFrameSource<'_>,
    ) -> Result<(), PagingError> {
        if (virt >> 39) & 0x1FF != EXPORT_SLOT as u64 || virt >> 48 != 0 {
            return Err(PagingError::NotMapped { virt });
        }
        let mut m = mapper(self.template);
        let page = Page::<Size4KiB>::containing_address(VirtAddr::new(virt));
        let frame = PhysFrame::containing_address(PhysAddr::new(phys));
        let flags = F::PRESENT | F::USER_ACCESSIBLE | F::NO_EXECUTE;
        // SAFETY: a read-only user mapping of a kernel-chosen frame in a
        // region only the kernel maps; it is not active anywhere yet or is
        // added (not changed) in live spaces, which needs no flush.
        unsafe {
            m.map_to_with_table_flags(page, frame, flags, TABLE_FLAGS, &mut TableFrames(frames))
                .map_err(|e| map_error(e, virt))?
                .ignore();
        }
        Ok(())
    }

    /// The PML4 entry every space installs in slot 255 (the next-level
    /// table, present + user, read-only at the top level).
    fn slot_entry(&self) -> Option<(PhysFrame, F)> {
        let e = &table(self.template)[EXPORT_SLOT];
        let frame = e.frame().ok()?;
        Some((frame, F::PRESENT | F::USER_ACCESSIBLE))
    }
}

impl UserSpace {
    /// A new space: the kernel half of `kernel_pml4`, the export region of
    /// `exports`, nothing else.
    pub fn new(
        kernel_pml4: u64,
        exports: &ExportTables,
        frames: TableFrameSource<'_>,
    ) -> Result<UserSpace, PagingError> {
        use x86_64::structures::paging::FrameAllocator;
        let f = TableFrames(frames)
            .allocate_frame()
            .ok_or(PagingError::OutOfFrames)?;
        let pml4 = f.start_address().as_u64();
        let kernel = table(kernel_pml4);
        let new = table(pml4);
        for slot in FIRST_KERNEL_PML4_SLOT..512 {
            new[slot] = kernel[slot].clone();
        }
        if let Some((frame, flags)) = exports.slot_entry() {
            new[EXPORT_SLOT].set_frame(frame, flags);
        }
        Ok(UserSpace { pml4 })
    }

    /// Makes this space current.
    pub fn activate(&self) {
        // SAFETY: slots 256-511 are the kernel's (copied at creation, and
        // every kernel slot's next-level table existed then), so the kernel
        // keeps running unchanged.
        unsafe { super::cpu::switch_address_space(self.pml4) };
    }

    /// Physical address of the PML4 (the CR3 value).
    pub fn pml4_phys(&self) -> u64 {
        self.pml4
    }

    /// Maps the page at `virt` (slots 0-253) to `phys`.
    pub fn map(
        &mut self,
        virt: u64,
        phys: u64,
        rights: UserRights,
        frames: TableFrameSource<'_>,
    ) -> Result<(), PagingError> {
        if virt >> 39 >= PRIVATE_SLOT as u64 {
            return Err(PagingError::NotMapped { virt });
        }
        let mut m = mapper(self.pml4);
        let page = Page::<Size4KiB>::containing_address(VirtAddr::new(virt));
        let frame = PhysFrame::containing_address(PhysAddr::new(phys));
        // SAFETY: the caller checked that the environment may map `phys`
        // with these rights; the page is in the user part of this space. A
        // new mapping replaces no TLB entry.
        unsafe {
            m.map_to_with_table_flags(
                page,
                frame,
                leaf_flags(rights),
                TABLE_FLAGS,
                &mut TableFrames(frames),
            )
            .map_err(|e| map_error(e, virt))?
            .ignore();
        }
        Ok(())
    }

    /// Removes the mapping of the page at `virt`; returns the physical frame
    /// address it mapped. Flushes the TLB entry when this space is active.
    pub fn unmap(&mut self, virt: u64) -> Result<u64, PagingError> {
        if virt >> 39 >= PRIVATE_SLOT as u64 {
            return Err(PagingError::NotMapped { virt });
        }
        let mut m = mapper(self.pml4);
        let page = Page::<Size4KiB>::containing_address(VirtAddr::new(virt));
        match m.unmap(page) {
            Ok((frame, flush)) => {
                if super::cpu::cr3() == self.pml4 {
                    flush.flush();
                } else {
                    // Not loaded: its TLB entries went with the last CR3 switch.
                    flush.ignore();
                }
                Ok(frame.start_address().as_u64())
            }
            Err(UnmapError::ParentEntryHugePage) => Err(PagingError::InsideHugePage { virt }),
            Err(_) => Err(PagingError::NotMapped { virt }),
        }
    }

    /// Translation of a user address (`None` if unmapped).
    pub fn translate(&self, virt: u64) -> Option<UserTranslation> {
        if virt >= super::layout::USER_END {
            return None;
        }
        match mapper(self.pml4).translate(VirtAddr::new(virt)) {
            TranslateResult::Mapped {
                frame,
                offset,
                flags,
            } => Some(UserTranslation {
                phys: frame.start_address().as_u64() + offset,
                user: flags.contains(F::USER_ACCESSIBLE),
                writable: flags.contains(F::WRITABLE),
                executable: !flags.contains(F::NO_EXECUTE),
            }),
            _ => None,
        }
    }

    /// Physical address of user byte `virt` if the environment itself could
    /// access it (`write`: writably).
    fn user_phys(&self, virt: u64, write: bool) -> Result<u64, UserFault> {
        match self.translate(virt) {
            // The export region is read-only at the PML4 level whatever its
            // leaves say.
            Some(t) if t.user && (!write || (t.writable && (virt >> 39) < EXPORT_SLOT as u64)) => {
                Ok(t.phys)
            }
            _ => Err(UserFault { addr: virt, write }),
        }
    }

    /// Copies user memory `[virt, virt + out.len())` into `out`.
    pub fn read(&self, virt: u64, out: &mut [u8]) -> Result<(), UserFault> {
        self.walk(virt, out.len(), false, |phys, range| {
            // SAFETY: `phys..+len` is inside one mapped RAM page (user
            // frames are RAM), reached through the direct map; `out` is a
            // kernel buffer that cannot overlap it.
            unsafe {
                core::ptr::copy_nonoverlapping(
                    phys_to_virt(phys) as *const u8,
                    out[range.clone()].as_mut_ptr(),
                    range.len(),
                )
            }
        })
    }

    /// Copies `data` into user memory at `virt` (every page must be mapped
    /// writable for the environment).
    pub fn write(&self, virt: u64, data: &[u8]) -> Result<(), UserFault> {
        self.walk(virt, data.len(), true, |phys, range| {
            // SAFETY: as in `read`, in the other direction; the page is
            // writable by the environment, so the kernel writes only what
            // the environment itself could.
            unsafe {
                core::ptr::copy_nonoverlapping(
                    data[range.clone()].as_ptr(),
                    phys_to_virt(phys) as *mut u8,
                    range.len(),
                )
            }
        })
    }

    /// Checks every page of `[virt, virt + len)` first (so a failing copy
    /// changes nothing), then calls `copy(phys, buffer_range)` per piece.
    fn walk(
        &self,
        virt: u64,
        len: usize,
        write: bool,
        mut copy: impl FnMut(u64, core::ops::Range<usize>),
    ) -> Result<(), UserFault> {
        let end = virt
            .checked_add(len as u64)
            .ok_or(UserFault { addr: virt, write })?;
        if len > 0 && (end - 1) & !(PAGE_SIZE - 1) == virt & !(PAGE_SIZE - 1) {
            // Within one page (upcall frames, most buffers): one walk.
            copy(self.user_phys(virt, write)?, 0..len);
            return Ok(());
        }
        let mut page = virt & !(PAGE_SIZE - 1);
        while page < end {
            self.user_phys(page.max(virt), write)?;
            page += PAGE_SIZE;
        }
        let mut done = 0usize;
        while done < len {
            let addr = virt + done as u64;
            let in_page = (PAGE_SIZE - (addr & (PAGE_SIZE - 1))) as usize;
            let n = in_page.min(len - done);
            let phys = self.user_phys(addr, write)?;
            copy(phys, done..done + n);
            done += n;
        }
        Ok(())
    }

    /// Frees every page-table frame of the user part (slots 0-254; the
    /// shared export tables and the kernel half stay) and the PML4, calling
    /// `free` with each table's physical address. Mapped leaf frames are
    /// not touched: their owners account for them. The space must not be
    /// active.
    pub fn destroy(self, free: &mut dyn FnMut(u64)) {
        assert!(
            super::cpu::cr3() != self.pml4,
            "destroying the active address space"
        );
        fn free_tree(phys: u64, level: u8, free: &mut dyn FnMut(u64)) {
            if level > 1 {
                for e in table(phys).iter() {
                    if e.flags().contains(F::PRESENT) && !e.flags().contains(F::HUGE_PAGE) {
                        free_tree(e.addr().as_u64(), level - 1, free);
                    }
                }
            }
            free(phys);
        }
        let pml4 = table(self.pml4);
        for slot in 0..EXPORT_SLOT {
            let e = &pml4[slot];
            if e.flags().contains(F::PRESENT) {
                free_tree(e.addr().as_u64(), 3, free);
            }
        }
        free(self.pml4);
    }
}

/// Maps the per-environment private page (read-only, user) at `virt` in
/// slot 254 of `space`.
pub fn map_private(
    space: &mut UserSpace,
    virt: u64,
    phys: u64,
    frames: TableFrameSource<'_>,
) -> Result<(), PagingError> {
    if (virt >> 39) as usize != PRIVATE_SLOT {
        return Err(PagingError::NotMapped { virt });
    }
    let mut m = mapper(space.pml4);
    let page = Page::<Size4KiB>::containing_address(VirtAddr::new(virt));
    let frame = PhysFrame::containing_address(PhysAddr::new(phys));
    let flags = F::PRESENT | F::USER_ACCESSIBLE | F::NO_EXECUTE;
    // SAFETY: a read-only user mapping of a kernel frame in the slot the
    // environment cannot map into.
    unsafe {
        m.map_to_with_table_flags(page, frame, flags, TABLE_FLAGS, &mut TableFrames(frames))
            .map_err(|e| map_error(e, virt))?
            .ignore();
    }
    Ok(())
}
