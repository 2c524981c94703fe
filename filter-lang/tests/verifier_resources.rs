//! The verifier runs in the kernel on every download: its memory and work
//! must stay bounded whatever the program. The hostile programs of
//! `verifier_cost` each push one cost to its limit; the test counts every
//! heap byte the verifier allocates and checks the peak stays under a fixed
//! ceiling.
//!
//! Before the audit (`docs/VERIFIER-AUDIT.md`) the first program made the
//! verifier hold about 390 MB (the test machine's QEMU has 128 MiB).

mod verifier_cost;

use filter_lang::bpf::asm::assemble;
use filter_lang::bpf::spec::{ProgramSpec, ProgramType};
use filter_lang::bpf::verifier::{VerifyErrorKind, verify};
use verifier_cost::{Counting, hostile, peak_heap};

#[global_allocator]
static ALLOC: Counting = Counting;

/// Heap the verifier may hold for any program: the state-cell budget
/// (`max_state_cells` × 80 bytes = 5 MiB) plus bookkeeping.
const CEILING: usize = 12 << 20;

#[test]
fn hostile_programs_stay_within_the_memory_ceiling() {
    let spec = ProgramSpec::new(ProgramType::Packet);
    for (name, text) in hostile() {
        let prog = assemble(&text).unwrap_or_else(|e| panic!("{name}: {e}"));
        let (result, peak) = peak_heap(|| verify(&prog, &spec));
        assert!(
            peak <= CEILING,
            "{name}: the verifier held {} KiB (ceiling {} KiB); result {:?}",
            peak >> 10,
            CEILING >> 10,
            result.as_ref().map(|v| v.stats).map_err(|e| &e.kind)
        );
        // Accepted programs report work and memory within the limits;
        // rejected ones run out of a budget, not into a rule.
        match result {
            Ok(v) => {
                assert!(v.stats.work <= spec.limits.max_work, "{name}");
                assert!(v.stats.peak_cells <= spec.limits.max_state_cells, "{name}");
            }
            Err(e) => assert!(
                matches!(
                    e.kind,
                    VerifyErrorKind::TooComplex { .. }
                        | VerifyErrorKind::TooManyStates { .. }
                        | VerifyErrorKind::TooMuchWork { .. }
                        | VerifyErrorKind::StateMemory { .. }
                ),
                "{name}: {e}"
            ),
        }
    }
}
