//! Physical frame allocator over a per-frame table.
//!
//! One [`FrameInfo`] per 4 KiB frame of physical memory up to the end of the
//! highest usable region, stored in physical memory itself. Each entry records
//! what the frame is used for, which environment owns it, how many user
//! mappings point at it, and flags; the table is exported read-only to every
//! environment at `exo_abi::layout::FRAME_TABLE` (the ABI's `FrameEntry`
//! layout). Allocation is next-fit over the table.

use core::fmt;

use spin::Mutex;

use super::phys;
use crate::boot_info::MemoryMap;

/// Size of a frame.
pub const FRAME_SIZE: u64 = 4096;

/// A physical frame, by index (`phys / 4096`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Frame(u32);

impl Frame {
    /// The frame containing `phys`.
    pub const fn containing(phys: u64) -> Frame {
        Frame((phys / FRAME_SIZE) as u32)
    }

    /// Index in the frame table.
    pub const fn index(self) -> usize {
        self.0 as usize
    }

    /// Physical start address.
    pub const fn phys(self) -> u64 {
        self.0 as u64 * FRAME_SIZE
    }
}

impl fmt::Display for Frame {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "frame {:#x}", self.phys())
    }
}

/// What a frame is used for: the ABI's [`FrameUsage`], because the table
/// is exported read-only to environments as is.
pub use exo_abi::export::FrameUsage as FrameUse;

/// Owner value of frames that belong to no environment.
pub const NO_OWNER: u32 = 0;

/// One frame-table entry: 8 bytes, the layout of the ABI's
/// [`exo_abi::export::FrameEntry`] (checked below), with a typed usage.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(C)]
pub struct FrameInfo {
    pub usage: FrameUse,
    /// `exo_abi::export::FRAME_*` flags.
    pub flags: u8,
    /// Page-table entries of environments that map the frame.
    pub mappings: u16,
    /// Owning environment (`EnvId` value); `NO_OWNER` for kernel frames.
    pub owner: u32,
}

const _: () = {
    use core::mem::{offset_of, size_of};
    use exo_abi::export::FrameEntry;
    assert!(size_of::<FrameInfo>() == size_of::<FrameEntry>());
    assert!(offset_of!(FrameInfo, usage) == offset_of!(FrameEntry, usage));
    assert!(offset_of!(FrameInfo, flags) == offset_of!(FrameEntry, flags));
    assert!(offset_of!(FrameInfo, mappings) == offset_of!(FrameEntry, mappings));
    assert!(offset_of!(FrameInfo, owner) == offset_of!(FrameEntry, owner));
};

impl FrameInfo {
    const fn new(usage: FrameUse) -> FrameInfo {
        FrameInfo {
            usage,
            flags: 0,
            mappings: 0,
            owner: NO_OWNER,
        }
    }
}

/// Errors of the frame allocator.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FrameError {
    /// No free frame (below the current address limit).
    OutOfMemory,
    /// The frame is past the end of the table.
    OutOfRange(Frame),
    /// Freeing a frame that is free or never allocatable.
    NotAllocated(Frame),
    /// Allocating `Free` makes no sense.
    InvalidUse,
    /// The frame asked for by number is not free RAM.
    NotFree(Frame),
    /// The frame's mapping counter is saturated.
    TooManyMappings(Frame),
    /// No usable region can hold the frame table.
    NoRoomForTable { bytes: u64 },
    /// `init` has not run.
    NotInitialized,
}

impl fmt::Display for FrameError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::OutOfMemory => write!(f, "out of physical memory"),
            Self::OutOfRange(fr) => write!(f, "{fr} is beyond the frame table"),
            Self::NotAllocated(fr) => write!(f, "{fr} is not allocated (double free?)"),
            Self::InvalidUse => write!(f, "cannot allocate a frame for use `Free`"),
            Self::NotFree(fr) => write!(f, "{fr} is not free RAM"),
            Self::TooManyMappings(fr) => write!(f, "{fr} is mapped {} times already", u16::MAX),
            Self::NoRoomForTable { bytes } => {
                write!(
                    f,
                    "no usable region below 4 GiB can hold the {bytes}-byte frame table; give the machine more memory"
                )
            }
            Self::NotInitialized => write!(f, "frame allocator used before mm::init"),
        }
    }
}

/// The frame table and allocation state.
pub struct FrameTable {
    entries: &'static mut [FrameInfo],
    free: usize,
    cursor: usize,
    /// Frames at or above this index are not handed out (before the final
    /// direct map exists only the first 4 GiB are reachable).
    limit: usize,
}

