//! Secure bindings of physical memory.
//!
//! - Frames are allocated by name: a specific frame number, or any free
//!   one. The allocating environment becomes the owner (frame table
//!   `owner`, usage `User`) and holds every capability.
//! - Capabilities (read, write, grant) are checked at bind time: `map`
//!   installs a page-table entry only if the caller holds what the rights
//!   need; afterwards the MMU checks every access for free. Only `User`
//!   frames carry capabilities, so kernel memory can never be mapped, and
//!   the map calls refuse every address from `USER_MAP_END` up.
//! - Owners grant capabilities to others and withdraw them; withdrawing
//!   removes the holder's mappings at once (derived grants go too).
//! - Freeing (or repossessing) a frame removes every mapping of it in every
//!   environment and every grant, then returns it to the free pool.
//!
//! Every mapping is recorded in the environment's reverse map and counted
//! in the frame table (`mappings`), so revocation finds all of them.

use alloc::vec::Vec;

use exo_abi::export::FRAME_PINNED;
use exo_abi::layout::mappable;
use exo_abi::{EnvId, Error, FrameCaps, MapFlags};

use super::Kernel;
use super::environment::{DumpArea, Env};
use crate::arch::paging::PagingError;
use crate::arch::user_space::UserRights;
use crate::mm::frame::{self, Frame, FrameError, FrameUse};
use crate::mm::phys;

/// Largest dump area, in pages.
pub const MAX_DUMP_PAGES: u64 = 1024;

fn frame_arg(n: u64) -> Result<Frame, Error> {
    let n = u32::try_from(n).map_err(|_| Error::FrameUnavailable)?;
    Ok(Frame::containing(u64::from(n) * 4096))
}

/// Checks a page-aligned virtual address the environment may map.
fn page_arg(vaddr: u64) -> Result<u64, Error> {
    if !vaddr.is_multiple_of(4096) {
        return Err(Error::NotAligned);
    }
    if !mappable(vaddr, 4096) {
        return Err(Error::ReservedAddress);
    }
    Ok(vaddr)
}

impl Kernel {
    /// Capabilities `env` holds on `frame`.
    pub fn caps(&self, env: EnvId, frame: Frame) -> FrameCaps {
        let Ok(Some(info)) = frame::with_table(|t| t.info(frame)) else {
            return FrameCaps::empty();
        };
        if info.usage != FrameUse::User {
            return FrameCaps::empty();
        }
        if info.owner == env.0 {
            FrameCaps::all()
        } else {
            self.grants.caps(frame, env)
        }
    }

    /// Whether `env` holds every capability in `needed` on `frame` (for the
    /// network subsystem's checks of ring pages).
    pub fn holds(&self, env: EnvId, frame: Frame, needed: FrameCaps) -> bool {
        self.caps(env, frame).contains(needed)
    }

    /// `FrameAlloc`: frame number `want`, or any free frame.
    pub fn frame_alloc(&mut self, id: EnvId, want: Option<u64>) -> Result<Frame, Error> {
        let env = self.envs.get_mut(id).ok_or(Error::NoSuchEnv)?;
        if env.charged_frames() >= env.limits.max_frames {
            return Err(Error::QuotaExceeded);
        }
        let f = match want {
            Some(n) => {
                let f = frame_arg(n)?;
                frame::with_table(|t| t.claim(f, FrameUse::User, id.0))
                    .map_err(|_| Error::OutOfMemory)?
                    .map_err(|e| match e {
                        FrameError::NotFree(_) | FrameError::OutOfRange(_) => {
                            Error::FrameUnavailable
                        }
                        _ => Error::OutOfMemory,
                    })?;
                f
            }
            None => match frame::with_table(|t| t.alloc_owned(FrameUse::User, id.0)) {
                Ok(Ok(f)) => f,
                _ => {
                    let now = crate::time::now_ns();
                    self.relieve_pressure(id, super::revocation::PRESSURE_BATCH, now);
                    return Err(Error::OutOfMemory);
                }
            },
        };
        phys::zero_frame(f);
        env.mem.owned.insert(f);
        Ok(f)
    }

