//! Memory secure bindings and visible revocation, from hostile probes.

use alloc::format;
use alloc::vec::Vec;

use exo_abi::EnvId;
use exo_abi::private::{PrivatePage, RepossessedKind, RepossessionEntry, RepossessionReason};
use exo_abi::probe::Mode;

use super::harness::{
    self, Cleanup, census, nothing_leaked, passed, probe, probe_limits, run_until, run_until_ended,
};
use crate::env::environment::Limits;
use crate::env::{Kernel, RunState, with_kernel};
use crate::mm::phys;

/// A frame owned by `id` (one of its image's).
fn some_frame_of(id: EnvId) -> Result<u64, crate::ktest::TestFailure> {
    with_kernel(|k| {
        k.envs
            .get(id)
            .and_then(|e| e.mem.owned.iter().next().map(|f| f.index() as u64))
    })
    .ok_or_else(|| crate::ktest::TestFailure::new(format!("{id} owns no frame")))
}

crate::kernel_test! {
    fn foreign_frames_cannot_be_mapped_freed_granted_or_claimed() {
        let _cleanup = Cleanup;
        let before = census();
        let owner = probe(Mode::Spin, 0, None)?;
        let frame = some_frame_of(owner)?;
        let p = probe(Mode::ForeignFrame, frame, None)?;
        run_until_ended(&[p])?;
        passed(p, "foreign frame probe")?;
        let (info, alive) = with_kernel(|k| {
            let info = crate::mm::frame::with_table(|t| t.info(crate::mm::frame::Frame::containing(frame * 4096))).ok().flatten();
            (info, k.envs.get(owner).is_some())
        });
        ensure!(alive, "the owner of the frame died");
        ensure!(info.is_some_and(|i| i.owner == owner.0 && i.mappings >= 1), "the frame changed hands: {info:?}");
        nothing_leaked(before)
    }
}

crate::kernel_test! {
    fn kernel_memory_and_reserved_addresses_are_refused() {
        let _cleanup = Cleanup;
        let before = census();
        let p = probe(Mode::KernelMemory, 0, None)?;
        run_until_ended(&[p])?;
        passed(p, "kernel memory probe")?;
        nothing_leaked(before)
    }
}

crate::kernel_test! {
    fn grants_of_frames_not_held_are_refused() {
        let _cleanup = Cleanup;
        let before = census();
        let owner = probe(Mode::Spin, 0, None)?;
        let p = probe(Mode::GrantUnheld, some_frame_of(owner)?, None)?;
        run_until_ended(&[p])?;
        passed(p, "grant probe")?;
        nothing_leaked(before)
    }
}

/// Limits for an `IgnoreRevocation` probe with `pages` data pages: the
/// guarantee covers its image and stack (the default minimum less its
/// 16-frame slack), its 16-page upcall stack and its dump area (`pages +
/// 8`), so what lies above it is exactly its data pages.
fn revocation_limits(pages: u64) -> Result<Limits, crate::ktest::TestFailure> {
    let base = probe_limits()?;
    Ok(Limits {
        min_frames: base.min_frames + pages as u32 + 8,
        ..base
    })
}

/// Repossession entries of `id` so far (copied from its private page).
fn repossessions(k: &Kernel, id: EnvId) -> Option<Vec<RepossessionEntry>> {
    let env = k.envs.get(id)?;
    let n = env.repossessions;
    Some(phys::with_frame(env.private, |p: &mut PrivatePage| {
        (0..n).filter_map(|i| p.entry(i).copied()).collect()
    }))
}

fn wait_blocked(id: EnvId) -> Result<(), crate::ktest::TestFailure> {
    run_until("the probe to block", |k| {
        k.envs
            .get(id)
            .is_none_or(|e| matches!(e.state, RunState::Blocked { .. }))
    })
}

fn owned(id: EnvId) -> usize {
    with_kernel(|k| k.envs.get(id).map_or(0, |e| e.mem.owned.len()))
}

crate::kernel_test! {
    fn an_ignored_revocation_is_repossessed_at_its_deadline() {
        let _cleanup = Cleanup;
        let before = census();
        let pages = 24;
        let p = probe(Mode::IgnoreRevocation, pages | 1 << 16, Some(revocation_limits(pages)?))?;
        wait_blocked(p)?;
        let held = owned(p);
        let deadline = crate::time::now_ns() + 3_000_000;
        with_kernel(|k| k.request_revocation(p, 20, deadline, false))?;
        let mut seen = Vec::new();
        run_until("the repossession", |k| {
            if let Some(r) = repossessions(k, p) {
                seen = r;
            }
            !seen.is_empty()
        })?;
        ensure_eq!(seen.len(), 20);
        ensure_eq!(owned(p), held - 20);
        for e in &seen {
            ensure_eq!(RepossessedKind::from_u32(e.kind), Some(RepossessedKind::Frame));
            ensure_eq!(RepossessionReason::from_u32(e.reason), Some(RepossessionReason::RevocationDeadline));
            ensure!(e.time_ns >= deadline, "repossessed {} ns before the deadline", deadline - e.time_ns);
            ensure!(e.time_ns - deadline < 500_000, "repossessed {} ns after the deadline", e.time_ns - deadline);
        }
        run_until_ended(&[p])?;
        passed(p, "ignoring probe (it checks the dumps)")?;
        nothing_leaked(before)
    }
}