impl FrameTable {
    /// Builds the table from the memory map, placing it in usable memory
    /// below 4 GiB and outside `image` (the kernel's physical range).
    fn build(map: &MemoryMap, image: (u64, u64)) -> Result<FrameTable, FrameError> {
        let frames = (map.usable_end() / FRAME_SIZE) as usize;
        let bytes = (frames * core::mem::size_of::<FrameInfo>()) as u64;
        let table_bytes = bytes.next_multiple_of(FRAME_SIZE);
        let low = 1 << 20;
        let place = map
            .usable()
            .filter_map(|r| {
                let start = r
                    .start
                    .max(low)
                    .max(if r.start < image.1 && r.end > image.0 {
                        image.1
                    } else {
                        0
                    });
                let start = start.next_multiple_of(FRAME_SIZE);
                let end = r.end.min(phys::BOOT_MAPPED_LIMIT) & !(FRAME_SIZE - 1);
                (end > start && end - start >= table_bytes).then_some(start)
            })
            .next()
            .ok_or(FrameError::NoRoomForTable { bytes: table_bytes })?;
        // SAFETY: `place` starts a usable, page-aligned RAM range below 4 GiB
        // (mapped by the boot direct map) outside the kernel image, nothing
        // else uses it, and it is initialized right below before any read.
        let entries = unsafe { phys::claim_slice::<FrameInfo>(place, frames) };
        entries.fill(FrameInfo::new(FrameUse::Unusable));
        let mut table = FrameTable {
            entries,
            free: 0,
            cursor: 0,
            limit: frames,
        };
        for r in map.usable() {
            let first = r.start.next_multiple_of(FRAME_SIZE).max(low) / FRAME_SIZE;
            let last = r.end / FRAME_SIZE;
            for i in first..last {
                table.set(i as usize, FrameUse::Free);
            }
        }
        table.mark_range(image.0, image.1, FrameUse::KernelImage);
        table.mark_range(place, place + table_bytes, FrameUse::FrameTable);
        table.limit = table
            .entries
            .len()
            .min((phys::BOOT_MAPPED_LIMIT / FRAME_SIZE) as usize);
        Ok(table)
    }

    fn set(&mut self, index: usize, usage: FrameUse) {
        let Some(e) = self.entries.get_mut(index) else {
            return;
        };
        if e.usage == FrameUse::Free {
            self.free -= 1;
        }
        if usage == FrameUse::Free {
            self.free += 1;
        }
        *e = FrameInfo::new(usage);
    }

    /// Marks usable frames overlapping `[start, end)` with `usage`.
    fn mark_range(&mut self, start: u64, end: u64, usage: FrameUse) {
        for i in (start / FRAME_SIZE)..end.div_ceil(FRAME_SIZE) {
            if self
                .entries
                .get(i as usize)
                .is_some_and(|e| e.usage != FrameUse::Unusable)
            {
                self.set(i as usize, usage);
            }
        }
    }

    /// Allocates one frame for `usage`.
    pub fn alloc(&mut self, usage: FrameUse) -> Result<Frame, FrameError> {
        if usage == FrameUse::Free {
            return Err(FrameError::InvalidUse);
        }
        let n = self.limit;
        for step in 0..n {
            let i = (self.cursor + step) % n;
            if self.entries[i].usage == FrameUse::Free {
                self.set(i, usage);
                self.cursor = (i + 1) % n;
                return Ok(Frame(i as u32));
            }
        }
        Err(FrameError::OutOfMemory)
    }

    /// Allocates one frame for `usage` owned by `owner`.
    pub fn alloc_owned(&mut self, usage: FrameUse, owner: u32) -> Result<Frame, FrameError> {
        let f = self.alloc(usage)?;
        self.entries[f.index()].owner = owner;
        Ok(f)
    }

    /// Allocates the specific frame `frame` (which must be free and below
    /// the allocation limit) for `usage`, owned by `owner`.
    pub fn claim(&mut self, frame: Frame, usage: FrameUse, owner: u32) -> Result<(), FrameError> {
        if usage == FrameUse::Free {
            return Err(FrameError::InvalidUse);
        }
        match self.entries.get(frame.index()) {
            Some(e) if e.usage == FrameUse::Free && frame.index() < self.limit => {
                self.set(frame.index(), usage);
                self.entries[frame.index()].owner = owner;
                Ok(())
            }
            Some(_) => Err(FrameError::NotFree(frame)),
            None => Err(FrameError::OutOfRange(frame)),
        }
    }

    /// Counts one more mapping of `frame`.
    pub fn add_mapping(&mut self, frame: Frame) -> Result<(), FrameError> {
        let e = self
            .entries
            .get_mut(frame.index())
            .ok_or(FrameError::OutOfRange(frame))?;
        e.mappings = e
            .mappings
            .checked_add(1)
            .ok_or(FrameError::TooManyMappings(frame))?;
        Ok(())
    }

    /// Counts one mapping of `frame` less.
    pub fn remove_mapping(&mut self, frame: Frame) {
        if let Some(e) = self.entries.get_mut(frame.index()) {
            e.mappings = e.mappings.saturating_sub(1);
        }
    }