    /// `FrameFree`: the owner gives `frame` back.
    pub fn frame_free(&mut self, id: EnvId, n: u64) -> Result<(), Error> {
        let f = frame_arg(n).map_err(|_| Error::NotOwner)?;
        let env = self.envs.get(id).ok_or(Error::NoSuchEnv)?;
        if !env.mem.owned.contains(&f) {
            return Err(Error::NotOwner);
        }
        let pinned = frame::with_table(|t| t.info(f))
            .ok()
            .flatten()
            .is_some_and(|i| i.flags & FRAME_PINNED != 0);
        if pinned {
            return Err(Error::FramePinned);
        }
        self.release_frame(id, f);
        self.note_returned(id);
        Ok(())
    }

    /// Takes `frame` (owned by `owner`) away from everyone and frees it.
    pub fn release_frame(&mut self, owner: EnvId, f: Frame) {
        for holder in self.grants.clear_frame(f) {
            if let Some(h) = self.envs.get_mut(holder) {
                unmap_all_of(h, f);
            }
        }
        if let Some(env) = self.envs.get_mut(owner) {
            unmap_all_of(env, f);
            env.mem.owned.remove(&f);
        }
        if let Err(e) = frame::free(f) {
            log::error!("freeing {f} of {owner}: {e}");
        }
    }

    /// `Map`: maps `frame` at `vaddr` with `flags` rights.
    pub fn map(&mut self, id: EnvId, vaddr: u64, n: u64, flags: u64) -> Result<(), Error> {
        let vaddr = page_arg(vaddr)?;
        let flags = MapFlags::from_bits(flags).ok_or(Error::InvalidArgument)?;
        let f = frame_arg(n).map_err(|_| Error::NoCapability)?;
        if !self.caps(id, f).contains(flags.required_caps()) {
            return Err(Error::NoCapability);
        }
        let env = self.envs.get_mut(id).ok_or(Error::NoSuchEnv)?;
        if env.mem.rmap.len() >= env.limits.max_mappings as usize {
            return Err(Error::QuotaExceeded);
        }
        frame::with_table(|t| t.add_mapping(f))
            .map_err(|_| Error::OutOfMemory)?
            .map_err(|_| Error::TooManyMappings)?;
        let rights = UserRights {
            writable: flags.contains(MapFlags::WRITE),
            executable: flags.contains(MapFlags::EXEC),
        };
        match map_page(env, vaddr, f, rights) {
            Ok(()) => Ok(()),
            Err(e) => {
                let _ = frame::with_table(|t| t.remove_mapping(f));
                Err(e)
            }
        }
    }

    /// `Unmap`: removes the mapping at `vaddr`; returns the frame.
    pub fn unmap(&mut self, id: EnvId, vaddr: u64) -> Result<Frame, Error> {
        let vaddr = page_arg(vaddr)?;
        let env = self.envs.get_mut(id).ok_or(Error::NoSuchEnv)?;
        unmap_page(env, vaddr)
    }

    /// `Grant`: gives `to` the capabilities `caps` on `frame`.
    pub fn grant(&mut self, id: EnvId, n: u64, to: u64, caps: u64) -> Result<(), Error> {
        let caps = FrameCaps::from_bits(caps)
            .filter(|c| !c.is_empty())
            .ok_or(Error::InvalidArgument)?;
        let to = EnvId::from_u64(to)
            .filter(|t| self.envs.get(*t).is_some())
            .ok_or(Error::NoSuchEnv)?;
        if to == id {
            return Err(Error::InvalidArgument);
        }
        let f = frame_arg(n).map_err(|_| Error::NoCapability)?;
        let mine = self.caps(id, f);
        if !mine.contains(FrameCaps::GRANT) || !mine.contains(caps) {
            return Err(Error::NoCapability);
        }
        self.grants.add(f, to, caps, id);
        Ok(())
    }

