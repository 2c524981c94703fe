//! Starting environments and ending them. Ending one (exit, kill, abort)
//! returns every resource: its frames (unmapped from everyone who had them
//! granted), the grants it held, its page tables, its private page, its
//! time-slice slots (and slices donated to it), and its children.

use alloc::vec::Vec;

use spin::Mutex;

use exo_abi::layout::{PRIVATE_BASE, STACK_TOP};
use exo_abi::private::PrivatePage;
use exo_abi::{EnvId, Error};

use super::Kernel;
use super::environment::{Cpu, Env, ExitStatus, Limits, Memory, Pending, RunState};
use super::loader::frames_needed;
use super::memory::unmap_all_of;
use crate::arch::user::{UserContext, with_context};
use crate::arch::user_space::{UserSpace, map_private};
use crate::mm::frame::{self, FrameUse};
use crate::mm::phys;
use crate::user_programs;

/// A function told when an environment ends (e.g. the network subsystem
/// drops its filters and unpins its rings).
pub type ExitHook = fn(&mut Kernel, EnvId);

const MAX_EXIT_HOOKS: usize = 4;
static EXIT_HOOKS: Mutex<[Option<ExitHook>; MAX_EXIT_HOOKS]> = Mutex::new([None; MAX_EXIT_HOOKS]);

/// Registers `hook`, called (with the kernel state) for every environment
/// that ends, before its frames are freed. Returns false when all slots are
/// taken.
pub fn register_exit_hook(hook: ExitHook) -> bool {
    let mut hooks = EXIT_HOOKS.lock();
    match hooks.iter_mut().find(|h| h.is_none()) {
        Some(slot) => {
            *slot = Some(hook);
            true
        }
        None => false,
    }
}

fn kernel_frame_for(owner: EnvId) -> Option<u64> {
    frame::with_table(|t| t.alloc_owned(FrameUse::PageTable, owner.0))
        .ok()?
        .ok()
        .map(|f| f.phys())
}

impl Kernel {
    /// Starts embedded program `name` as a new environment (child of
    /// `parent`, or of the kernel with `EnvId::NONE`); `arg` reaches its
    /// entry in `rdx` (`rdi` = its id, `rsi` = its parent).
    pub fn spawn(
        &mut self,
        name: &str,
        arg: u64,
        parent: EnvId,
        limits: Option<Limits>,
    ) -> Result<EnvId, Error> {
        let (name, bytes) = user_programs::PROGRAMS
            .iter()
            .find(|(n, _)| *n == name)
            .copied()
            .ok_or(Error::NoSuchProgram)?;
        let image = user_programs::parse(bytes).map_err(|_| Error::BadImage)?;
        let id = self.envs.next_id().ok_or(Error::TooManyEnvs)?;
        let limits = limits.unwrap_or_else(|| Limits::for_image(frames_needed(&image)));
        let mut table_frames = 0u32;
        let space = {
            let mut tables = || {
                table_frames += 1;
                kernel_frame_for(id)
            };
            UserSpace::new(self.kernel_pml4, &self.exports.tables, &mut tables)
                .map_err(|_| Error::OutOfMemory)?
        };
        let private = match frame::with_table(|t| t.alloc_owned(FrameUse::Kernel, id.0)) {
            Ok(Ok(f)) => f,
            _ => {
                space.destroy(&mut free_table);
                return Err(Error::OutOfMemory);
            }
        };
        phys::zero_frame(private);
        phys::with_frame(private, |p: &mut PrivatePage| {
            p.id = id.0;
            p.parent = parent.0;
            p.arg = arg;
        });
        self.envs.insert(Env {
            id,
            name,
            parent,
            state: RunState::Runnable,
            space,
            mem: Memory {
                table_frames,
                ..Memory::default()
            },
            limits,
            upcalls: None,
            pending: Pending::default(),
            revocation: None,
            private,
            repossessions: 0,
            repossessions_notified: 0,
            cpu: Cpu::default(),
            last_fault: None,
            serving: arrayvec::ArrayVec::new(),
        });
        if let Err(e) = self.finish_spawn(id, &image, bytes, parent, arg) {
            self.end(id, ExitStatus::Killed(super::KillReason::ByKernel));
            return Err(e);
        }
        log::debug!("spawned {name} as {id} (parent {parent}, arg {arg:#x})");
        Ok(id)
    }

