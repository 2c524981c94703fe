//! Protected control transfer (Aegis): a jump into another environment's
//! declared entry point, with the message in registers, donating the CPU.
//!
//! - `PctCall` (synchronous): the target gets a `Pct` upcall carrying the
//!   sender and five words, and runs at once on the caller's slice; the
//!   caller's slots stay donated to it (the slots follow chains of calls)
//!   until it answers with `PctReply`, which resumes the caller right away
//!   with the reply words in its registers.
//! - `PctSend` (asynchronous): the target runs for the rest of the current
//!   slice only; the caller resumes in its own next slice.
//!
//! The sender id in the upcall is set by the kernel, so a receiver knows who
//! called. A target that waits for a reply itself takes no transfer
//! (`TargetBusy`); a blocked target is woken (its `Block` returns 0).
//!
//! A reply ends the handler that served the call: before delivering a call
//! the kernel saves the target's context, and the reply restores it, so a
//! server resumes exactly where the call found it (typically blocked,
//! waiting for the next call) and its handler frames never pile up on its
//! upcall stack however many calls arrive before it runs on its own time.
//! Whatever a handler must do after replying, it does before. Calls served
//! at once nest up to `MAX_CONTINUATIONS` deep (then `TargetBusy`).

use exo_abi::upcall::{PCT_MODE_CALL, PCT_MODE_SEND};
use exo_abi::{EnvId, Error, UpcallKind};

use super::cpu::set_result;
use crate::arch::user::{restore_continuation, save_continuation, with_context};
use crate::env::revocation::push_upcall;
use crate::env::{Kernel, RunState};

impl Kernel {
    /// Checks a transfer from `id` to the target in `a[0]` and delivers the
    /// `Pct` upcall; returns the target.
    fn transfer(&mut self, id: EnvId, a: [u64; 6], mode: u64) -> Result<EnvId, Error> {
        let target = EnvId::from_u64(a[0])
            .filter(|t| self.envs.get(*t).is_some())
            .ok_or(Error::NoSuchEnv)?;
        self.drop_dead_callers(target);
        if target == id {
            return Err(Error::InvalidArgument);
        }
        let t = self.envs.get_mut(target).ok_or(Error::NoSuchEnv)?;
        if matches!(t.state, RunState::AwaitingReply { .. }) {
            return Err(Error::TargetBusy);
        }
        if !t.upcalls.is_some_and(|c| c.accepts(UpcallKind::Pct)) {
            return Err(Error::NoEntryPoint);
        }
        if mode == PCT_MODE_CALL && !self.sched.slots.can_donate(id) {
            return Err(Error::TooDeep);
        }
        if mode == PCT_MODE_CALL && t.serving.is_full() {
            return Err(Error::TargetBusy);
        }
        let t = self.envs.get_mut(target).ok_or(Error::NoSuchEnv)?;
        if matches!(t.state, RunState::Blocked { .. }) {
            t.state = RunState::Runnable;
            set_result(t.context(), Ok(0));
        }
        let index = t.context();
        if mode == PCT_MODE_CALL {
            save_continuation(index, t.serving.len()).map_err(|_| Error::TargetBusy)?;
        }
        let args = [u64::from(id.0), a[1], a[2], a[3], a[4], a[5], mode];
        if !push_upcall(t, index, UpcallKind::Pct, args) {
            return Err(Error::NoEntryPoint);
        }
        if mode == PCT_MODE_CALL {
            t.serving.push(id);
        }
        self.complied(id);
        Ok(target)
    }

    /// `PctCall`: on success the caller is parked until the reply.
    pub fn pct_call(&mut self, id: EnvId, a: [u64; 6]) -> Result<(), Error> {
        let target = self.transfer(id, a, PCT_MODE_CALL)?;
        let changed = self.sched.slots.donate(id, target)?;
        if let Some(env) = self.envs.get_mut(id) {
            env.state = RunState::AwaitingReply { from: target };
        }
        self.sched.running = Some(target);
        self.exports
            .update_slices(|v| self.sched.slots.export_positions(v, changed));
        Ok(())
    }

    /// `PctSend`.
    pub fn pct_send(&mut self, id: EnvId, a: [u64; 6]) -> Result<u64, Error> {
        let target = self.transfer(id, a, PCT_MODE_SEND)?;
        self.sched.running = Some(target);
        Ok(0)
    }

    /// Drops entries of callers that died from the top of `id`'s serving
    /// stack (their handlers will never reply).
    fn drop_dead_callers(&mut self, id: EnvId) {
        let Some(me) = self.envs.get(id) else { return };
        let mut serving = me.serving.clone();
        while serving
            .last()
            .is_some_and(|c| !crate::env::table::is_alive(*c))
        {
            serving.pop();
        }
        if let Some(me) = self.envs.get_mut(id) {
            me.serving = serving;
        }
    }

    /// `PctReply`: resumes the caller waiting on `id`. Returns whether the
    /// replier's own context was restored (then it gets no result).
    pub fn pct_reply(&mut self, id: EnvId, a: [u64; 6]) -> Result<bool, Error> {
        self.drop_dead_callers(id);
        let target = EnvId::from_u64(a[0])
            .filter(|t| self.envs.get(*t).is_some())
            .ok_or(Error::NoSuchEnv)?;
        let t = self.envs.get_mut(target).ok_or(Error::NoSuchEnv)?;
        if t.state != (RunState::AwaitingReply { from: id }) {
            return Err(Error::NotAwaitingReply);
        }
        t.state = RunState::Runnable;
        let _ = with_context(t.context(), |c| {
            let r = &mut c.regs;
            r.rax = 0;
            r.rdi = u64::from(id.0);
            r.rsi = a[1];
            r.rdx = a[2];
            r.r10 = a[3];
            r.r8 = a[4];
            r.r9 = a[5];
        });
        let changed = self.sched.slots.give_back(id, target);
        self.exports
            .update_slices(|v| self.sched.slots.export_positions(v, changed));
        // The replier's handler is done: back to where the call found it.
        let mut restored = false;
        if let Some(me) = self.envs.get_mut(id)
            && me.serving.last() == Some(&target)
        {
            me.serving.pop();
            restored = restore_continuation(me.context(), me.serving.len()).is_ok();
        }
        self.complied(id);
        self.sched.running = Some(target);
        Ok(restored)
    }
}