crate::kernel_test! {
    fn the_guarantee_holds_until_an_announced_emergency() {
        let _cleanup = Cleanup;
        let before = census();
        let pages = 16;
        let limits = revocation_limits(pages)?;
        let p = probe(Mode::IgnoreRevocation, pages | 2 << 16, Some(limits))?;
        wait_blocked(p)?;
        let held = owned(p);
        // Ask for far more than exists above the guarantee.
        let deadline = crate::time::now_ns() + 2_000_000;
        with_kernel(|k| k.request_revocation(p, 10_000, deadline, false))?;
        run_until("the first repossession", |k| repossessions(k, p).is_some_and(|r| !r.is_empty()))?;
        ensure_eq!(owned(p), limits.min_frames as usize);
        ensure_eq!(held - owned(p), pages as usize);
        // An emergency, announced by the upcall (args[2] = 1): now the
        // guarantee gives.
        let deadline = crate::time::now_ns() + 2_000_000;
        with_kernel(|k| k.request_revocation(p, 4, deadline, true))?;
        let mut seen = Vec::new();
        run_until("the emergency repossession", |k| {
            if let Some(r) = repossessions(k, p) {
                seen = r;
            }
            seen.len() > pages as usize
        })?;
        ensure_eq!(owned(p), limits.min_frames as usize - 4);
        let emergency = seen.iter().filter(|e| e.reason == RepossessionReason::Emergency as u32).count();
        ensure_eq!(emergency, 4);
        run_until_ended(&[p])?;
        passed(p, "probe (it checks it saw the emergency warning)")?;
        nothing_leaked(before)
    }
}

crate::kernel_test! {
    fn a_compliant_environment_chooses_what_to_give_back() {
        let _cleanup = Cleanup;
        let before = census();
        let p = probe(Mode::Compliant, 32, None)?;
        wait_blocked(p)?;
        let held = owned(p);
        let deadline = crate::time::now_ns() + 5_000_000;
        with_kernel(|k| k.request_revocation(p, 10, deadline, false))?;
        run_until("the frames to come back", |k| k.envs.get(p).is_none_or(|e| e.revocation.is_none()))?;
        ensure!(crate::time::now_ns() < deadline, "the request was met only by repossession");
        let (reposs, alive) = with_kernel(|k| (k.envs.get(p).map(|e| e.repossessions), k.envs.get(p).is_some()));
        ensure!(alive, "the compliant probe died");
        ensure_eq!(reposs, Some(0));
        ensure_eq!(owned(p), held - 10);
        nothing_leaked(before)
    }
}

crate::kernel_test! {
    fn exit_and_kill_return_every_resource() {
        let _cleanup = Cleanup;
        harness::end_all();
        let before = census();
        let sibling = probe(Mode::Spin, 0, None)?;
        let hoarder = probe(Mode::Hoard, u64::from(sibling.0), None)?;
        run_until_ended(&[hoarder])?;
        passed(hoarder, "hoarder")?;
        let (grants, live) = with_kernel(|k| (k.grants.len(), k.envs.live()));
        ensure_eq!(grants, 0);
        ensure_eq!(live, 1); // the sibling; the hoarder's child died with it
        let sibling_frames = with_kernel(|k| k.envs.get(sibling).map(|e| e.mem.owned.len()));
        ensure!(sibling_frames.is_some(), "the sibling died");
        ensure!(harness::census().env_frames > 0, "the census sees no frames of the sibling");
        // Kill the sibling: its resources come back too.
        nothing_leaked(before)
    }
}

crate::kernel_test! {
    fn memory_pressure_asks_the_largest_holder_and_it_complies() {
        let _cleanup = Cleanup;
        let before = census();
        let holder = probe(Mode::Compliant, 64, None)?;
        let small = probe(Mode::Spin, 0, None)?;
        wait_blocked(holder)?;
        let held = owned(holder);
        let asked = with_kernel(|k| k.relieve_pressure(small, 32, crate::time::now_ns()));
        ensure_eq!(asked, Some(holder));
        run_until("the holder to give frames back", |k| k.envs.get(holder).is_none_or(|e| e.revocation.is_none()))?;
        let reposs = with_kernel(|k| k.envs.get(holder).map(|e| e.repossessions));
        ensure_eq!(reposs, Some(0));
        ensure_eq!(owned(holder), held - 32);
        // Nobody else has frames above its guarantee to give.
        ensure_eq!(with_kernel(|k| k.relieve_pressure(holder, 32, crate::time::now_ns())), None);
        nothing_leaked(before)
    }
}
