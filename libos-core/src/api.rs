//! Safe wrappers over every system call (see `exo_abi::Sysno` for their
//! meaning). Calls that can change the program's own memory or control flow
//! under it are `unsafe fn`; [`crate::vm`] and [`crate::rt`] are their
//! normal users.

use exo_abi::syscall::{ANY, decode};
use exo_abi::{EnvId, Error, FrameCaps, MapFlags, Sysno, UpcallKinds};

use crate::sys;

/// A call that cannot affect the caller's memory.
fn safe(nr: Sysno, a: [u64; 6]) -> Result<u64, Error> {
    debug_assert!(!matches!(
        nr,
        Sysno::Map | Sysno::Unmap | Sysno::FrameFree | Sysno::DumpArea | Sysno::UpcallRegister
    ));
    // SAFETY: `nr` is none of the calls that map, unmap or free the
    // caller's memory or set its upcall entry.
    let (status, value) = unsafe { sys::call(nr, a) };
    decode(status, value)
}

/// `Null`.
pub fn null() -> Result<(), Error> {
    safe(Sysno::Null, [0; 6]).map(drop)
}

/// `DebugPrint`.
pub fn debug_print(text: &[u8]) -> Result<(), Error> {
    safe(
        Sysno::DebugPrint,
        [text.as_ptr() as u64, text.len() as u64, 0, 0, 0, 0],
    )
    .map(drop)
}

/// `Yield` (to `target`, or to the next slot with `None`).
pub fn yield_to(target: Option<EnvId>) -> Result<(), Error> {
    let t = target.map_or(0, |e| u64::from(e.0));
    safe(Sysno::Yield, [t, 0, 0, 0, 0, 0]).map(drop)
}

/// `Block` until woken or the clock reaches `deadline_ns` (`None`: no
/// deadline). `Err(TimedOut)` when the deadline passed.
pub fn block(deadline_ns: Option<u64>) -> Result<(), Error> {
    safe(Sysno::Block, [deadline_ns.unwrap_or(0), 0, 0, 0, 0, 0]).map(drop)
}

/// `Exit`.
pub fn exit(code: u64) -> ! {
    sys::exit(code)
}

/// `UpcallRegister`.
///
/// # Safety
/// `entry` must be an upcall trampoline that follows `exo_abi::upcall`
/// (like [`crate::upcall`]'s), and `[stack_lo, stack_hi)` memory no Rust
/// reference points into.
pub unsafe fn upcall_register(
    entry: u64,
    stack_lo: u64,
    stack_hi: u64,
    kinds: UpcallKinds,
) -> Result<(), Error> {
    // SAFETY: forwarded to the caller.
    let (s, v) = unsafe {
        sys::call(
            Sysno::UpcallRegister,
            [entry, stack_lo, stack_hi, kinds.bits(), 0, 0],
        )
    };
    decode(s, v).map(drop)
}

/// `FpuLazy`.
pub fn fpu_lazy(on: bool) -> Result<(), Error> {
    safe(Sysno::FpuLazy, [u64::from(on), 0, 0, 0, 0, 0]).map(drop)
}

/// `EnvSpawn`: starts embedded program `name` as a child.
pub fn spawn(name: &str, arg: u64) -> Result<EnvId, Error> {
    let v = safe(
        Sysno::EnvSpawn,
        [name.as_ptr() as u64, name.len() as u64, arg, 0, 0, 0],
    )?;
    Ok(EnvId(v as u32))
}

/// `EnvKill`.
pub fn kill(child: EnvId) -> Result<(), Error> {
    safe(Sysno::EnvKill, [u64::from(child.0), 0, 0, 0, 0, 0]).map(drop)
}

/// `FrameAlloc`: frame number `frame`, or any with `None`.
pub fn frame_alloc(frame: Option<u64>) -> Result<u64, Error> {
    safe(Sysno::FrameAlloc, [frame.unwrap_or(ANY), 0, 0, 0, 0, 0])
}

