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

/// The benchmark handlers (real packet parsers with their own bounds
/// checks, `bench/handlers/*.s`), verified and compiled with the verifier's
/// facts, over random frames of every length from 0 to 1600 bytes placed
/// against guard pages: no stray access, same verdict as the interpreter.
#[test]
fn handlers_on_random_frames_never_touch_guard_pages() {
    use ash_compiler::host::{ExecBuffer, GuardedBuf};
    use ash_compiler::runtime::RegionMemory;
    use ash_compiler::{CompileOptions, compile_verified};
    use filter_lang::bpf::Program;
    use filter_lang::bpf::asm::assemble;
    use filter_lang::bpf::helpers::NoHelpers;
    use filter_lang::bpf::interp::{Interpreter, RunOptions, packet_memory};
    use filter_lang::bpf::spec::{ProgramSpec, ProgramType, packet_ctx};
    use filter_lang::bpf::verifier::verify;

    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../bench/handlers");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .expect("bench/handlers exists")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "s"))
        .collect();
    files.sort();
    assert!(files.len() >= 7, "handlers found: {files:?}");
    let mut state = 0x0bad_cafeu64;
    let mut delivered = 0;
    for path in &files {
        let text = std::fs::read_to_string(path).expect("readable");
        let words = assemble(&text).expect("assembles").words;
        let v = verify(
            &Program::from_words(words.clone()),
            &ProgramSpec::new(ProgramType::Packet),
        )
        .expect("verified");
        let c = compile_verified(&words, &v, &CompileOptions::default()).expect("compiles");
        let x = ExecBuffer::new(&c).expect("placed");
        let interp = Interpreter::new(&words).expect("decodes");
        for i in 0..400usize {
            let len = if i < 100 { i } else { (i * 37) % 1601 };
            let mut frame = random_bytes(&mut state, len);
            // Half of the frames look like IPv4/UDP or TCP to reach deeper code.
            if len >= 24 && i % 2 == 0 {
                frame[12] = 0x08;
                frame[13] = 0x00;
                frame[14] = 0x45 + (i % 3) as u8;
                frame[23] = if i % 4 == 0 { 6 } else { 17 };
            }
            let flush = if i % 2 == 0 { Flush::End } else { Flush::Start };
            let pkt = GuardedBuf::from_slice(&frame, flush).expect("guarded packet");
            let mut ctx = vec![0u8; packet_ctx::SIZE];
            ctx[0..8].copy_from_slice(&pkt.addr().to_le_bytes());
            ctx[8..16].copy_from_slice(&(pkt.addr() + len as u64).to_le_bytes());
            ctx[16..20].copy_from_slice(&(len as u32).to_le_bytes());
            let ctx = GuardedBuf::from_slice(&ctx, flush).expect("guarded context");
            // SAFETY: the regions are alive; the handlers call no helpers.
            let mut mem = unsafe { RegionMemory::new(&[]) };
            // SAFETY: verified packet handler; r1 is a context describing
            // the live guarded packet.
            let got = unsafe { x.call(ctx.addr(), 0, &mut NoHelpers, &mut mem) };
            let mut setup = packet_memory(&frame, 0, Vec::new());
            let want = interp
                .run(
                    &mut setup.mem,
                    &mut NoHelpers,
                    [setup.ctx, 0],
                    RunOptions::default(),
                )
                .map(|o| o.r0)
                .map_err(|e| e.to_string());
            assert_eq!(
                got.map_err(|f| format!("{f:?}")),
                want,
                "{}: frame {frame:02x?}",
                path.display()
            );
            delivered += usize::from(got == Ok(1));
        }
    }
    assert!(delivered > 0, "no frame was delivered by any handler");
}
