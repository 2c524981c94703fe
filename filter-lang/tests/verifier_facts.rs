//! The per-instruction facts the verifier hands to compilers, and the
//! instruction bound on small programs where it can be counted by hand, and
//! limits the configuration cannot push past what the verifier can track.

use filter_lang::bpf::asm::assemble;
use filter_lang::bpf::spec::{ProgramSpec, ProgramType};
use filter_lang::bpf::verifier::{Verified, VerifyErrorKind, mem_bits, verify};

fn verified(ty: ProgramType, text: &str) -> Verified {
    let prog = assemble(text).unwrap();
    verify(&prog, &ProgramSpec::new(ty)).unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn divisor_facts_follow_the_proven_range() {
    let v = verified(
        ProgramType::Memory { size: 8 },
        "ldxb %r2, [%r1+0]\n\
         mov %r0, 100\n\
         div %r0, %r2\n\
         or %r2, 1\n\
         mod %r0, %r2\n\
         sdiv %r0, 3\n\
         exit\n",
    );
    // r2 in [0, 255]: may be zero.
    assert!(!v.facts[2].divisor_nonzero);
    assert!(v.facts[2].divisor_not_minus_one);
    // r2 | 1: never zero, never all-ones (at most 255).
    assert!(v.facts[4].divisor_nonzero && v.facts[4].divisor_not_minus_one);
    assert_eq!(v.facts[0].mem, mem_bits::BUFFER);
    assert!(v.facts.iter().take(7).all(|f| f.reachable));
}

#[test]
fn divisor_fact_is_the_conjunction_over_paths() {
    let v = verified(
        ProgramType::Memory { size: 8 },
        "ldxb %r2, [%r1+0]\n\
         mov %r3, 5\n\
         jgt %r2, 7, +1\n\
         mov %r3, %r2\n\
         mov %r0, 1\n\
         div %r0, %r3\n\
         exit\n",
    );
    // On one path r3 = 5, on the other r3 = r2 in [0, 7].
    assert!(!v.facts[5].divisor_nonzero);
}

#[test]
fn unreachable_code_and_callx_targets() {
    let v = verified(
        ProgramType::Memory { size: 0 },
        "mov %r1, 7\n\
         mov %r2, 5\n\
         call %r2\n\
         ja +1\n\
         mov %r0, 9\n\
         exit\n",
    );
    assert_eq!(v.facts[2].callx_helper, Some(5));
    assert!(!v.facts[4].reachable);
    assert!(v.facts[5].reachable);
    // mov, mov, call, ja, exit.
    assert_eq!(v.insn_bound, 5);
}

#[test]
fn bounds_count_the_longest_path_through_calls_and_loops() {
    let v = verified(
        ProgramType::Packet,
        "mov %r6, 0\n\
         loop:\n\
         call local f\n\
         add %r6, 1\n\
         jlt %r6, 4, loop\n\
         mov %r0, 0\n\
         exit\n\
         f:\n\
         mov %r0, 1\n\
         mov %r0, 0\n\
         exit\n",
    );
    // mov r6 (1) + 4 * (call + 3 in f + add + jlt = 6) + mov + exit (2) = 27.
    assert_eq!(v.insn_bound, 27);
    assert_eq!(v.funcs, vec![0, 6]);
    assert_eq!(v.max_call_frames, 2);
    assert_eq!(v.facts[6].mem, 0);
}

#[test]
fn context_and_packet_accesses_are_classified() {
    let v = verified(
        ProgramType::Packet,
        "ldxdw %r2, [%r1+0]\n\
         ldxdw %r3, [%r1+8]\n\
         mov %r0, 0\n\
         mov %r4, %r2\n\
         add %r4, 1\n\
         jgt %r4, %r3, +2\n\
         ldxb %r5, [%r2+0]\n\
         stxb [%r10-1], %r5\n\
         exit\n",
    );
    assert_eq!(v.facts[0].mem, mem_bits::CTX);
    assert_eq!(v.facts[6].mem, mem_bits::PACKET);
    assert_eq!(v.facts[7].mem, mem_bits::STACK);
    // Longest path: all 9.
    assert_eq!(v.insn_bound, 9);
}

/// Frame numbers are 8-bit: a configured frame limit above 256 must not let
/// the 257th frame alias the main program's (it did: the depth wrapped).
#[test]
fn call_depth_never_exceeds_what_frames_can_name() {
    let text = "mov %r1, 300\ncall local f\nmov %r0, 0\nexit\n\
                f:\njeq %r1, 0, done\nsub %r1, 1\ncall local f\ndone:\nmov %r0, 0\nexit\n";
    let mut spec = ProgramSpec::new(ProgramType::Memory { size: 0 });
    spec.limits.max_call_frames = 1000;
    spec.limits.max_state_cells = usize::MAX;
    spec.limits.max_work = u64::MAX;
    let e = verify(&assemble(text).unwrap(), &spec).unwrap_err();
    assert_eq!(e.kind, VerifyErrorKind::CallDepth { max: 256 }, "{e}");
}
