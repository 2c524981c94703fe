//! The guard-page harness: every region a JIT'd program may touch (the
//! buffer, the packet context, the packet, the application region) is
//! placed flush against an inaccessible page, first at its start and then
//! at its end. Safe programs over random inputs must never touch a guard
//! page (a stray access would kill this process with SIGSEGV) and must
//! agree with the interpreter.

use ash_compiler::difftest::generate::{Kind, Source, generate};
use ash_compiler::difftest::{Placement, check};
use ash_compiler::host::Flush;

fn random_bytes(state: &mut u64, n: usize) -> Vec<u8> {
    (0..n)
        .map(|_| {
            *state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
            let mut z = *state;
            z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            (z ^ (z >> 27)) as u8
        })
        .collect()
}

#[test]
fn jit_programs_never_touch_guard_pages() {
    let placements = [
        Placement::Guarded(Flush::Start),
        Placement::Guarded(Flush::End),
    ];
    let mut state = 0xfeed_f00du64;
    for i in 0..400 {
        let bytes = random_bytes(&mut state, 1500);
        let kind = if i % 2 == 0 {
            Kind::Memory
        } else {
            Kind::Packet
        };
        let case = generate(&mut Source::new(&bytes), kind);
        if let Err(e) = check(&case, &placements, i) {
            panic!("case {i}: {e:?}\nprogram: {:?}", case.words);
        }
    }
}

/// The harness itself works: an access one byte past a guarded buffer
/// faults (checked in a child process, which must die of SIGSEGV).
#[test]
fn guard_pages_fault_on_overrun() {
    if std::env::var_os("ASH_GUARD_CHILD").is_some() {
        let buf = ash_compiler::host::GuardedBuf::new(10, Flush::End).expect("guarded buffer");
        let p = (buf.addr() + 10) as *const u8;
        // SAFETY: deliberately not safe: this child process must die here.
        let v = unsafe { core::ptr::read_volatile(p) };
        println!("read {v} past the guard: the guard page is missing");
        std::process::exit(0);
    }
    let exe = std::env::current_exe().expect("test binary");
    let out = std::process::Command::new(exe)
        .args(["--exact", "guard_pages_fault_on_overrun", "--nocapture"])
        .env("ASH_GUARD_CHILD", "1")
        .output()
        .expect("child runs");
    use std::os::unix::process::ExitStatusExt;
    assert_eq!(out.status.signal(), Some(libc_sigsegv()), "child: {out:?}");
}

fn libc_sigsegv() -> i32 {
    11
}
