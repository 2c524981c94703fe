//! The network counters and the binding list, exported read-only into
//! every environment at `exo_abi::layout::NET_EXPORT` (layout:
//! `exo_abi::net::export`): a header page with the interface counters,
//! then one `BindingEntry` per binding id (owner, name, filters, handler
//! engine, ring, and its counters). This is what a program lists installed
//! filters with (the basis of `exo-filter list`).
//!
//! The kernel writes the pages through the direct map only while no
//! environment runs (one CPU): after each frame's dispatch, each poll, and
//! each install and removal.

use exo_abi::layout::NET_EXPORT;
use exo_abi::net::export::{
    BindingEntry, ENTRIES_OFFSET, ENTRY_BPF, ENTRY_DEFAULT, ENTRY_FILTER_PROGRAM, ENTRY_LIVE,
    ENTRY_RING, ENTRY_WASM, MAGIC, MAX_BINDINGS, NetExportHeader, PAGES,
};
use spin::Mutex;

use super::binding::{Binding, BindingId};
use super::handler::Engine;
use crate::env::Kernel;
use crate::mm::frame::{self, Frame, FrameUse};
use crate::mm::phys;

/// Entries per page.
const PER_PAGE: usize = 4096 / core::mem::size_of::<BindingEntry>();
const ENTRY_PAGES: usize = (PAGES - 1) as usize;

struct Pages {
    header: Frame,
    entries: [Frame; ENTRY_PAGES],
    generation: u64,
}

static PAGES_: Mutex<Option<Pages>> = Mutex::new(None);

/// Allocates the pages and maps them read-only into every environment's
/// export region (once; later calls do nothing).
pub fn init(k: &mut Kernel) -> Result<(), frame::FrameError> {
    let mut g = PAGES_.lock();
    if g.is_some() {
        return Ok(());
    }
    let page = || -> Result<Frame, frame::FrameError> {
        let f = frame::alloc(FrameUse::Kernel)?;
        phys::zero_frame(f);
        Ok(f)
    };
    let header = page()?;
    let mut entries = [header; ENTRY_PAGES];
    for e in entries.iter_mut() {
        *e = page()?;
    }
    let mut tables = || frame::alloc(FrameUse::PageTable).ok().map(|f| f.phys());
    let mut map = |virt: u64, f: Frame| {
        if let Err(e) = k.exports.tables.map(virt, f.phys(), &mut tables) {
            log::error!("net: exporting {f} at {virt:#x}: {e}");
        }
    };
    map(NET_EXPORT, header);
    for (i, f) in entries.iter().enumerate() {
        map(NET_EXPORT + ENTRIES_OFFSET + i as u64 * 4096, *f);
    }
    phys::with_frame(header, |h: &mut NetExportHeader| {
        h.magic = MAGIC;
        h.max_bindings = MAX_BINDINGS as u32;
    });
    *g = Some(Pages {
        header,
        entries,
        generation: 0,
    });
    Ok(())
}

fn with_entry(id: BindingId, f: impl FnOnce(&mut BindingEntry)) {
    let g = PAGES_.lock();
    let Some(p) = g.as_ref() else { return };
    let i = id.0 as usize;
    if i >= MAX_BINDINGS {
        return;
    }
    phys::with_frame(
        p.entries[i / PER_PAGE],
        |page: &mut [BindingEntry; PER_PAGE]| f(&mut page[i % PER_PAGE]),
    );
}

/// Writes binding `b`'s entry (after every frame it took).
pub fn write_binding(b: &Binding) {
    let mut flags = ENTRY_LIVE;
    if let Some(h) = &b.handler {
        flags |= match h.engine() {
            Engine::Bpf => ENTRY_BPF,
            Engine::Wasm => ENTRY_WASM,
        };
    }
    if b.ring_slots > 0 {
        flags |= ENTRY_RING;
    }
    if b.default {
        flags |= ENTRY_DEFAULT;
    }
    if b.filter_program.is_some() {
        flags |= ENTRY_FILTER_PROGRAM;
    }
    let s = &b.stats;
    let mut name = [0u8; 24];
    let n = b.name.len().min(name.len());
    name[..n].copy_from_slice(&b.name.as_bytes()[..n]);
    let entry = BindingEntry {
        flags,
        owner: b.owner.0,
        filters: b.filter_count() as u32,
        ring_slots: b.ring_slots,
        matches: s.matches,
        handler_runs: s.handler_runs,
        handler_faults: s.handler_faults,
        handler_cycles: s.handler_cycles,
        consumed: s.consumed,
        delivered: s.delivered,
        ring_overflows: s.ring_overflows,
        sent: s.sent,
        send_failures: s.send_failures,
        wakeups: s.wakeups,
        fuel: b.handler.as_ref().map_or(0, |h| h.fuel()),
        name,
    };
    with_entry(b.id, |e| *e = entry);
}

/// Clears binding `id`'s entry (it was removed).
pub fn clear_binding(id: BindingId) {
    with_entry(id, |e| *e = BindingEntry::default());
}

/// Updates the header: bindings live, a new generation (after an install
/// or removal when `changed`), and the interface counters.
pub fn write_header(live: usize, changed: bool) {
    let mut g = PAGES_.lock();
    let Some(p) = g.as_mut() else { return };
    if changed {
        p.generation += 1;
    }
    let counters = super::counters();
    let generation = p.generation;
    let mac = super::mac().unwrap_or_default();
    phys::with_frame(p.header, |h: &mut NetExportHeader| {
        h.mac[..6].copy_from_slice(&mac);
        h.live = live as u32;
        h.generation = generation;
        h.counters = counters;
    });
}
