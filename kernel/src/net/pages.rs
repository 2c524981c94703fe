//! Environment pages bound to the network path (receive rings, handler
//! regions): from a virtual range of the caller's space to the frames
//! behind it, checked, and pinned while bound.
//!
//! A page qualifies when the caller maps it (with write access when the
//! kernel or a handler writes it), holds the needed capabilities on its
//! frame (`Kernel::holds`) and owns the frame (only owned frames can be
//! pinned, and a pinned frame cannot be freed or repossessed). A frame may
//! back several bindings: pins are counted here, and the frame table's
//! `PINNED` flag is cleared when the last binding lets go.

use alloc::collections::BTreeMap;
use alloc::vec::Vec;

use exo_abi::layout::mappable;
use exo_abi::{EnvId, Error, FrameCaps};
use spin::Mutex;

use crate::env::Kernel;
use crate::mm::frame::Frame;

/// Pins per frame held by bindings.
static PINS: Mutex<BTreeMap<Frame, u32>> = Mutex::new(BTreeMap::new());

/// The frames behind `pages` pages at `vaddr` in `env`'s space, checked
/// for `write` access (else read).
pub fn resolve(
    k: &Kernel,
    env: EnvId,
    vaddr: u64,
    pages: u64,
    write: bool,
) -> Result<Vec<Frame>, Error> {
    if pages == 0 || pages > exo_abi::net::MAX_PAGES {
        return Err(Error::InvalidArgument);
    }
    if !vaddr.is_multiple_of(4096) {
        return Err(Error::NotAligned);
    }
    if !mappable(vaddr, pages * 4096) {
        return Err(Error::ReservedAddress);
    }
    let e = k.envs.get(env).ok_or(Error::NoSuchEnv)?;
    let caps = if write {
        FrameCaps::READ | FrameCaps::WRITE
    } else {
        FrameCaps::READ
    };
    let mut frames = Vec::with_capacity(pages as usize);
    for i in 0..pages {
        let t = e
            .space
            .translate(vaddr + i * 4096)
            .ok_or(Error::NotMapped)?;
        if !t.user || (write && !t.writable) {
            return Err(Error::NoCapability);
        }
        let f = Frame::containing(t.phys);
        if !k.holds(env, f, caps) {
            return Err(Error::NoCapability);
        }
        if !e.mem.owned.contains(&f) {
            return Err(Error::NotOwner);
        }
        frames.push(f);
    }
    Ok(frames)
}

/// Pins `frames` for `env` (counted).
pub fn pin(k: &mut Kernel, env: EnvId, frames: &[Frame]) -> Result<(), Error> {
    let mut pins = PINS.lock();
    for (i, f) in frames.iter().enumerate() {
        let n = pins.entry(*f).or_insert(0);
        if *n == 0
            && let Err(e) = k.pin(env, *f, true)
        {
            pins.remove(f);
            drop(pins);
            unpin(k, env, &frames[..i]);
            return Err(e);
        }
        *n += 1;
    }
    Ok(())
}

/// Drops one pin of each of `frames`; the last one clears the flag.
pub fn unpin(k: &mut Kernel, env: EnvId, frames: &[Frame]) {
    let mut pins = PINS.lock();
    for f in frames {
        match pins.get_mut(f) {
            Some(n) if *n > 1 => *n -= 1,
            Some(_) => {
                pins.remove(f);
                if let Err(e) = k.pin(env, *f, false) {
                    log::error!("net: unpinning {f} of {env}: {e}");
                }
            }
            None => log::error!("net: {f} of {env} was not pinned"),
        }
    }
}

/// Frames pinned by bindings now (tests).
pub fn pinned() -> usize {
    PINS.lock().len()
}