    /// `Revoke`: the owner withdraws the grant of `from` (0: of everyone)
    /// on `frame`; their mappings of it disappear.
    pub fn revoke(&mut self, id: EnvId, n: u64, from: u64) -> Result<(), Error> {
        let f = frame_arg(n).map_err(|_| Error::NotOwner)?;
        if !self.envs.get(id).is_some_and(|e| e.mem.owned.contains(&f)) {
            return Err(Error::NotOwner);
        }
        let lost = if from == 0 {
            self.grants.clear_frame(f)
        } else {
            let holder = EnvId::from_u64(from).ok_or(Error::NoSuchEnv)?;
            self.grants.withdraw(f, holder)
        };
        for h in lost {
            if let Some(env) = self.envs.get_mut(h) {
                unmap_all_of(env, f);
            }
        }
        Ok(())
    }

    /// `DumpArea`: where repossessed frames' contents go.
    pub fn set_dump_area(&mut self, id: EnvId, vaddr: u64, pages: u64) -> Result<(), Error> {
        let env = self.envs.get_mut(id).ok_or(Error::NoSuchEnv)?;
        if pages == 0 {
            env.mem.dump = None;
            return Ok(());
        }
        if pages > MAX_DUMP_PAGES {
            return Err(Error::TooLong);
        }
        page_arg(vaddr)?;
        if !mappable(vaddr, pages * 4096) {
            return Err(Error::ReservedAddress);
        }
        env.mem.dump = Some(DumpArea {
            vaddr,
            pages,
            next: 0,
        });
        Ok(())
    }

    /// Pins `frame` for a kernel binding (e.g. a network ring): it cannot be
    /// freed or repossessed until unpinned. `env` must own it.
    pub fn pin(&mut self, env: EnvId, f: Frame, on: bool) -> Result<(), Error> {
        if !self.envs.get(env).is_some_and(|e| e.mem.owned.contains(&f)) {
            return Err(Error::NotOwner);
        }
        frame::with_table(|t| t.set_flag(f, FRAME_PINNED, on)).map_err(|_| Error::OutOfMemory)
    }
}

/// Installs one mapping in `env`'s space, charging new page tables to it.
fn map_page(env: &mut Env, vaddr: u64, f: Frame, rights: UserRights) -> Result<(), Error> {
    let id = env.id;
    let budget = env.limits.max_frames.saturating_sub(env.charged_frames());
    let mut used = 0u32;
    let mut over_quota = false;
    let result = {
        let mut tables = || {
            if used >= budget {
                over_quota = true;
                return None;
            }
            let t = frame::with_table(|tab| tab.alloc_owned(FrameUse::PageTable, id.0))
                .ok()?
                .ok()?;
            used += 1;
            Some(t.phys())
        };
        env.space.map(vaddr, f.phys(), rights, &mut tables)
    };
    env.mem.table_frames += used;
    match result {
        Ok(()) => {
            env.mem.rmap.insert((f, vaddr));
            Ok(())
        }
        Err(PagingError::AlreadyMapped { .. }) => Err(Error::AlreadyMapped),
        Err(PagingError::OutOfFrames) if over_quota => Err(Error::QuotaExceeded),
        Err(PagingError::OutOfFrames) => Err(Error::PageTableMemory),
        Err(_) => Err(Error::ReservedAddress),
    }
}

/// Removes one mapping from `env`'s space.
fn unmap_page(env: &mut Env, vaddr: u64) -> Result<Frame, Error> {
    let phys = env.space.unmap(vaddr).map_err(|_| Error::NotMapped)?;
    let f = Frame::containing(phys);
    env.mem.rmap.remove(&(f, vaddr));
    let _ = frame::with_table(|t| t.remove_mapping(f));
    Ok(f)
}

/// Removes every mapping of `f` from `env`'s space.
pub fn unmap_all_of(env: &mut Env, f: Frame) {
    let pages: Vec<u64> = env
        .mem
        .rmap
        .range((f, 0)..=(f, u64::MAX))
        .map(|(_, v)| *v)
        .collect();
    for v in pages {
        let _ = unmap_page(env, v);
    }
}

/// First virtual page where `env` maps `f`.
pub fn first_mapping(env: &Env, f: Frame) -> Option<u64> {
    env.mem
        .rmap
        .range((f, 0)..=(f, u64::MAX))
        .next()
        .map(|(_, v)| *v)
}
