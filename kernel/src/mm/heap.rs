//! The kernel heap: `linked_list_allocator::Heap` over a virtual region at
//! `HEAP_BASE` that grows on demand (frames mapped RW+NX as needed, up to
//! `HEAP_MAX`).

use core::alloc::{GlobalAlloc, Layout};
use core::ptr::NonNull;

use linked_list_allocator::Heap;
use spin::Mutex;

use super::frame::{self, FrameUse};
use crate::arch::layout::{HEAP_BASE, HEAP_MAX, PAGE_SIZE};
use crate::arch::paging::{self, Access, Caching};

/// Heap size mapped at boot.
pub const INITIAL_SIZE: u64 = 4 << 20;
/// Smallest growth step.
const GROW_STEP: u64 = 1 << 20;

struct State {
    heap: Heap,
    mapped: u64,
}

/// The global allocator.
pub struct KernelHeap(Mutex<State>);

#[global_allocator]
static HEAP: KernelHeap = KernelHeap(Mutex::new(State {
    heap: Heap::empty(),
    mapped: 0,
}));

/// Errors while growing the heap.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HeapError {
    /// The heap reached `HEAP_MAX`.
    Exhausted,
    Frame(frame::FrameError),
    Paging(paging::PagingError),
}

impl core::fmt::Display for HeapError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::Exhausted => write!(f, "kernel heap reached its {HEAP_MAX}-byte limit"),
            Self::Frame(e) => write!(f, "kernel heap: {e}"),
            Self::Paging(e) => write!(f, "kernel heap: {e}"),
        }
    }
}

/// Maps `bytes` more (page rounded) at the end of the heap region.
fn map_more(state: &mut State, bytes: u64) -> Result<u64, HeapError> {
    let bytes = bytes.next_multiple_of(PAGE_SIZE);
    if state.mapped + bytes > HEAP_MAX {
        return Err(HeapError::Exhausted);
    }
    for off in (0..bytes).step_by(PAGE_SIZE as usize) {
        let f = frame::alloc(FrameUse::KernelHeap).map_err(HeapError::Frame)?;
        let virt = HEAP_BASE + state.mapped + off;
        let mut tables = || frame::alloc(FrameUse::PageTable).ok().map(|f| f.phys());
        paging::with_kernel_space(|s| {
            s.map_4k(
                virt,
                f.phys(),
                PAGE_SIZE,
                Access::ReadWrite,
                Caching::WriteBack,
                &mut tables,
            )
        })
        .map_err(HeapError::Paging)?
        .map_err(HeapError::Paging)?;
    }
    state.mapped += bytes;
    Ok(bytes)
}

/// Maps the initial heap. Requires the frame allocator and kernel page tables.
pub fn init() -> Result<(), HeapError> {
    let mut state = HEAP.0.lock();
    let bytes = map_more(&mut state, INITIAL_SIZE)?;
    // SAFETY: [HEAP_BASE, HEAP_BASE + bytes) was just mapped RW, is used by
    // nothing else, and the heap is initialized only once (mapped was 0).
    unsafe { state.heap.init(HEAP_BASE as *mut u8, bytes as usize) };
    Ok(())
}

/// Bytes mapped for the heap and bytes in use.
pub fn usage() -> (u64, u64) {
    let state = HEAP.0.lock();
    (state.mapped, state.heap.used() as u64)
}

// SAFETY: all state is behind the mutex; blocks come from the
// linked-list allocator, which hands out disjoint, correctly aligned blocks.
unsafe impl GlobalAlloc for KernelHeap {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let mut state = self.0.lock();
        if state.mapped == 0 {
            return core::ptr::null_mut();
        }
        if let Ok(p) = state.heap.allocate_first_fit(layout) {
            return p.as_ptr();
        }
        let want = (layout.size() + layout.align()).max(GROW_STEP as usize) as u64;
        match map_more(&mut state, want) {
            Ok(bytes) => {
                // SAFETY: the region right after the heap's top was just
                // mapped and belongs to nobody else.
                unsafe { state.heap.extend(bytes as usize) };
                state
                    .heap
                    .allocate_first_fit(layout)
                    .map_or(core::ptr::null_mut(), |p| p.as_ptr())
            }
            Err(_) => core::ptr::null_mut(),
        }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        if let Some(p) = NonNull::new(ptr) {
            // SAFETY: `ptr` was returned by `alloc` with this layout (the
            // GlobalAlloc contract).
            unsafe { self.0.lock().heap.deallocate(p, layout) };
        }
    }
}

crate::kernel_test! {
    fn heap_grows_past_its_initial_size() {
        let (mapped_before, _) = usage();
        let big = alloc::vec![0xA5u8; (INITIAL_SIZE + GROW_STEP) as usize];
        ensure!(big.iter().all(|&b| b == 0xA5), "heap memory did not keep its contents");
        let (mapped_after, used) = usage();
        ensure!(mapped_after > mapped_before, "heap did not grow ({mapped_before} -> {mapped_after})");
        ensure!(used >= big.len() as u64, "used {used} < allocation {}", big.len());
        drop(big);
        Ok(())
    }
}

crate::kernel_test! {
    fn boxed_values_are_distinct_and_aligned() {
        let a = alloc::boxed::Box::new([1u64; 64]);
        let b = alloc::boxed::Box::new([2u64; 64]);
        ensure!(a.as_ptr() != b.as_ptr(), "two boxes share memory");
        ensure_eq!(a.as_ptr() as usize % 8, 0);
        let addr = a.as_ptr() as u64;
        ensure!((HEAP_BASE..HEAP_BASE + HEAP_MAX).contains(&addr), "box at {addr:#x} is outside the heap region");
        ensure!(a.iter().all(|&x| x == 1) && b.iter().all(|&x| x == 2), "box contents corrupted");
        Ok(())
    }
}
