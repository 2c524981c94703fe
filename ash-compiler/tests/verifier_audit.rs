//! JIT-side confirmation of the verifier audit's memory hole
//! (`docs/VERIFIER-AUDIT.md`): a packet pointer `data + var - k` with no
//! range proven against `data_end` was accepted for loads below its
//! variable part. The verifier now rejects the program; compiled anyway
//! (without verification), it reads past a guarded one-byte packet and the
//! process dies of SIGSEGV (checked in a child process). So the rejection
//! is what stands between such a download and an out-of-bounds kernel read.

use ash_compiler::host::{ExecBuffer, Flush, GuardedBuf};
use ash_compiler::{CompileOptions, compile};
use filter_lang::bpf::asm::assemble;
use filter_lang::bpf::spec::{ProgramSpec, ProgramType, packet_ctx};
use filter_lang::bpf::verifier::{VerifyErrorKind, verify};

/// data + (ifindex & 7) + 8 - 8, read at offset 0, never compared with
/// data_end.
const ATTACK: &str = "
ldxdw %r2, [%r1+0]
ldxw %r5, [%r1+20]
and %r5, 7
add %r5, 8
add %r2, %r5
sub %r2, 8
ldxb %r0, [%r2+0]
and %r0, 1
exit
";

fn run_attack_unverified() -> u64 {
    let words = assemble(ATTACK).expect("assembles").words;
    let c = compile(&words, &CompileOptions::default()).expect("compiles");
    let x = ExecBuffer::new(&c).expect("placed");
    let pkt = GuardedBuf::from_slice(&[0x42], Flush::End).expect("guarded packet");
    let mut ctx = vec![0u8; packet_ctx::SIZE];
    ctx[0..8].copy_from_slice(&pkt.addr().to_le_bytes());
    ctx[8..16].copy_from_slice(&(pkt.addr() + 1).to_le_bytes());
    ctx[16..20].copy_from_slice(&1u32.to_le_bytes());
    // ifindex 7: the load lands 7 bytes into a 1-byte packet.
    ctx[20..24].copy_from_slice(&7u32.to_le_bytes());
    let ctx = GuardedBuf::from_slice(&ctx, Flush::End).expect("guarded context");
    // SAFETY: deliberately not safe: the program is unverified and reads
    // past the packet; only the child process runs this.
    unsafe { ash_compiler::runtime::call_without_helpers(x.entry(), ctx.addr(), 0) }
}

#[test]
fn unproven_packet_pointer_below_its_variable_part_is_rejected_and_would_fault() {
    if std::env::var_os("VERIFIER_AUDIT_CHILD").is_some() {
        let r0 = run_attack_unverified();
        println!("read past the packet without a fault (r0 {r0}): the guard page is missing");
        std::process::exit(0);
    }
    let prog = assemble(ATTACK).expect("assembles");
    let e = verify(&prog, &ProgramSpec::new(ProgramType::Packet)).expect_err("must be rejected");
    assert!(
        matches!(e.kind, VerifyErrorKind::PacketUnchecked { .. }),
        "{e}"
    );
    assert_eq!(e.pc, 6, "{e}");
    let exe = std::env::current_exe().expect("test binary");
    let out = std::process::Command::new(exe)
        .args([
            "--exact",
            "unproven_packet_pointer_below_its_variable_part_is_rejected_and_would_fault",
            "--nocapture",
        ])
        .env("VERIFIER_AUDIT_CHILD", "1")
        .output()
        .expect("child runs");
    use std::os::unix::process::ExitStatusExt;
    assert_eq!(out.status.signal(), Some(11), "child: {out:?}");
}
