//! Hostile programs for the verifier's cost, and a heap-counting allocator:
//! shared by `tests/verifier_resources.rs` (peak heap under a ceiling) and
//! `bench/src/bin/bench-verifier.rs` (time and peak heap of the worst
//! cases). Each program pushes one cost to its limit (states with eight
//! full 512-byte frames, pending forks, stack and helper-buffer scans,
//! liveness across long jump chains, ever-shrinking loop states).
#![allow(dead_code)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

/// The system allocator, counting the bytes held. A test or benchmark
/// installs it with `#[global_allocator] static A: Counting = Counting;`
/// and measures with [`peak_heap`].
pub struct Counting;

static CURRENT: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

// SAFETY: forwards to the system allocator unchanged; only counts bytes.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: same contract as the caller's.
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            let now = CURRENT.fetch_add(layout.size(), Ordering::Relaxed) + layout.size();
            PEAK.fetch_max(now, Ordering::Relaxed);
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: same contract as the caller's.
        unsafe { System.dealloc(ptr, layout) };
        CURRENT.fetch_sub(layout.size(), Ordering::Relaxed);
    }
}

/// Runs `f` and returns its result with the most heap bytes held at once
/// during the call beyond what was held before it (single-threaded use:
/// other threads' allocations would count too). Meaningful only where
/// [`Counting`] is the global allocator.
pub fn peak_heap<R>(f: impl FnOnce() -> R) -> (R, usize) {
    let before = CURRENT.load(Ordering::Relaxed);
    PEAK.store(before, Ordering::Relaxed);
    let r = f();
    (r, PEAK.load(Ordering::Relaxed) - before)
}

fn fill_stack() -> String {
    (1..=64)
        .map(|k| format!("stdw [%r10-{}], {k}\n", 8 * k))
        .collect()
}

/// Eight frames, each with a full stack; `inner` runs in the deepest.
fn deep(inner: &str) -> String {
    let mut s = fill_stack();
    s += "call local f1\nmov %r0, 0\nexit\n";
    for d in 1..8 {
        s += &format!("f{d}:\n");
        s += &fill_stack();
        if d < 7 {
            s += &format!("call local f{}\nmov %r0, 0\nexit\n", d + 1);
        } else {
            s += inner;
        }
    }
    s
}

/// The hostile programs, by name, as assembly text (`packet` programs).
pub fn hostile() -> Vec<(&'static str, String)> {
    let mut v = Vec::new();
    // Many stored states at many instructions, each with 8 full frames.
    let mut wide = String::from("mov %r6, 0\nmov %r7, 0\nloop:\nadd %r6, 1\n");
    wide += &"jeq %r7, 1, +0\n".repeat(300);
    wide += "jlt %r6, 100000, loop\nmov %r0, 0\nexit\n";
    v.push(("deep frames, wide loop", deep(&wide)));
    // Every iteration compared against 32 large states.
    v.push((
        "deep frames, counting loop",
        deep("mov %r6, 0\nloop:\nadd %r6, 1\njlt %r6, 100000, loop\nmov %r0, 0\nexit\n"),
    ));
    // Forks whose other side waits: the pending paths pile up.
    let mut forks = String::from("call 1\nmov %r7, %r0\n");
    for i in 0..2000 {
        forks += &format!("jeq %r7, {i}, out\n");
    }
    forks += "out:\nmov %r0, 0\nexit\n";
    v.push(("deep frames, pending forks", deep(&forks)));
    // A variable-offset load over the whole stack, many times.
    let mut scan = fill_stack();
    scan += "ldxw %r5, [%r1+20]\nand %r5, 504\nmov %r2, %r10\nadd %r2, -512\nadd %r2, %r5\n\
             mov %r6, 0\nloop:\n";
    scan += &"ldxdw %r3, [%r2+0]\n".repeat(3000);
    scan += "add %r6, 1\njlt %r6, 1000, loop\nmov %r0, 0\nexit\n";
    v.push(("stack scans", scan));
    // Helper calls over a 512-byte stack buffer, many times.
    let mut helper = fill_stack();
    helper += "mov %r6, 0\nloop:\n";
    helper += &"mov %r1, %r10\nadd %r1, -512\nmov %r2, 512\nmov %r3, 0\ncall 8\n".repeat(600);
    helper += "add %r6, 1\njlt %r6, 1000, loop\nmov %r0, 0\nexit\n";
    v.push(("helper buffer scans", helper));
    // Liveness that must cross 2000 backward jumps.
    let mut chain = String::from("mov %r6, 1\nja top\nuse:\nmov %r0, %r6\nand %r0, 1\nexit\n");
    for i in 0..2040 {
        chain += &format!("c{i}:\n");
        chain += &if i == 0 {
            "ja use\n".to_string()
        } else {
            format!("ja c{}\n", i - 1)
        };
        chain += "exit\n";
    }
    chain += "top:\nja c2039\n";
    v.push(("liveness chain", chain));
    // Loop states that shrink forever (each covered by an ancestor).
    v.push((
        "shrinking loop",
        "ldxw %r6, [%r1+20]\nand %r6, 0xffff\nloop:\njeq %r6, 0, out\nsub %r6, 1\nja loop\n\
         out:\nmov %r0, 0\nexit\n"
            .to_string(),
    ));
    v
}