    /// Sets or clears `flag` (an `exo_abi::export::FRAME_*` bit).
    pub fn set_flag(&mut self, frame: Frame, flag: u8, on: bool) {
        if let Some(e) = self.entries.get_mut(frame.index()) {
            if on {
                e.flags |= flag;
            } else {
                e.flags &= !flag;
            }
        }
    }

    /// Physical address and byte size of the table itself (exported
    /// read-only to environments).
    pub fn table_range(&self) -> (u64, u64) {
        let bytes = core::mem::size_of_val(self.entries) as u64;
        (
            self.entries.as_ptr() as u64 - crate::arch::layout::PHYSMAP_BASE,
            bytes,
        )
    }

    /// Returns an allocated frame to the free pool.
    pub fn free(&mut self, frame: Frame) -> Result<(), FrameError> {
        let e = self
            .entries
            .get(frame.index())
            .ok_or(FrameError::OutOfRange(frame))?;
        match e.usage {
            FrameUse::Free | FrameUse::Unusable | FrameUse::KernelImage | FrameUse::FrameTable => {
                Err(FrameError::NotAllocated(frame))
            }
            _ => {
                self.set(frame.index(), FrameUse::Free);
                Ok(())
            }
        }
    }

    /// The entry of `frame`.
    pub fn info(&self, frame: Frame) -> Option<FrameInfo> {
        self.entries.get(frame.index()).copied()
    }

    /// Number of free frames.
    pub fn free_frames(&self) -> usize {
        self.free
    }

    /// Number of frames the table describes.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether the table describes no frames.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

static FRAMES: Mutex<Option<FrameTable>> = Mutex::new(None);

/// Builds the global frame table.
pub fn init(map: &MemoryMap, image: (u64, u64)) -> Result<(), FrameError> {
    let table = FrameTable::build(map, image)?;
    *FRAMES.lock() = Some(table);
    Ok(())
}

/// Allows allocation from all of physical memory (once the final direct map,
/// which covers all usable RAM, is active).
pub fn lift_boot_limit() {
    if let Some(t) = FRAMES.lock().as_mut() {
        t.limit = t.entries.len();
    }
}

/// Runs `f` on the global frame table.
pub fn with_table<R>(f: impl FnOnce(&mut FrameTable) -> R) -> Result<R, FrameError> {
    FRAMES
        .lock()
        .as_mut()
        .map(f)
        .ok_or(FrameError::NotInitialized)
}

/// Allocates one frame.
pub fn alloc(usage: FrameUse) -> Result<Frame, FrameError> {
    with_table(|t| t.alloc(usage))?
}

/// Frees one frame.
pub fn free(frame: Frame) -> Result<(), FrameError> {
    with_table(|t| t.free(frame))?
}

crate::kernel_test! {
    fn alloc_free_roundtrip() {
        let before = with_table(|t| t.free_frames())?;
        let f = alloc(FrameUse::Kernel)?;
        ensure_eq!(with_table(|t| t.info(f))?.map(|i| i.usage), Some(FrameUse::Kernel));
        ensure_eq!(with_table(|t| t.free_frames())?, before - 1);
        free(f)?;
        ensure_eq!(with_table(|t| t.info(f))?.map(|i| i.usage), Some(FrameUse::Free));
        ensure_eq!(with_table(|t| t.free_frames())?, before);
        ensure_eq!(free(f), Err(FrameError::NotAllocated(f)));
        Ok(())
    }
}

crate::kernel_test! {
    fn frames_are_distinct_usable_and_outside_the_image() {
        let image = crate::arch::layout::image_physical_range();
        let mut got = alloc::vec::Vec::new();
        for _ in 0..256 {
            got.push(alloc(FrameUse::Kernel)?);
        }
        let mut sorted = got.clone();
        sorted.sort();
        sorted.dedup();
        ensure_eq!(sorted.len(), got.len());
        for f in &got {
            ensure!(f.phys() >= 1 << 20, "{f} is below 1 MiB");
            ensure!(f.phys() + FRAME_SIZE <= image.0 || f.phys() >= image.1, "{f} overlaps the kernel image");
            let usable = crate::mm::memory_map().usable().any(|r| r.start <= f.phys() && f.phys() + FRAME_SIZE <= r.end);
            ensure!(usable, "{f} is not in a usable region");
        }
        for f in got {
            free(f)?;
        }
        Ok(())
    }
}

crate::kernel_test! {
    fn kernel_image_frames_cannot_be_freed() {
        let (start, _) = crate::arch::layout::image_physical_range();
        let f = Frame::containing(start);
        ensure_eq!(with_table(|t| t.info(f))?.map(|i| i.usage), Some(FrameUse::KernelImage));
        ensure_eq!(free(f), Err(FrameError::NotAllocated(f)));
        ensure_eq!(alloc(FrameUse::Free), Err(FrameError::InvalidUse));
        Ok(())
    }
}
