//! Visible revocation of memory and the abort protocol.
//!
//! The kernel asks an environment for N frames by a deadline
//! ([`Kernel::request_revocation`]): a `Revocation` upcall tells it how
//! many and by when, and the library OS chooses which frames to free. Each
//! frame it frees counts. If the deadline passes first, the kernel breaks
//! the bindings by force ([`Kernel::repossess_frames`]): it picks frames
//! (unmapped ones first, then the most recently allocated; never pinned
//! frames, the dump area or the upcall stack),
//! copies each one's contents into the next page of the environment's dump
//! area when it declared one, unmaps it everywhere, frees it, records it in
//! the repossession vector of the environment's private page, and raises a
//! `Repossession` upcall for its next run. The guaranteed minimum
//! (`Limits::min_frames`) is never touched unless the request was an
//! emergency, which the upcall announced (`args[2] = 1`): that is the
//! warning.

use alloc::collections::BTreeSet;
use alloc::vec::Vec;

use exo_abi::private::{
    NO_ADDRESS, NO_DUMP, PrivatePage, REPOSSESSION_CAPACITY, RepossessedKind, RepossessionEntry,
    RepossessionReason,
};
use exo_abi::{EnvId, Error, UpcallKind};

use super::Kernel;
use super::environment::Env;
use super::memory::first_mapping;
use crate::mm::frame::{self, Frame};
use crate::mm::phys;

/// Time an environment gets to answer a request caused by memory pressure.
pub const PRESSURE_DEADLINE_NS: u64 = 10_000_000;

/// Frames asked for at a time under memory pressure.
pub const PRESSURE_BATCH: u32 = 32;

/// An outstanding request for frames.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Revocation {
    /// Frames still to give back.
    pub remaining: u32,
    /// Clock time by which they must be back.
    pub deadline: u64,
    /// The guarantee does not hold (the upcall said so).
    pub emergency: bool,
    /// Frames requested in total.
    pub requested: u32,
}

/// Writes one entry to the repossession vector of `env`.
pub fn record(
    env: &mut Env,
    kind: RepossessedKind,
    reason: RepossessionReason,
    entry: RepossessionEntry,
) {
    let n = env.repossessions;
    let entry = RepossessionEntry {
        kind: kind as u32,
        reason: reason as u32,
        ..entry
    };
    phys::with_frame(env.private, |p: &mut PrivatePage| {
        p.entries[(n % REPOSSESSION_CAPACITY as u64) as usize] = entry;
        p.repossessions = n + 1;
    });
    env.repossessions = n + 1;
    env.pending.repossession = true;
}

impl Kernel {
    /// Asks `id` to give back `frames` frames by clock time `deadline`.
    /// With `emergency`, frames below its guarantee may be taken.
    pub fn request_revocation(
        &mut self,
        id: EnvId,
        frames: u32,
        deadline: u64,
        emergency: bool,
    ) -> Result<(), Error> {
        let env = self.envs.get_mut(id).ok_or(Error::NoSuchEnv)?;
        env.revocation = Some(Revocation {
            remaining: frames,
            deadline,
            emergency,
            requested: frames,
        });
        env.pending.revocation = true;
        Ok(())
    }

    /// Memory policy: `requester` could not get a frame. Asks the other
    /// environment with the most frames above its guarantee (and no request
    /// pending) for `frames` of them within [`PRESSURE_DEADLINE_NS`]; returns
    /// whom it asked. The requester's call still fails (`OutOfMemory`); it
    /// retries once frames come back.
    pub fn relieve_pressure(&mut self, requester: EnvId, frames: u32, now: u64) -> Option<EnvId> {
        let (victim, excess) = self
            .envs
            .iter()
            .filter(|e| e.id != requester && e.revocation.is_none())
            .map(|e| {
                (
                    e.id,
                    e.mem
                        .owned
                        .len()
                        .saturating_sub(e.limits.min_frames as usize),
                )
            })
            .filter(|(_, excess)| *excess > 0)
            .max_by_key(|(_, excess)| *excess)?;
        let ask = frames.min(excess as u32);
        self.request_revocation(victim, ask, now + PRESSURE_DEADLINE_NS, false)
            .ok()?;
        log::info!("memory pressure from {requester}: asked {victim} for {ask} frames");
        Some(victim)
    }

    /// Counts a frame `id` gave back toward its revocation request.
    pub fn note_returned(&mut self, id: EnvId) {
        if let Some(env) = self.envs.get_mut(id)
            && let Some(r) = env.revocation.as_mut()
        {
            r.remaining = r.remaining.saturating_sub(1);
            if r.remaining == 0 {
                env.revocation = None;
                env.pending.revocation = false;
            }
        }
    }

    /// Earliest revocation deadline of any environment.
    pub fn next_revocation_deadline(&self) -> Option<u64> {
        self.envs
            .iter()
            .filter_map(|e| e.revocation.map(|r| r.deadline))
            .min()
    }

    /// Repossesses what is still owed on every request whose deadline
    /// passed.
    pub fn enforce_revocations(&mut self, now: u64) {
        if self.next_revocation_deadline().is_none_or(|d| d > now) {
            return;
        }
        let due: Vec<(EnvId, Revocation)> = self
            .envs
            .iter()
            .filter_map(|e| {
                e.revocation
                    .filter(|r| r.deadline <= now)
                    .map(|r| (e.id, r))
            })
            .collect();
        for (id, r) in due {
            let reason = if r.emergency {
                RepossessionReason::Emergency
            } else {
                RepossessionReason::RevocationDeadline
            };
            let taken = self.repossess_frames(id, r.remaining, r.emergency, reason, now);
            log::info!(
                "{id}: revocation of {} frames unmet at the deadline; {taken} repossessed",
                r.remaining
            );
            if let Some(env) = self.envs.get_mut(id) {
                env.revocation = None;
                env.pending.revocation = false;
            }
        }
    }

