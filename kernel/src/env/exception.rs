//! Exceptions straight to the environment.
//!
//! An exception in ring 3 is delivered on the IST stack it arrived on: the
//! kernel pushes an `Exception` upcall (vector, error code, fault address;
//! the interrupted RIP, RSP, RFLAGS and the seven registers it loads) and
//! rewrites the trap frame so that the stub's `iretq` lands on the
//! environment's handler. No context switch, no scheduler: the kernel-side
//! path is the entry stub, this function and the frame write. The handler
//! resumes the faulting code itself. An environment without a usable
//! handler leaves ring 3 for good and the kernel loop kills it; the kernel
//! and the other environments carry on.

use exo_abi::UpcallKind;

use super::environment::KillReason;
use super::upcall;
use super::with_kernel;
use crate::arch::TrapFrame;
use crate::arch::trap::UserTrap;
use crate::arch::{cpu, user};

/// Vector of #NM (device not available).
const DEVICE_NOT_AVAILABLE: u64 = 7;
/// Vector of #PF.
const PAGE_FAULT: u64 = 14;

/// Handles an exception taken in ring 3 (called by the trap dispatcher).
pub fn from_user(frame: &mut TrapFrame) -> UserTrap {
    let Some(index) = user::current() else {
        return UserTrap::ToKernel;
    };
    let addr = if frame.vector == PAGE_FAULT {
        cpu::cr2()
    } else {
        0
    };
    let (vector, error, rip) = (frame.vector, frame.error_code, frame.rip);
    let delivered = with_kernel(|k| {
        let Some(env) = k.envs.id_at(index).and_then(|id| k.envs.get_mut(id)) else {
            return false;
        };
        let args = [vector, error, addr, 0, 0, 0, 0];
        match upcall::push(
            &env.space,
            env.upcalls.as_ref(),
            frame,
            UpcallKind::Exception,
            args,
        ) {
            Ok(()) => {
                env.cpu.exceptions += 1;
                env.cpu.upcalls += 1;
                true
            }
            Err(e) => {
                log::debug!(
                    "{} ({}): exception {vector} at {rip:#x} not delivered: {e}",
                    env.name,
                    env.id
                );
                env.last_fault = Some(KillReason::Fault {
                    vector,
                    error,
                    addr,
                    rip,
                });
                false
            }
        }
    });
    if !delivered {
        return UserTrap::ToKernel;
    }
    if vector == DEVICE_NOT_AVAILABLE {
        // The environment asked for lazy FPU and touched it: back to eager
        // mode (the stub cleared CR0.TS on entry and will leave it clear).
        user::end_lazy_fpu_of_current();
    }
    UserTrap::Resume
}
