//! The CPU policy: which environment runs, visible revocation of the CPU at
//! the end of each slice, and the abort protocol for handlers that overrun.
//!
//! A slice belongs to its slot's holder. When it ends while an environment
//! runs, the kernel upcalls that environment's end-of-slice handler (if it
//! declared one) and gives it [`SLICE_BUDGET_NS`] to save its state and
//! yield. An environment without a handler is simply preempted (the kernel
//! keeps its registers). A handler that does not yield in time is
//! preempted by force and struck: the first strike repossesses its slots
//! beyond the guaranteed minimum, the next writes a warning into its
//! repossession vector, the last ([`MAX_STRIKES`] in a row) aborts it. A
//! handler that yields in time clears its strikes.

use exo_abi::private::{RepossessedKind, RepossessionEntry, RepossessionReason};
use exo_abi::syscall::{ANY, Sysno};
use exo_abi::{EnvId, Error, UpcallKind};

use super::{MAX_STRIKES, SLICE_BUDGET_NS, SLICE_NS, Step};
use crate::arch::user::{BadContext, ExitReason, with_context};
use crate::env::revocation::{push_upcall, record};
use crate::env::{ExitStatus, Kernel, KillReason, RunState, wake};

/// Stores a system-call result in a saved context.
pub fn set_result(index: usize, r: Result<u64, Error>) {
    let (status, value) = match r {
        Ok(v) => (0, v),
        Err(e) => (e.code(), 0),
    };
    let _ = with_context(index, |c| {
        c.regs.rax = status;
        c.regs.rdx = value;
    });
}

impl Kernel {
    /// Whether `id` can run now.
    pub fn runnable(&self, id: EnvId) -> bool {
        self.envs
            .get(id)
            .is_some_and(|e| e.state == RunState::Runnable)
    }

    /// Gives a new environment its guaranteed slots.
    pub fn give_guaranteed_slots(&mut self, id: EnvId) -> Result<(), Error> {
        let want = self.envs.get(id).ok_or(Error::NoSuchEnv)?.limits.min_slots;
        for _ in 0..want {
            self.sched.slots.alloc(id, None)?;
            if let Some(e) = self.envs.get_mut(id) {
                e.cpu.slots += 1;
            }
        }
        self.export_slices();
        Ok(())
    }

    /// `SliceAlloc`.
    pub fn slice_alloc(&mut self, id: EnvId, pos: u64) -> Result<u64, Error> {
        let pos = match pos {
            ANY => None,
            p => Some(usize::try_from(p).map_err(|_| Error::InvalidArgument)?),
        };
        let p = self.sched.slots.alloc(id, pos)?;
        if let Some(e) = self.envs.get_mut(id) {
            e.cpu.slots += 1;
        }
        self.export_slices();
        Ok(p as u64)
    }

    /// `SliceFree` (never the last guaranteed slot).
    pub fn slice_free(&mut self, id: EnvId, pos: u64) -> Result<(), Error> {
        let pos = usize::try_from(pos).map_err(|_| Error::InvalidArgument)?;
        if self.sched.slots.owner(pos) != Some(id) {
            return Err(Error::NotSlotOwner);
        }
        let env = self.envs.get_mut(id).ok_or(Error::NoSuchEnv)?;
        if env.cpu.slots <= env.limits.min_slots {
            return Err(Error::BelowGuarantee);
        }
        self.sched.slots.free(id, pos)?;
        env.cpu.slots -= 1;
        self.export_slices();
        Ok(())
    }

    fn export_slices(&self) {
        self.exports
            .update_slices(|v| self.sched.slots.export_positions(v, u32::MAX));
    }

    /// Removes `id` from the CPU's bookkeeping (it is ending): its slots,
    /// slices donated to it, callers waiting for its reply.
    pub fn forget_cpu(&mut self, id: EnvId) {
        self.sched.slots.forget(id);
        if self.sched.running == Some(id) {
            self.sched.running = None;
        }
        for env in self.envs.iter_mut() {
            if env.state == (RunState::AwaitingReply { from: id }) {
                env.state = RunState::Runnable;
                set_result(env.context(), Err(Error::PeerDied));
            }
        }
        self.export_slices();
    }

