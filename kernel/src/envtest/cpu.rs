//! CPU secure bindings: visible revocation at the end of slices, the abort
//! protocol for handlers that overrun, shares kept by the others, directed
//! yield, blocking with deadlines and wake-ups.

use alloc::format;

use exo_abi::EnvId;
use exo_abi::private::{PrivatePage, RepossessedKind, RepossessionReason};
use exo_abi::probe::Mode;

use super::harness::{
    Cleanup, census, nothing_leaked, passed, probe, run_for, run_until, run_until_ended, status,
};
use crate::env::{ExitStatus, KillReason, RunState, with_kernel};
use crate::mm::phys;
use crate::sched::{SLICE_BUDGET_NS, SLICE_NS};

fn cpu_ns(id: EnvId) -> u64 {
    with_kernel(|k| k.envs.get(id).map_or(0, |e| e.cpu.ns))
}

crate::kernel_test! {
    fn a_spinning_slice_handler_is_aborted_and_the_others_keep_their_share() {
        let _cleanup = Cleanup;
        let before = census();
        let spinner = probe(Mode::SpinInSliceEnd, 2, None)?;
        let a = probe(Mode::Spin, 0, None)?;
        let b = probe(Mode::Spin, 0, None)?;
        let start = crate::time::now_ns();
        let (mut overrun, mut kinds) = (0u64, alloc::vec::Vec::new());
        run_until("the spinner's end", |k| match k.envs.get(spinner) {
            Some(e) => {
                overrun = overrun.max(e.cpu.max_overrun_ns);
                kinds = phys::with_frame(e.private, |p: &mut PrivatePage| {
                    (0..p.repossessions).filter_map(|i| p.entry(i).map(|x| (x.kind, x.reason))).collect()
                });
                false
            }
            None => true,
        })?;
        let took = crate::time::now_ns() - start;
        ensure_eq!(status(spinner), Some(ExitStatus::Killed(KillReason::SliceOverrun)));
        // Strike 1 took its two extra slots, strike 2 warned, strike 3 aborted.
        let slot = (RepossessedKind::Slot as u32, RepossessionReason::SliceOverrun as u32);
        let warning = (RepossessedKind::Warning as u32, RepossessionReason::SliceOverrun as u32);
        ensure_eq!(kinds, alloc::vec![slot, slot, warning]);
        // Each time, the kernel took the CPU back within the budget (plus
        // its own entry path): the spinner never ran far past a slice end.
        ensure!(overrun <= SLICE_BUDGET_NS + 100_000, "the spinner ran {overrun} ns past a slice end");
        ensure!(took < 40 * SLICE_NS, "aborting took {took} ns");
        // From now on the two well-behaved spinners share the CPU evenly.
        let (a0, b0, t0) = (cpu_ns(a), cpu_ns(b), crate::time::now_ns());
        run_for(30 * SLICE_NS);
        let (da, db, dt) = (cpu_ns(a) - a0, cpu_ns(b) - b0, crate::time::now_ns() - t0);
        ensure!(da * 100 >= dt * 40 && db * 100 >= dt * 40, "shares {da} and {db} ns of {dt} ns: below 40% each");
        ensure!(da.abs_diff(db) * 100 <= dt * 10, "shares {da} and {db} ns of {dt} ns differ by more than 10%");
        nothing_leaked(before)
    }
}

crate::kernel_test! {
    fn directed_yield_donates_the_rest_of_the_slice() {
        let _cleanup = Cleanup;
        let before = census();
        let target = probe(Mode::Spin, 0, None)?;
        let other = probe(Mode::Spin, 0, None)?;
        let donor = probe(Mode::Donor, u64::from(target.0), None)?;
        run_for(30 * SLICE_NS);
        let (t, o, d) = (cpu_ns(target), cpu_ns(other), cpu_ns(donor));
        // The target runs in its own slot and in the donor's.
        ensure!(t * 10 >= o * 17, "target {t} ns, other {o} ns: the donation did not reach the target");
        ensure!(d * 10 <= o, "the donor kept {d} ns of CPU (other: {o} ns)");
        nothing_leaked(before)
    }
}

crate::kernel_test! {
    fn blocking_ends_at_the_deadline_or_on_a_wake_up() {
        let _cleanup = Cleanup;
        let before = census();
        let p = probe(Mode::Blocker, 0, None)?;
        run_until("the open-ended block", |k| {
            k.envs.get(p).is_none_or(|e| e.state == RunState::Blocked { deadline: None })
        })?;
        // Nothing wakes it by itself.
        run_for(5 * SLICE_NS);
        let still = with_kernel(|k| k.envs.get(p).map(|e| e.state));
        ensure_eq!(still, Some(RunState::Blocked { deadline: None }));
        crate::env::wake::wake(p);
        run_until("the wake-up", |k| k.envs.get(p).is_none_or(|e| e.state == RunState::Runnable))?;
        // A second wake-up while it runs: kept for its next block.
        crate::env::wake::wake(p);
        run_until_ended(&[p])?;
        passed(p, "blocker")?;
        nothing_leaked(before)
    }
}

crate::kernel_test! {
    fn an_unhandled_fault_ends_only_the_faulting_environment() {
        let _cleanup = Cleanup;
        let before = census();
        let bystander = probe(Mode::Spin, 0, None)?;
        let p = probe(Mode::Unhandled, 0, None)?;
        run_until_ended(&[p])?;
        match status(p) {
            Some(ExitStatus::Killed(KillReason::Fault { vector: 14, addr: 0xFFFF_FFFF_8000_0000, .. })) => {}
            other => return Err(crate::ktest::TestFailure::new(format!("expected a #PF kill, got {other:?}"))),
        }
        let ran = cpu_ns(bystander);
        run_for(4 * SLICE_NS);
        ensure!(cpu_ns(bystander) > ran, "the bystander stopped running");
        nothing_leaked(before)
    }
}
