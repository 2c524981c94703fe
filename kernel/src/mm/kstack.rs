//! Kernel stacks allocated at run time (environments need none: they enter
//! the kernel on the system-call and IST stacks), each in its own slot of
//! the stack region with an unmapped guard page below it, and the registry
//! of every kernel stack (static ones too) that the crash reporter uses to
//! walk frames safely and to recognize stack overflows.

use spin::Mutex;

use super::frame::{self, Frame, FrameUse};
use crate::arch::gdt::static_stacks;
use crate::arch::layout::{PAGE_SIZE, STACKS_BASE, STACKS_SIZE};
use crate::arch::paging::{self, Access, Caching, PagingError};

/// A kernel stack `[bottom, top)` with its guard page just below `bottom`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StackRange {
    pub name: &'static str,
    pub guard_page: u64,
    pub bottom: u64,
    pub top: u64,
}

impl StackRange {
    /// Whether `addr` is in the usable part of the stack.
    pub fn contains(&self, addr: u64) -> bool {
        (self.bottom..self.top).contains(&addr)
    }

    /// Whether `addr` is in the guard page.
    pub fn guard_contains(&self, addr: u64) -> bool {
        (self.guard_page..self.guard_page + PAGE_SIZE).contains(&addr)
    }
}

/// Most run-time stacks tracked at once.
const MAX_DYNAMIC: usize = 64;

struct Registry {
    stacks: [Option<StackRange>; MAX_DYNAMIC],
    next_slot: u64,
}

static REGISTRY: Mutex<Registry> = Mutex::new(Registry {
    stacks: [None; MAX_DYNAMIC],
    next_slot: 0,
});

/// Errors allocating a stack.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StackError {
    TooManyStacks,
    RegionExhausted,
    Frame(frame::FrameError),
    Paging(PagingError),
}

impl core::fmt::Display for StackError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::TooManyStacks => write!(f, "more than {MAX_DYNAMIC} kernel stacks are live"),
            Self::RegionExhausted => write!(f, "kernel stack region exhausted"),
            Self::Frame(e) => write!(f, "kernel stack: {e}"),
            Self::Paging(e) => write!(f, "kernel stack: {e}"),
        }
    }
}

/// A run-time kernel stack; freed on drop.
#[derive(Debug)]
pub struct KernelStack {
    range: StackRange,
}

impl KernelStack {
    /// Allocates a stack of `pages` pages (plus an unmapped guard page).
    pub fn new(name: &'static str, pages: u64) -> Result<KernelStack, StackError> {
        let mut reg = REGISTRY.lock();
        let slot = reg
            .stacks
            .iter()
            .position(Option::is_none)
            .ok_or(StackError::TooManyStacks)?;
        let size = (pages + 1) * PAGE_SIZE;
        if reg.next_slot + size > STACKS_SIZE {
            return Err(StackError::RegionExhausted);
        }
        let guard_page = STACKS_BASE + reg.next_slot;
        let range = StackRange {
            name,
            guard_page,
            bottom: guard_page + PAGE_SIZE,
            top: guard_page + size,
        };
        for i in 0..pages {
            let f = frame::alloc(FrameUse::KernelStack).map_err(StackError::Frame)?;
            let mut tables = || frame::alloc(FrameUse::PageTable).ok().map(|f| f.phys());
            paging::with_kernel_space(|s| {
                s.map_4k(
                    range.bottom + i * PAGE_SIZE,
                    f.phys(),
                    PAGE_SIZE,
                    Access::ReadWrite,
                    Caching::WriteBack,
                    &mut tables,
                )
            })
            .map_err(StackError::Paging)?
            .map_err(StackError::Paging)?;
        }
        reg.next_slot += size;
        reg.stacks[slot] = Some(range);
        Ok(KernelStack { range })
    }

    /// The stack's range.
    pub fn range(&self) -> StackRange {
        self.range
    }
}

impl Drop for KernelStack {
    fn drop(&mut self) {
        let mut reg = REGISTRY.lock();
        for s in reg.stacks.iter_mut() {
            if *s == Some(self.range) {
                *s = None;
            }
        }
        for page in (self.range.bottom..self.range.top).step_by(PAGE_SIZE as usize) {
            if let Ok(Ok(phys)) = paging::with_kernel_space(|s| s.unmap_4k(page)) {
                let _ = frame::free(Frame::containing(phys));
            }
        }
    }
}

/// The kernel stack (static or run-time) whose usable part or guard page
/// contains `addr`. Never blocks: usable from the crash path.
pub fn find(addr: u64) -> Option<StackRange> {
    let from_static = static_stacks().into_iter().map(|s| StackRange {
        name: s.name,
        guard_page: s.guard_page,
        bottom: s.bottom,
        top: s.top,
    });
    if let Some(s) = from_static
        .into_iter()
        .find(|s| s.contains(addr) || s.guard_contains(addr))
    {
        return Some(s);
    }
    let reg = REGISTRY.try_lock()?;
    reg.stacks
        .iter()
        .flatten()
        .find(|s| s.contains(addr) || s.guard_contains(addr))
        .copied()
}

/// Guard pages of the static stacks (left unmapped by `mm::init`).
pub fn static_guard_pages() -> impl Iterator<Item = u64> {
    static_stacks().into_iter().map(|s| s.guard_page)
}

crate::kernel_test! {
    fn runtime_stack_has_an_unmapped_guard_page() {
        let stack = KernelStack::new("test", 4)?;
        let r = stack.range();
        ensure_eq!(r.top - r.bottom, 4 * PAGE_SIZE);
        let guard = paging::with_kernel_space(|s| s.translate(r.guard_page))?;
        ensure!(guard.is_none(), "guard page {:#x} is mapped", r.guard_page);
        let t = paging::with_kernel_space(|s| s.translate(r.bottom))?;
        ensure!(matches!(t, Some(t) if t.writable && !t.executable), "stack page is not RW+NX: {t:?}");
        ensure_eq!(find(r.guard_page + 8).map(|s| s.name), Some("test"));
        drop(stack);
        ensure!(paging::with_kernel_space(|s| s.translate(r.bottom))?.is_none(), "stack still mapped after drop");
        ensure!(find(r.bottom).is_none(), "dropped stack still registered");
        Ok(())
    }
}

crate::kernel_test! {
    fn static_stack_guard_pages_are_unmapped() {
        for s in static_stacks() {
            let t = paging::with_kernel_space(|k| k.translate(s.guard_page))?;
            ensure!(t.is_none(), "guard page of stack '{}' at {:#x} is mapped", s.name, s.guard_page);
            let t = paging::with_kernel_space(|k| k.translate(s.top - 8))?;
            ensure!(matches!(t, Some(t) if t.writable && !t.executable), "stack '{}' is not RW+NX", s.name);
        }
        Ok(())
    }
}