    /// Applies wake-ups posted by [`wake::wake`], and wakes blocked
    /// environments that have upcalls pending.
    pub fn absorb_wakes(&mut self) {
        let mut woken = arrayvec::ArrayVec::<EnvId, { exo_abi::ids::MAX_ENVS }>::new();
        wake::take(|id| woken.push(id));
        for env in self.envs.iter_mut() {
            let posted = woken.contains(&env.id);
            let pending = env.pending.revocation || env.pending.repossession;
            if matches!(env.state, RunState::Blocked { .. }) && (posted || pending) {
                env.state = RunState::Runnable;
                set_result(env.context(), Ok(0));
            } else if posted {
                env.pending.wake = true;
            }
        }
    }

    /// Ends `Block` calls whose deadline passed.
    pub fn expire_blocks(&mut self, now: u64) {
        for env in self.envs.iter_mut() {
            if let RunState::Blocked { deadline: Some(d) } = env.state
                && d <= now
            {
                env.state = RunState::Runnable;
                set_result(env.context(), Err(Error::TimedOut));
            }
        }
    }

    /// Earliest time something must happen while nothing runs.
    fn next_deadline(&self) -> Option<u64> {
        let blocks = self.envs.iter().filter_map(|e| match e.state {
            RunState::Blocked { deadline } => deadline,
            _ => None,
        });
        blocks.chain(self.next_revocation_deadline()).min()
    }

    /// Decides what runs next.
    pub fn schedule(&mut self, now: u64) -> Step {
        if let Some(r) = self.sched.running {
            if let Some(step) = self.continue_running(r, now) {
                return step;
            }
            self.sched.running = None;
        }
        let slots = exo_abi::export::SLICE_SLOTS;
        for step in 1..=slots {
            let pos = (self.sched.current_slot + step) % slots;
            let Some(holder) = self.sched.slots.holder(pos) else {
                continue;
            };
            if !self.runnable(holder) {
                continue;
            }
            self.sched.current_slot = pos;
            self.sched.slice_end = now + SLICE_NS;
            self.sched.running = Some(holder);
            if let Some(e) = self.envs.get_mut(holder) {
                e.cpu.slices += 1;
            }
            return self.dispatch(holder, self.sched.slice_end, now);
        }
        Step::Idle {
            until: self.next_deadline(),
        }
    }

    /// The environment running in the current slice goes on, enters its
    /// end-of-slice handler, or is struck (`None`: the slice is over).
    fn continue_running(&mut self, r: EnvId, now: u64) -> Option<Step> {
        if !self.runnable(r) {
            return None;
        }
        let epilogue = self.envs.get(r)?.cpu.epilogue_deadline;
        match epilogue {
            Some(deadline) if now < deadline => Some(self.dispatch(r, deadline, now)),
            Some(_) => {
                self.overrun(r, now);
                None
            }
            None if now < self.sched.slice_end => Some(self.dispatch(r, self.sched.slice_end, now)),
            None => {
                // Pending upcalls go first (below the end-of-slice frame), so
                // the handler's frame stays on top until it runs.
                self.deliver_pending(r);
                let env = self.envs.get_mut(r)?;
                let index = env.context();
                // The budget starts when the environment gets the CPU back
                // (the kernel's own work is not charged to it): `dispatch`
                // sets the deadline the handler sees in `args[0]`.
                if push_upcall(env, index, UpcallKind::SliceEnd, [0; 7]) {
                    env.cpu.epilogue_deadline = Some(u64::MAX);
                    Some(self.dispatch(r, u64::MAX, now))
                } else {
                    None
                }
            }
        }
    }

