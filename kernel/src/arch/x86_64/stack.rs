//! Statically allocated kernel stacks with a guard page below them.
//!
//! The guard page is part of the object so its address is known at link time;
//! `mm::init` leaves every registered guard page unmapped, so running off the
//! bottom of the stack faults instead of silently corrupting `.bss`.

use core::cell::UnsafeCell;

/// Size of one page; guard pages are exactly one page.
pub const PAGE_SIZE: usize = 4096;

/// A stack of `N` bytes (a multiple of the page size) preceded by one guard
/// page. Lives in `.bss`.
#[repr(C, align(4096))]
pub struct GuardedStack<const N: usize> {
    guard: UnsafeCell<[u8; PAGE_SIZE]>,
    stack: UnsafeCell<[u8; N]>,
}

// SAFETY: the bytes are only ever touched by the CPU through the stack pointer
// of the one context that owns the stack; Rust code only takes addresses.
unsafe impl<const N: usize> Sync for GuardedStack<N> {}

impl<const N: usize> GuardedStack<N> {
    /// Offset of the initial stack pointer from the start of the object.
    pub const TOP_OFFSET: usize = {
        assert!(
            N.is_multiple_of(PAGE_SIZE) && N > 0,
            "stack size must be whole pages"
        );
        PAGE_SIZE + N
    };

    /// A zeroed stack (placed in `.bss`).
    pub const fn new() -> Self {
        Self {
            guard: UnsafeCell::new([0; PAGE_SIZE]),
            stack: UnsafeCell::new([0; N]),
        }
    }

    /// Virtual address of the guard page.
    pub fn guard_page(&self) -> u64 {
        self.guard.get() as u64
    }

    /// Lowest usable address of the stack (just above the guard page).
    pub fn bottom(&self) -> u64 {
        self.stack.get() as u64
    }

    /// Initial stack pointer (one past the highest byte), 16-byte aligned.
    pub fn top(&self) -> u64 {
        self.bottom() + N as u64
    }
}

impl<const N: usize> Default for GuardedStack<N> {
    fn default() -> Self {
        Self::new()
    }
}
