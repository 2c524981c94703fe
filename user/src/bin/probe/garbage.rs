//! A randomized pass of garbage arguments over every system call: each
//! call must come back with success or a known error code, and the kernel
//! must survive (the test in the kernel checks that). Arguments are drawn
//! from a mix of random words and values chosen to hit edges: zero, all
//! ones, kernel and export addresses, unaligned addresses, pages of a
//! scratch region, frame numbers of kernel and scratch frames, ids.
//!
//! Kept out of the random pass, because their success would end the pass
//! rather than test the kernel: `Exit` (the probe exits normally after the
//! pass), `Block` without a deadline (deadlines here are at most 1 ms away),
//! and an `UpcallRegister` that succeeds or removes the declaration (random
//! entry points are always outside the user half and some kind is always
//! asked for; a separate targeted list covers invalid declarations). Addresses never point at the program's own code, data or
//! stacks, so the calls that change memory only touch the scratch region.

use exo_abi::export::FrameUsage;
use exo_abi::layout::{ENV_TABLE, KERNEL_INFO, PRIVATE_BASE, USER_MAP_END};
use exo_abi::syscall::{NET_FIRST, NET_LAST, decode};
use exo_abi::{Error, MapFlags, Sysno};
use exo_user::libos_core::exception;
use exo_user::libos_core::rng::Rng;
use exo_user::libos_core::vm::PageClass;
use exo_user::libos_core::{export, rt, sys};
use exo_user::{Start, println};

use crate::check::{Check, ok, that};

/// Calls in the pass.
const CALLS: usize = 3000;
/// Pages of the scratch region.
const SCRATCH_PAGES: usize = 8;

struct Values {
    scratch: u64,
    scratch_frame: u64,
    kernel_frame: u64,
    me: u64,
    parent: u64,
}

impl Values {
    fn word(&self, rng: &mut Rng) -> u64 {
        match rng.below(16) {
            0 => 0,
            1 => u64::MAX,
            2 => rng.next_u64(),
            3 => rng.next_u64() & 0xFFFF_FFFF,
            4 => rng.below(64),
            5 => 0xFFFF_8000_0000_0000 + rng.below(1 << 30),
            6 => 0xFFFF_FFFF_8000_0000 + rng.below(1 << 20),
            7 => rng.pick(&[
                KERNEL_INFO,
                ENV_TABLE,
                PRIVATE_BASE,
                USER_MAP_END,
                0x0000_8000_0000_0000,
            ]),
            8 => self.scratch + rng.below((SCRATCH_PAGES * 4096) as u64),
            9 => self.scratch + rng.below(SCRATCH_PAGES as u64) * 4096,
            10 => self.scratch_frame,
            11 => self.kernel_frame,
            12 => rng.pick(&[self.me, self.parent, u64::from(u32::MAX)]),
            13 => rng.below(1 << 16),
            14 => 1 << rng.below(64),
            _ => rng.next_u64() | 0xFFFF_0000_0000_0000,
        }
    }
}

/// Numbers to call: every defined call, the network group, unknown ones.
fn number(rng: &mut Rng) -> u64 {
    match rng.below(10) {
        0 => NET_FIRST + rng.below(NET_LAST - NET_FIRST + 1),
        1 => rng.pick(&[7, 10, 15, 23, 31, 43, 63, 96, 1000, u64::MAX]),
        2 => rng.next_u64(),
        _ => rng.pick(&Sysno::ALL).nr(),
    }
}

/// Mode `Garbage`.
pub fn run(start: Start, seed: u64) -> Result<(), Check> {
    exception::set_handler(crate::faults::handler);
    let scratch = ok(
        1,
        "scratch region",
        rt::with_vm(|vm, mmu| vm.alloc(mmu, SCRATCH_PAGES, MapFlags::WRITE, PageClass::Pinned)),
    )?;
    let values = Values {
        scratch,
        scratch_frame: rt::with_vm(|vm, _| vm.page(scratch).map(|p| p.frame)).unwrap_or(0),
        kernel_frame: (0..export::kernel_info().frame_count)
            .find(|&n| export::frame(n).and_then(|e| e.usage()) == Some(FrameUsage::KernelImage))
            .unwrap_or(0x100),
        me: u64::from(start.id.0),
        parent: u64::from(start.parent.0),
    };
    let mut rng = Rng::new(seed);
    let (mut succeeded, mut refused) = (0u64, 0u64);
    for i in 0..CALLS {
        let nr = number(&mut rng);
        let mut a: [u64; 6] = core::array::from_fn(|_| values.word(&mut rng));
        match Sysno::from_u64(nr) {
            Some(Sysno::Exit) => continue,
            Some(Sysno::Block) => a[0] = export::now_ns() + rng.below(1_000_000) + 1,
            Some(Sysno::UpcallRegister) => {
                // A kernel-half entry with some kinds: always refused.
                a[0] |= 0xFFFF_8000_0000_0000;
                a[3] |= 1 << 1;
            }
            _ => {}
        }
        // SAFETY: the arguments never name the program's own code, data or
        // stacks (see the module documentation): calls that change memory
        // can only change the scratch region, which no reference points into.
        let (status, _) = unsafe { sys::raw(nr, a) };
        if status == 0 {
            succeeded += 1;
        } else if Error::from_code(status).is_some() {
            refused += 1;
        } else {
            println!(
                "probe: call {i}: number {nr:#x} args {a:x?} returned unknown status {status:#x}"
            );
            return Err(2);
        }
        // Lazy FPU may have been switched on by a garbage FpuLazy; the
        // handler copes (#NM is not an error).
    }
    for (n, args) in [
        (10, [0x8000_0000_0000_0000u64, 0x1000, 0x2000, 1 << 1]),
        (11, [0x40_0000, 0, 0x1000, 1 << 1]),
        (12, [0x40_0000, 0x1001, 0x2000, 1 << 1]),
        (13, [0x40_0000, 0x3000, 0x2000, 1 << 1]),
        (14, [0x40_0000, 0x1000, USER_MAP_END + 0x1000, 1 << 1]),
        (15, [0x40_0000, 0x1000, 0x2000, 1]),
    ] {
        // SAFETY: each declaration is invalid and refused before any change.
        let (s, v) = unsafe {
            sys::call(
                Sysno::UpcallRegister,
                [args[0], args[1], args[2], args[3], 0, 0],
            )
        };
        that(
            n,
            "an invalid upcall declaration is refused",
            decode(s, v).is_err(),
        )?;
    }
    ok(
        16,
        "declare the real upcall entry again",
        rt::refresh_upcalls(),
    )?;
    that(
        20,
        "the exported kernel information survived",
        export::kernel_info().magic == exo_abi::export::KERNEL_INFO_MAGIC,
    )?;
    println!(
        "probe: {CALLS} garbage calls: {succeeded} succeeded, {refused} refused with valid codes"
    );
    // The last call: Exit with a garbage code is fine too, but the test
    // wants a clean pass: exit normally.
    Ok(())
}