    /// Prepares `id` to run: pending upcalls, its address space, exports.
    fn dispatch(&mut self, id: EnvId, until: u64, now: u64) -> Step {
        self.deliver_pending(id);
        let alarm = self
            .next_revocation_deadline()
            .map_or(until, |d| d.min(until));
        let alarm = self.next_deadline().map_or(alarm, |d| d.min(alarm));
        if let Some(env) = self.envs.get(id) {
            env.space.activate();
            self.exports.write_env(env);
        }
        self.exports.refresh_counts(self.envs.live(), now);
        let (slot, slice_end) = (self.sched.current_slot as u32, self.sched.slice_end);
        self.exports.update_info(|i| {
            i.current_env = id.0;
            i.current_slot = slot;
            i.slice_end_ns = slice_end;
        });
        self.sched.entered_at = now;
        let alarm = self.start_budget(id).map_or(alarm, |d| d.min(alarm));
        Step::Run { env: id, alarm }
    }

    /// Starts the end-of-slice budget of `id` if its handler was just
    /// upcalled: the deadline counts from now (after the kernel's work) and
    /// goes into the upcall frame's `args[0]` and the handler's `rdi`.
    fn start_budget(&mut self, id: EnvId) -> Option<u64> {
        let env = self.envs.get_mut(id)?;
        if env.cpu.epilogue_deadline != Some(u64::MAX) {
            return None;
        }
        let deadline = crate::time::now_ns() + SLICE_BUDGET_NS;
        env.cpu.epilogue_deadline = Some(deadline);
        let _ = with_context(env.context(), |c| {
            if c.regs.rax == UpcallKind::SliceEnd as u64 {
                c.regs.rdi = deadline;
                // The frame sits at the handler's rsp; args[0] is its
                // second word.
                let _ = env.space.write(c.regs.rsp + 8, &deadline.to_le_bytes());
            }
        });
        Some(deadline)
    }

    /// Handles an environment's return to the kernel.
    pub fn after_run(&mut self, id: EnvId, outcome: Result<ExitReason, BadContext>, now: u64) {
        let slice_end = self.sched.slice_end;
        let entered = self.sched.entered_at;
        if let Some(env) = self.envs.get_mut(id) {
            env.cpu.ns += now.saturating_sub(entered);
            if self.sched.running == Some(id) && now > slice_end {
                env.cpu.max_overrun_ns = env.cpu.max_overrun_ns.max(now - slice_end);
            }
        }
        match outcome {
            Ok(ExitReason::Syscall) => self.syscall_full(id, now),
            Ok(ExitReason::Interrupt) => {}
            Ok(ExitReason::Fault) => {
                let reason = self
                    .envs
                    .get_mut(id)
                    .and_then(|e| e.last_fault.take())
                    .unwrap_or_else(|| {
                        with_context(id.index(), |c| KillReason::Fault {
                            vector: c.regs.vector,
                            error: c.regs.error_code,
                            addr: 0,
                            rip: c.regs.rip,
                        })
                        .unwrap_or(KillReason::ByKernel)
                    });
                self.end(id, ExitStatus::Killed(reason));
            }
            Err(e) => {
                log::info!("{id}: cannot resume: {e}");
                self.end(id, ExitStatus::Killed(KillReason::BadContext));
            }
        }
    }

    /// The environment gave up the CPU in time: clears its epilogue state
    /// and strikes.
    pub fn complied(&mut self, id: EnvId) {
        if let Some(env) = self.envs.get_mut(id)
            && env.cpu.epilogue_deadline.take().is_some()
        {
            env.cpu.strikes = 0;
            // The slice is over: the next decision starts the next slot.
            if self.sched.running == Some(id) {
                self.sched.running = None;
            }
        }
    }

