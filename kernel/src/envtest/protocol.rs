//! Whole protocols from ring 3: exported pages, exceptions handled by the
//! environment itself, protected control transfer with a shared page, and a
//! randomized garbage pass over every system call.

use exo_abi::probe::Mode;

use super::harness::{Cleanup, census, nothing_leaked, passed, probe, run_for, run_until_ended};
use crate::env::with_kernel;
use crate::sched::SLICE_NS;

crate::kernel_test! {
    fn a_probe_sees_consistent_exported_pages() {
        let _cleanup = Cleanup;
        let before = census();
        let p = probe(Mode::Basic, 0, None)?;
        run_until_ended(&[p])?;
        passed(p, "basic probe")?;
        nothing_leaked(before)
    }
}

crate::kernel_test! {
    fn exceptions_reach_the_environments_own_handler_while_others_run() {
        let _cleanup = Cleanup;
        let before = census();
        let bystander = probe(Mode::Spin, 0, None)?;
        let p = probe(Mode::Faults, 0, None)?;
        run_until_ended(&[p])?;
        passed(p, "faults probe")?;
        // The kernel and the other environment carry on.
        let ran = || with_kernel(|k| k.envs.get(bystander).map(|e| e.cpu.ns));
        let at_end = ran();
        run_for(4 * SLICE_NS);
        ensure!(ran() > at_end, "the bystander stopped running: {at_end:?} -> {:?}", ran());
        nothing_leaked(before)
    }
}

crate::kernel_test! {
    fn two_environments_exchange_messages_and_share_a_page() {
        let _cleanup = Cleanup;
        let before = census();
        let server = probe(Mode::PctServer, 0, None)?;
        let client = probe(Mode::PctClient, u64::from(server.0), None)?;
        run_until_ended(&[client])?;
        passed(client, "PCT client (it checks replies, the shared page and its revocation)")?;
        let serving = with_kernel(|k| k.envs.get(server).map(|e| e.serving.len()));
        ensure_eq!(serving, Some(0));
        nothing_leaked(before)
    }
}

crate::kernel_test! {
    fn garbage_arguments_to_every_system_call_are_refused_cleanly() {
        let _cleanup = Cleanup;
        let before = census();
        for seed in [1u64, 0xC0FFEE] {
            let p = probe(Mode::Garbage, seed, None)?;
            run_until_ended(&[p])?;
            passed(p, "garbage probe")?;
        }
        nothing_leaked(before)
    }
}