    fn finish_spawn(
        &mut self,
        id: EnvId,
        image: &user_programs::UserImage,
        bytes: &[u8],
        parent: EnvId,
        arg: u64,
    ) -> Result<(), Error> {
        {
            let env = self.envs.get_mut(id).ok_or(Error::NoSuchEnv)?;
            let mut used = 0u32;
            let mut tables = || {
                used += 1;
                kernel_frame_for(id)
            };
            map_private(
                &mut env.space,
                PRIVATE_BASE,
                env.private.phys(),
                &mut tables,
            )
            .map_err(|_| Error::OutOfMemory)?;
            env.mem.table_frames += used;
        }
        self.load_image(id, image, bytes)?;
        let mut ctx = UserContext::new(image.entry, STACK_TOP - 8);
        ctx.regs.rdi = u64::from(id.0);
        ctx.regs.rsi = u64::from(parent.0);
        ctx.regs.rdx = arg;
        with_context(id.index(), |c| *c = ctx).map_err(|_| Error::TooManyEnvs)?;
        self.give_guaranteed_slots(id)?;
        if let Some(env) = self.envs.get(id) {
            self.exports.write_env(env);
        }
        Ok(())
    }

    /// Ends environment `id` with `status` and returns all its resources.
    pub fn end(&mut self, id: EnvId, status: ExitStatus) {
        if self.envs.get(id).is_none() {
            return;
        }
        let hooks = *EXIT_HOOKS.lock();
        for hook in hooks.into_iter().flatten() {
            hook(self, id);
        }
        self.forget_cpu(id);
        // Grants it holds (and those derived from them) go.
        for f in self.grants.frames_of(id) {
            for h in self.grants.withdraw(f, id) {
                if h != id
                    && let Some(env) = self.envs.get_mut(h)
                {
                    unmap_all_of(env, f);
                }
            }
        }
        // Frames it owns go, from everyone's address space.
        let owned: Vec<_> = self
            .envs
            .get(id)
            .map(|e| e.mem.owned.iter().copied().collect())
            .unwrap_or_default();
        for f in owned {
            self.release_frame(id, f);
        }
        let Some(env) = self.envs.remove(id) else {
            return;
        };
        if crate::arch::cpu::cr3() == env.space.pml4_phys() {
            crate::arch::paging::activate_kernel_tables();
        }
        let env = *env;
        env.space.destroy(&mut free_table);
        if let Err(e) = frame::free(env.private) {
            log::error!("{id}: freeing its private page: {e}");
        }
        self.exports.clear_env(id.index());
        self.exits.record(id, env.name, status);
        match status {
            ExitStatus::Exited(0) => log::debug!("{} ({id}) {status}", env.name),
            _ => log::info!("{} ({id}) {status}", env.name),
        }
        let children: Vec<EnvId> = self
            .envs
            .iter()
            .filter(|e| e.parent == id)
            .map(|e| e.id)
            .collect();
        for child in children {
            self.end(child, ExitStatus::Killed(super::KillReason::Orphaned));
        }
    }

    /// The limits `spawn` gives program `name` by default.
    pub fn default_limits(name: &str) -> Option<Limits> {
        let (_, bytes) = user_programs::PROGRAMS.iter().find(|(n, _)| *n == name)?;
        let image = user_programs::parse(bytes).ok()?;
        Some(Limits::for_image(frames_needed(&image)))
    }

    /// `EnvSpawn` from an environment.
    pub fn spawn_child(&mut self, parent: EnvId, name: &[u8], arg: u64) -> Result<EnvId, Error> {
        let name = core::str::from_utf8(name).map_err(|_| Error::NoSuchProgram)?;
        self.spawn(name, arg, parent, None)
    }

    /// `EnvKill`: a parent kills one of its children.
    pub fn kill_child(&mut self, parent: EnvId, child: u64) -> Result<(), Error> {
        let child = EnvId::from_u64(child)
            .filter(|c| self.envs.get(*c).is_some())
            .ok_or(Error::NoSuchEnv)?;
        if child == parent || self.envs.get(child).map(|e| e.parent) != Some(parent) {
            return Err(Error::NotPermitted);
        }
        self.end(
            child,
            ExitStatus::Killed(super::KillReason::ByParent(parent)),
        );
        Ok(())
    }
}

/// Frees one page-table frame of a destroyed space.
fn free_table(phys: u64) {
    if let Err(e) = frame::free(frame::Frame::containing(phys)) {
        log::error!("freeing a page table of an environment: {e}");
    }
}