    /// The end-of-slice handler of `id` overran its budget.
    fn overrun(&mut self, id: EnvId, now: u64) {
        let Some(env) = self.envs.get_mut(id) else {
            return;
        };
        env.cpu.epilogue_deadline = None;
        env.cpu.strikes = env.cpu.strikes.saturating_add(1);
        let strikes = env.cpu.strikes;
        log::debug!(
            "{} ({id}): end-of-slice handler overran its {SLICE_BUDGET_NS} ns budget (strike {strikes} of {MAX_STRIKES})",
            env.name
        );
        if strikes >= MAX_STRIKES {
            self.end(id, ExitStatus::Killed(KillReason::SliceOverrun));
            return;
        }
        if strikes + 1 == MAX_STRIKES {
            let e = RepossessionEntry {
                resource: u64::from(strikes),
                time_ns: now,
                ..RepossessionEntry::default()
            };
            record(
                env,
                RepossessedKind::Warning,
                RepossessionReason::SliceOverrun,
                e,
            );
            return;
        }
        let min = usize::from(env.limits.min_slots);
        let extra: alloc::vec::Vec<usize> = self.sched.slots.owned_by(id).skip(min).collect();
        for pos in extra {
            let _ = self.sched.slots.free(id, pos);
            if let Some(env) = self.envs.get_mut(id) {
                env.cpu.slots -= 1;
                let e = RepossessionEntry {
                    resource: pos as u64,
                    time_ns: now,
                    ..RepossessionEntry::default()
                };
                record(
                    env,
                    RepossessedKind::Slot,
                    RepossessionReason::SliceOverrun,
                    e,
                );
            }
        }
        self.export_slices();
    }

    /// Handles a system call that took the full path (its registers are in
    /// the saved context of `id`).
    pub fn syscall_full(&mut self, id: EnvId, now: u64) {
        let index = id.index();
        let Ok((nr, a)) = with_context(index, |c| {
            let r = &c.regs;
            (r.rax, [r.rdi, r.rsi, r.rdx, r.r10, r.r8, r.r9])
        }) else {
            return;
        };
        let result = match Sysno::from_u64(nr) {
            Some(Sysno::Yield) => self.yield_cpu(id, a[0]),
            Some(Sysno::Block) => match self.block(id, a[0], now) {
                // Parked: the result comes with the wake-up or the deadline.
                Ok(true) => return,
                Ok(false) => Ok(0),
                Err(e) => Err(e),
            },
            Some(Sysno::Exit) => {
                self.end(id, ExitStatus::Exited(a[0]));
                return;
            }
            Some(Sysno::PctCall) => match self.pct_call(id, a) {
                Ok(()) => return,
                Err(e) => Err(e),
            },
            Some(Sysno::PctSend) => self.pct_send(id, a),
            Some(Sysno::PctReply) => match self.pct_reply(id, a) {
                // The replier went back to where the call found it.
                Ok(true) => return,
                Ok(false) => Ok(0),
                Err(e) => Err(e),
            },
            _ => crate::syscall::dispatch_short(self, id, nr, &a),
        };
        set_result(index, result);
    }

    /// `Yield`: ends the caller's use of the slice, or donates the rest of
    /// it to `target`.
    fn yield_cpu(&mut self, id: EnvId, target: u64) -> Result<u64, Error> {
        log::trace!(
            "{id}: yield to {target:#x} (running {:?})",
            self.sched.running
        );
        let in_epilogue = self
            .envs
            .get(id)
            .is_some_and(|e| e.cpu.epilogue_deadline.is_some());
        if target == 0 || in_epilogue {
            self.complied(id);
            if self.sched.running == Some(id) {
                self.sched.running = None;
            }
            return Ok(0);
        }
        let t = EnvId::from_u64(target)
            .filter(|t| self.envs.get(*t).is_some())
            .ok_or(Error::NoSuchEnv)?;
        if t == id {
            return Ok(0);
        }
        if !self.runnable(t) {
            return Err(Error::TargetBusy);
        }
        self.sched.running = Some(t);
        Ok(0)
    }

    /// `Block`: parks `id` until woken or `deadline`. Returns whether it
    /// parked (`false`: an upcall was already pending, return at once).
    fn block(&mut self, id: EnvId, deadline: u64, now: u64) -> Result<bool, Error> {
        self.complied(id);
        let env = self.envs.get_mut(id).ok_or(Error::NoSuchEnv)?;
        if env.pending.revocation || env.pending.repossession {
            return Ok(false);
        }
        if core::mem::take(&mut env.pending.wake) {
            return Ok(false);
        }
        if deadline != 0 && deadline <= now {
            return Err(Error::TimedOut);
        }
        env.state = RunState::Blocked {
            deadline: (deadline != 0).then_some(deadline),
        };
        if self.sched.running == Some(id) {
            self.sched.running = None;
        }
        Ok(true)
    }
}
