//! System calls: decoding and dispatch (the ABI is `exo_abi::syscall`).
//!
//! [`short_path`] runs on the system-call stack right from the entry stub:
//! it handles every call that does not switch environments (null, debug
//! output, frames, mappings, grants, slots, upcall declaration, children,
//! the network group) under the kernel lock and returns to the caller with
//! `sysretq`. Calls that switch or end the caller (`Yield`, `Block`,
//! `Exit`, the protected control transfers) take the full path: the entry
//! saves the caller's context and the kernel loop runs
//! `Kernel::syscall_full`.
//!
//! Every argument is checked; a bad one gets an error code, never a crash.

pub mod net;
pub mod uslice;

use exo_abi::syscall::{ANY, DEBUG_PRINT_MAX, PROGRAM_NAME_MAX, Sysno, is_net};
use exo_abi::{EnvId, Error};

use crate::arch::TrapFrame;
use crate::arch::syscall::Disposition;
use crate::env::upcall::UpcallConfig;
use crate::env::{Kernel, with_kernel};
use uslice::USlice;

/// Entry from the stub: handles the call in place or asks for the full path.
pub fn short_path(frame: &mut TrapFrame) -> Disposition {
    let nr = frame.rax;
    if Sysno::from_u64(nr).is_some_and(Sysno::switches) {
        return Disposition::FullPath;
    }
    let Some(index) = crate::arch::user::current() else {
        return Disposition::FullPath;
    };
    let args = [
        frame.rdi, frame.rsi, frame.rdx, frame.r10, frame.r8, frame.r9,
    ];
    let result = with_kernel(|k| match k.envs.id_at(index) {
        Some(id) => dispatch_short(k, id, nr, &args),
        None => Err(Error::NoSuchEnv),
    });
    let (status, value) = match result {
        Ok(v) => (0, v),
        Err(e) => (e.code(), 0),
    };
    frame.rax = status;
    frame.rdx = value;
    Disposition::Return
}

/// Calls that do not switch environments.
pub fn dispatch_short(k: &mut Kernel, id: EnvId, nr: u64, a: &[u64; 6]) -> Result<u64, Error> {
    if is_net(nr) {
        return net::dispatch(k, id, nr, a);
    }
    let call = Sysno::from_u64(nr).ok_or(Error::UnknownSyscall)?;
    match call {
        Sysno::Null => Ok(0),
        Sysno::DebugPrint => debug_print(k, id, a[0], a[1]).map(|()| 0),
        Sysno::UpcallRegister => {
            let env = k.envs.get_mut(id).ok_or(Error::NoSuchEnv)?;
            env.upcalls = if a[3] == 0 {
                None
            } else {
                Some(UpcallConfig::new(a[0], a[1], a[2], a[3])?)
            };
            Ok(0)
        }
        Sysno::FpuLazy => {
            let on = match a[0] {
                0 => false,
                1 => true,
                _ => return Err(Error::InvalidArgument),
            };
            crate::arch::user::set_lazy_fpu(id.index(), on);
            Ok(0)
        }
        Sysno::EnvSpawn => {
            let name = USlice::new(a[0], a[1], PROGRAM_NAME_MAX)?;
            let space = &k.envs.get(id).ok_or(Error::NoSuchEnv)?.space;
            let bytes = name.read_vec(space)?;
            k.spawn_child(id, &bytes, a[2]).map(|c| u64::from(c.0))
        }
        Sysno::EnvKill => k.kill_child(id, a[0]).map(|()| 0),
        Sysno::FrameAlloc => {
            let want = (a[0] != ANY).then_some(a[0]);
            k.frame_alloc(id, want).map(|f| f.index() as u64)
        }
        Sysno::FrameFree => k.frame_free(id, a[0]).map(|()| 0),
        Sysno::Map => k.map(id, a[0], a[1], a[2]).map(|()| 0),
        Sysno::Unmap => k.unmap(id, a[0]).map(|f| f.index() as u64),
        Sysno::Grant => k.grant(id, a[0], a[1], a[2]).map(|()| 0),
        Sysno::Revoke => k.revoke(id, a[0], a[1]).map(|()| 0),
        Sysno::DumpArea => k.set_dump_area(id, a[0], a[1]).map(|()| 0),
        Sysno::SliceAlloc => k.slice_alloc(id, a[0]),
        Sysno::SliceFree => k.slice_free(id, a[0]).map(|()| 0),
        // Full-path calls never reach here from the entry; from the kernel
        // loop they are handled before.
        Sysno::Yield
        | Sysno::Block
        | Sysno::Exit
        | Sysno::PctCall
        | Sysno::PctSend
        | Sysno::PctReply => Err(Error::UnknownSyscall),
    }
}

/// `DebugPrint`: one console line per line of text, prefixed with the
/// environment's name (so no environment can forge kernel output such as
/// the test protocol). Control characters and invalid UTF-8 are escaped.
fn debug_print(k: &mut Kernel, id: EnvId, ptr: u64, len: u64) -> Result<(), Error> {
    let env = k.envs.get(id).ok_or(Error::NoSuchEnv)?;
    let text = USlice::new(ptr, len, DEBUG_PRINT_MAX)?.read_vec(&env.space)?;
    for line in text.split(|&b| b == b'\n') {
        if line.is_empty() {
            continue;
        }
        let mut clean = alloc::string::String::with_capacity(line.len());
        for chunk in line.utf8_chunks() {
            for c in chunk.valid().chars() {
                if c.is_control() && c != '\t' {
                    clean.push('?');
                } else {
                    clean.push(c);
                }
            }
            if !chunk.invalid().is_empty() {
                clean.push('?');
            }
        }
        crate::kprintln!("[{}:{}] {clean}", env.name, id.index());
    }
    Ok(())
}
