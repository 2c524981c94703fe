//! The kernel's bookkeeping, exported read-only into every environment
//! (Aegis: "expose allocation, expose names"): the kernel information page
//! with the clock, the frame ownership table (the frame table itself, so
//! there is nothing to keep in sync), the environment table and the
//! time-slice vector. Addresses and layouts: `exo_abi::layout`,
//! `exo_abi::export`.
//!
//! The kernel writes these pages through the direct map, only while no
//! environment runs (one CPU): readers never see torn updates.

use exo_abi::export::{
    EnvEntry, EnvTable, KERNEL_INFO_MAGIC, KernelInfo, SLICE_SLOTS, SliceVector,
};
use exo_abi::ids::MAX_ENVS;
use exo_abi::layout::{ENV_TABLE, FRAME_TABLE, KERNEL_INFO, SLICE_VECTOR};

use super::InitError;
use super::environment::Env;
use crate::arch::user_space::ExportTables;
use crate::mm::frame::{self, Frame, FrameUse};
use crate::mm::phys;

/// The export pages and the shared tables that map them.
pub struct Exports {
    pub tables: ExportTables,
    info: Frame,
    envs: Frame,
    slices: Frame,
}

fn table_frame() -> Option<u64> {
    frame::alloc(FrameUse::PageTable).ok().map(|f| f.phys())
}

impl Exports {
    /// Allocates and maps the export pages (after `mm` and `time` init).
    pub fn new() -> Result<Exports, InitError> {
        let page = || -> Result<Frame, InitError> {
            let f = frame::alloc(FrameUse::Kernel).map_err(InitError::Frame)?;
            phys::zero_frame(f);
            Ok(f)
        };
        let (info, envs, slices) = (page()?, page()?, page()?);
        let mut tables = ExportTables::new(&mut table_frame).map_err(InitError::Paging)?;
        for (virt, f) in [
            (KERNEL_INFO, info),
            (ENV_TABLE, envs),
            (SLICE_VECTOR, slices),
        ] {
            tables
                .map(virt, f.phys(), &mut table_frame)
                .map_err(InitError::Paging)?;
        }
        let (table_phys, table_bytes) =
            frame::with_table(|t| t.table_range()).map_err(InitError::Frame)?;
        for off in (0..table_bytes).step_by(4096) {
            tables
                .map(FRAME_TABLE + off, table_phys + off, &mut table_frame)
                .map_err(InitError::Paging)?;
        }
        let frame_count = frame::with_table(|t| t.len()).map_err(InitError::Frame)? as u64;
        phys::with_frame(info, |i: &mut KernelInfo| {
            *i = KernelInfo {
                magic: KERNEL_INFO_MAGIC,
                abi_version: exo_abi::ABI_VERSION,
                page_size: 4096,
                tsc_hz: crate::time::tsc_hz(),
                tsc_at_boot: crate::time::tsc_at_boot(),
                frame_count,
                max_envs: MAX_ENVS as u32,
                slice_slots: SLICE_SLOTS as u32,
                slice_ns: crate::sched::SLICE_NS,
                slice_budget_ns: crate::sched::SLICE_BUDGET_NS,
                max_strikes: u32::from(crate::sched::MAX_STRIKES),
                ..KernelInfo::default()
            }
        });
        Ok(Exports {
            tables,
            info,
            envs,
            slices,
        })
    }

    /// Updates the dynamic fields of the information page.
    pub fn update_info(&self, f: impl FnOnce(&mut KernelInfo)) {
        phys::with_frame(self.info, f);
    }

    /// Refreshes the frame and clock fields (before an environment runs).
    pub fn refresh_counts(&self, live_envs: usize, now: u64) {
        let free = frame::with_table(|t| t.free_frames()).unwrap_or(0) as u64;
        self.update_info(|i| {
            i.frames_free = free;
            i.live_envs = live_envs as u32;
            i.ticks = crate::time::ticks();
            i.entered_ns = now;
        });
    }

    /// Writes the table entry of `env`.
    pub fn write_env(&self, env: &Env) {
        let mut name = [0u8; 16];
        let n = env.name.len().min(16);
        name[..n].copy_from_slice(&env.name.as_bytes()[..n]);
        let entry = EnvEntry {
            id: env.id.0,
            parent: env.parent.0,
            state: env.state.export() as u8,
            strikes: env.cpu.strikes,
            slots: env.cpu.slots,
            min_slots: env.limits.min_slots,
            _pad: 0,
            frames: env.mem.owned.len() as u32,
            min_frames: env.limits.min_frames,
            max_frames: env.limits.max_frames,
            repossessed: env.repossessions as u32,
            cpu_ns: env.cpu.ns,
            slices: env.cpu.slices,
            name,
        };
        phys::with_frame(self.envs, |t: &mut EnvTable| {
            t.entries[env.id.index()] = entry
        });
    }

    /// Clears table slot `index` (its environment ended).
    pub fn clear_env(&self, index: usize) {
        phys::with_frame(self.envs, |t: &mut EnvTable| {
            if let Some(e) = t.entries.get_mut(index) {
                *e = EnvEntry::default();
            }
        });
    }

    /// Runs `f` on the exported time-slice vector.
    pub fn update_slices(&self, f: impl FnOnce(&mut SliceVector)) {
        phys::with_frame(self.slices, f);
    }
}