/// `FrameFree`.
///
/// # Safety
/// Every mapping of the frame in this program disappears: no Rust reference
/// may point into them.
pub unsafe fn frame_free(frame: u64) -> Result<(), Error> {
    // SAFETY: forwarded to the caller.
    let (s, v) = unsafe { sys::call(Sysno::FrameFree, [frame, 0, 0, 0, 0, 0]) };
    decode(s, v).map(drop)
}

/// `Map`.
///
/// # Safety
/// No Rust reference may point into the page at `vaddr` (its contents
/// change to those of `frame`).
pub unsafe fn map(vaddr: u64, frame: u64, flags: MapFlags) -> Result<(), Error> {
    // SAFETY: forwarded to the caller.
    let (s, v) = unsafe { sys::call(Sysno::Map, [vaddr, frame, flags.bits(), 0, 0, 0]) };
    decode(s, v).map(drop)
}

/// `Unmap`; returns the frame that was mapped.
///
/// # Safety
/// No Rust reference may point into the page at `vaddr`.
pub unsafe fn unmap(vaddr: u64) -> Result<u64, Error> {
    // SAFETY: forwarded to the caller.
    let (s, v) = unsafe { sys::call(Sysno::Unmap, [vaddr, 0, 0, 0, 0, 0]) };
    decode(s, v)
}

/// `Grant`.
pub fn grant(frame: u64, to: EnvId, caps: FrameCaps) -> Result<(), Error> {
    safe(Sysno::Grant, [frame, u64::from(to.0), caps.bits(), 0, 0, 0]).map(drop)
}

/// `Revoke` (`from = None`: from everyone).
pub fn revoke(frame: u64, from: Option<EnvId>) -> Result<(), Error> {
    let f = from.map_or(0, |e| u64::from(e.0));
    safe(Sysno::Revoke, [frame, f, 0, 0, 0, 0]).map(drop)
}

/// `DumpArea`.
///
/// # Safety
/// The kernel writes repossessed frames' contents into these pages at any
/// time: no Rust reference may point into them.
pub unsafe fn dump_area(vaddr: u64, pages: u64) -> Result<(), Error> {
    // SAFETY: forwarded to the caller.
    let (s, v) = unsafe { sys::call(Sysno::DumpArea, [vaddr, pages, 0, 0, 0, 0]) };
    decode(s, v).map(drop)
}

/// `SliceAlloc` (`None`: any slot); returns the position.
pub fn slice_alloc(position: Option<u64>) -> Result<u64, Error> {
    safe(Sysno::SliceAlloc, [position.unwrap_or(ANY), 0, 0, 0, 0, 0])
}

/// `SliceFree`.
pub fn slice_free(position: u64) -> Result<(), Error> {
    safe(Sysno::SliceFree, [position, 0, 0, 0, 0, 0]).map(drop)
}

/// A reply to a protected control transfer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Reply {
    pub from: EnvId,
    pub words: [u64; 5],
}

/// `PctCall`: runs `target`'s entry with `words` and waits for its reply.
pub fn pct_call(target: EnvId, words: [u64; 5]) -> Result<Reply, Error> {
    let w = words;
    let (status, out) = sys::call_message(
        Sysno::PctCall,
        [u64::from(target.0), w[0], w[1], w[2], w[3], w[4]],
    );
    Error::check(status)?;
    Ok(Reply {
        from: EnvId(out[0] as u32),
        words: [out[1], out[2], out[3], out[4], out[5]],
    })
}

/// `PctSend`.
pub fn pct_send(target: EnvId, words: [u64; 5]) -> Result<(), Error> {
    let w = words;
    safe(
        Sysno::PctSend,
        [u64::from(target.0), w[0], w[1], w[2], w[3], w[4]],
    )
    .map(drop)
}

/// `PctReply`.
pub fn pct_reply(target: EnvId, words: [u64; 5]) -> Result<(), Error> {
    let w = words;
    safe(
        Sysno::PctReply,
        [u64::from(target.0), w[0], w[1], w[2], w[3], w[4]],
    )
    .map(drop)
}