    /// Takes up to `count` frames from `id` by force; returns how many.
    pub fn repossess_frames(
        &mut self,
        id: EnvId,
        count: u32,
        emergency: bool,
        reason: RepossessionReason,
        now: u64,
    ) -> u32 {
        let Some(env) = self.envs.get(id) else {
            return 0;
        };
        let floor = if emergency {
            0
        } else {
            env.limits.min_frames as usize
        };
        let available = env.mem.owned.len().saturating_sub(floor);
        let victims = choose_victims(env, (count as usize).min(available));
        for f in &victims {
            let Some(env) = self.envs.get_mut(id) else {
                break;
            };
            let vaddr = first_mapping(env, *f).unwrap_or(NO_ADDRESS);
            let dump_page = dump(env, *f);
            record(
                env,
                RepossessedKind::Frame,
                reason,
                RepossessionEntry {
                    resource: f.index() as u64,
                    vaddr,
                    dump_page,
                    time_ns: now,
                    ..RepossessionEntry::default()
                },
            );
            self.release_frame(id, *f);
        }
        victims.len() as u32
    }

    /// Delivers pending revocation and repossession upcalls to `id` (just
    /// before it runs). An environment that declared no entry for them
    /// still has its repossession vector; the kernel just does not tell.
    pub fn deliver_pending(&mut self, id: EnvId) {
        let Some(env) = self.envs.get_mut(id) else {
            return;
        };
        let index = env.context();
        if env.pending.repossession {
            env.pending.repossession = false;
            let new = env.repossessions - env.repossessions_notified;
            env.repossessions_notified = env.repossessions;
            let args = [env.repossessions, new, 0, 0, 0, 0, 0];
            push_upcall(env, index, UpcallKind::Repossession, args);
        }
        if env.pending.revocation {
            env.pending.revocation = false;
            if let Some(r) = env.revocation {
                let args = [
                    u64::from(r.remaining),
                    r.deadline,
                    u64::from(r.emergency),
                    0,
                    0,
                    0,
                    0,
                ];
                push_upcall(env, index, UpcallKind::Revocation, args);
            }
        }
    }
}

/// Pushes an upcall onto `env`'s saved context, logging failures (the
/// environment simply is not told; deadlines still hold).
pub fn push_upcall(env: &mut Env, index: usize, kind: UpcallKind, args: [u64; 7]) -> bool {
    let r = crate::arch::user::with_context(index, |ctx| {
        super::upcall::push(&env.space, env.upcalls.as_ref(), &mut ctx.regs, kind, args)
    });
    match r {
        Ok(Ok(())) => {
            env.cpu.upcalls += 1;
            log::trace!("{}: {kind:?} upcall {args:x?}", env.id);
            true
        }
        Ok(Err(e)) => {
            log::debug!(
                "{} ({}): {kind:?} upcall not delivered: {e}",
                env.name,
                env.id
            );
            false
        }
        Err(e) => {
            log::error!("{}: {e}", env.id);
            false
        }
    }
}

/// Frames mapped in `[vaddr, vaddr + pages * 4096)` of `env`'s space.
fn frames_in(env: &Env, vaddr: u64, pages: u64) -> impl Iterator<Item = Frame> + '_ {
    (0..pages)
        .filter_map(move |i| env.space.translate(vaddr + i * 4096))
        .map(|t| Frame::containing(t.phys))
}

/// Frames never chosen as victims: the dump area (where the contents go)
/// and the upcall stack (the kernel needs it to tell the environment).
fn protected_frames(env: &Env) -> BTreeSet<Frame> {
    let mut set = BTreeSet::new();
    if let Some(d) = env.mem.dump {
        set.extend(frames_in(env, d.vaddr, d.pages));
    }
    if let Some(u) = env.upcalls {
        set.extend(frames_in(env, u.stack_lo, (u.stack_hi - u.stack_lo) / 4096));
    }
    set
}

/// Picks `count` frames: not pinned, not protected, unmapped ones first,
/// then the most recently allocated (highest numbered).
fn choose_victims(env: &Env, count: usize) -> Vec<Frame> {
    let protected = protected_frames(env);
    let pinned = |f: &Frame| {
        frame::with_table(|t| t.info(*f))
            .ok()
            .flatten()
            .is_some_and(|i| i.flags & exo_abi::export::FRAME_PINNED != 0)
    };
    let candidates = env
        .mem
        .owned
        .iter()
        .rev()
        .filter(|f| !protected.contains(f) && !pinned(f));
    let (unmapped, mapped): (Vec<Frame>, Vec<Frame>) =
        candidates.partition(|f| first_mapping(env, **f).is_none());
    unmapped.into_iter().chain(mapped).take(count).collect()
}

/// Copies `f` into the next free page of `env`'s dump area; returns the
/// page index or `NO_DUMP`.
fn dump(env: &mut Env, f: Frame) -> u64 {
    let Some(mut d) = env.mem.dump else {
        return NO_DUMP;
    };
    if d.next >= d.pages {
        return NO_DUMP;
    }
    let page = d.next;
    let Some(t) = env.space.translate(d.vaddr + page * 4096) else {
        return NO_DUMP;
    };
    let target = Frame::containing(t.phys);
    // Only into a frame the environment owns and maps writable: the dump
    // must never write anyone else's memory.
    if !t.writable || !env.mem.owned.contains(&target) {
        return NO_DUMP;
    }
    phys::copy_frame(f, target);
    d.next += 1;
    env.mem.dump = Some(d);
    page
}
