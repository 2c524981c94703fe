//! Differential property tests: generated programs (safe by construction
//! and accepted by the verifier, see `ash_compiler::difftest::generate`)
//! over random buffers, packets and regions must give the same r0, the same
//! memory and the same helper effects in the JIT (plain and blinded) as in
//! the reference interpreter.

use ash_compiler::difftest::generate::{Kind, Source, generate, seeded};
use ash_compiler::difftest::{Placement, check, run_interp, verify_case};
use proptest::collection::vec;
use proptest::prelude::*;

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]

    #[test]
    fn memory_programs_agree(bytes in vec(any::<u8>(), 0..2000), seed in any::<u64>()) {
        let case = generate(&mut Source::new(&bytes), Kind::Memory);
        let r = check(&case, &[Placement::Heap], seed);
        prop_assert!(r.is_ok(), "{:?}\nprogram: {:?}", r, case.words);
    }

    #[test]
    fn packet_programs_agree(bytes in vec(any::<u8>(), 0..2000), seed in any::<u64>()) {
        let case = generate(&mut Source::new(&bytes), Kind::Packet);
        let r = check(&case, &[Placement::Heap], seed);
        prop_assert!(r.is_ok(), "{:?}\nprogram: {:?}", r, case.words);
    }
}

/// The generator is not vacuous: over a fixed set of inputs its programs
/// are verified, long, write memory, call helpers, take the unwind and
/// short-packet exits, and end in varied states.
#[test]
fn generated_programs_exercise_the_engines() {
    let mut results = std::collections::BTreeSet::new();
    let (mut wrote, mut called, mut unwound, mut short, mut words) = (0, 0, 0, 0, 0);
    for case in seeded(0x1234_5678, 300, 1500) {
        verify_case(&case).expect("the verifier accepts generated programs");
        words += case.words.len();
        let o = run_interp(&case).expect("generated programs are safe");
        if o.area != case.area {
            wrote += 1;
        }
        if !o.calls.is_empty() || o.clock_ns > 0 || o.wakeups > 0 || !o.sent.is_empty() {
            called += 1;
        }
        if o.calls.iter().any(|c| c.1[0] == 0) {
            unwound += 1;
        }
        if case.kind == Kind::Packet && o.result == Ok(1) {
            short += 1;
        }
        // Packet verdicts are 0 or 1: their hash lands in the region.
        results.insert(format!("{:?} {:?}", o.result, o.area));
    }
    assert!(words / 300 > 60, "average program length {}", words / 300);
    assert!(wrote > 100, "{wrote} programs wrote memory");
    assert!(called > 50, "{called} programs called helpers");
    assert!(unwound > 0 && short > 0, "unwind {unwound}, short {short}");
    assert!(
        results.len() > 200,
        "only {} distinct results",
        results.len()
    );
}
