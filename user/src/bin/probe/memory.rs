//! Memory secure bindings from the hostile side: foreign and kernel frames,
//! reserved addresses and bad grants are refused with the right codes; a
//! probe that ignores revocation requests finds its repossessed pages in
//! its dump area; a compliant one gives frames back; a hoarder's resources
//! all return when it exits.

use core::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use exo_abi::export::{FrameUsage, KERNEL_INFO_MAGIC};
use exo_abi::layout::{ENV_TABLE, KERNEL_INFO, PRIVATE_BASE, USER_MAP_END};
use exo_abi::private::{NO_ADDRESS, NO_DUMP, RepossessedKind, RepossessionReason};
use exo_abi::probe::{Mode, page_pattern};
use exo_abi::syscall::DEBUG_PRINT_MAX;
use exo_abi::{EnvId, Error, FrameCaps, MapFlags, Sysno};
use exo_user::libos_core::vm::PageClass;
use exo_user::libos_core::{api, export, rt, sys, upcall};
use exo_user::{Start, println};

use crate::check::{Check, ok, refused, that};

/// A fresh owned frame mapped writable in the VM: (vaddr, frame).
fn own_page() -> Result<(u64, u64), Error> {
    rt::with_vm(|vm, mmu| {
        let v = vm.alloc(mmu, 1, MapFlags::WRITE, PageClass::Pinned)?;
        Ok((v, vm.page(v).map(|p| p.frame).ok_or(Error::NotMapped)?))
    })
}

/// A page of the VM's range that nothing maps (for map attempts).
fn spare_vaddr() -> Result<u64, Error> {
    // Allocate and release one page: its address stays unused (the VM never
    // hands out an address twice).
    rt::with_vm(|vm, mmu| {
        let v = vm.alloc(mmu, 1, MapFlags::WRITE, PageClass::Pinned)?;
        vm.free(mmu, v, 1)?;
        Ok(v)
    })
}

/// Mode `Basic`.
pub fn basic(start: Start) -> Result<(), Check> {
    ok(1, "null", api::null())?;
    let info = export::kernel_info();
    that(2, "kernel info magic", info.magic == KERNEL_INFO_MAGIC)?;
    that(
        3,
        "own id in the private page",
        export::self_id() == start.id,
    )?;
    let me = export::env_by_id(start.id);
    that(
        4,
        "own entry in the environment table",
        me.is_some_and(|e| e.slots >= 1),
    )?;
    let (_, frame) = ok(5, "allocate a page", own_page())?;
    let entry = export::frame(frame);
    that(
        6,
        "the frame table shows the page as ours",
        entry.is_some_and(|e| {
            e.owner == start.id.0 && e.usage() == Some(FrameUsage::User) && e.mappings == 1
        }),
    )?;
    that(
        7,
        "the clock runs",
        export::now_ns() > 0 && export::now_ns() >= info.entered_ns,
    )?;
    println!(
        "probe: basic checks passed ({} frames free)",
        info.frames_free
    );
    Ok(())
}

/// Mode `ForeignFrame`: `frame` belongs to another environment.
pub fn foreign_frame(frame: u64) -> Result<(), Check> {
    let owner = export::frame(frame).map(|e| e.owner).unwrap_or(0);
    that(
        1,
        "the frame has another owner",
        owner != 0 && owner != export::self_id().0,
    )?;
    let v = ok(2, "spare address", spare_vaddr())?;
    // SAFETY: `v` is a VM address no Rust reference points into.
    refused(
        3,
        "map foreign frame",
        unsafe { api::map(v, frame, MapFlags::empty()) },
        Error::NoCapability,
    )?;
    // SAFETY: the probe does not own or map the frame; nothing of ours changes.
    refused(
        4,
        "free foreign frame",
        unsafe { api::frame_free(frame) },
        Error::NotOwner,
    )?;
    refused(
        5,
        "grant foreign frame",
        api::grant(frame, EnvId(owner), FrameCaps::READ),
        Error::NoCapability,
    )?;
    refused(
        6,
        "revoke on foreign frame",
        api::revoke(frame, None),
        Error::NotOwner,
    )?;
    refused(
        7,
        "claim a taken frame",
        api::frame_alloc(Some(frame)),
        Error::FrameUnavailable,
    )?;
    println!("probe: every access to foreign frame {frame:#x} was refused");
    Ok(())
}

/// Frame number of the first frame whose usage is `usage`.
fn find_frame(usage: FrameUsage) -> Option<u64> {
    (0..export::kernel_info().frame_count)
        .find(|&n| export::frame(n).and_then(|e| e.usage()) == Some(usage))
}

/// Mode `KernelMemory`.
pub fn kernel_memory() -> Result<(), Check> {
    let kernel = find_frame(FrameUsage::KernelImage);
    let table = find_frame(FrameUsage::FrameTable);
    let page_table = find_frame(FrameUsage::PageTable);
    that(
        1,
        "kernel frames are visible in the frame table",
        kernel.is_some() && table.is_some() && page_table.is_some(),
    )?;
    let v = ok(2, "spare address", spare_vaddr())?;
    let (_, mine) = ok(3, "own page", own_page())?;
    for (n, f) in [(4, kernel), (5, table), (6, page_table)] {
        let f = f.unwrap_or(0);
        // SAFETY: `v` is a VM address no Rust reference points into.
        refused(
            n,
            "map a kernel frame",
            unsafe { api::map(v, f, MapFlags::WRITE) },
            Error::NoCapability,
        )?;
        refused(
            n + 10,
            "claim a kernel frame",
            api::frame_alloc(Some(f)),
            Error::FrameUnavailable,
        )?;
    }
    refused(
        20,
        "claim frame 0",
        api::frame_alloc(Some(0)),
        Error::FrameUnavailable,
    )?;
    refused(
        21,
        "claim past the end of RAM",
        api::frame_alloc(Some(u64::MAX - 1)),
        Error::FrameUnavailable,
    )?;
    let reserved = [
        0xFFFF_8000_0000_0000u64,
        0xFFFF_FFFF_8000_0000,
        KERNEL_INFO,
        ENV_TABLE,
        PRIVATE_BASE,
        USER_MAP_END,
        0x0000_8000_0000_0000,
    ];
    for (i, addr) in reserved.into_iter().enumerate() {
        let n = 30 + i as u64;
        // SAFETY: these addresses are outside what the program maps; the
        // kernel must refuse before touching anything.
        refused(
            n,
            "map a reserved address",
            unsafe { api::map(addr, mine, MapFlags::empty()) },
            Error::ReservedAddress,
        )?;
        // SAFETY: as above.
        refused(
            n + 10,
            "unmap a reserved address",
            unsafe { api::unmap(addr) },
            Error::ReservedAddress,
        )?;
    }
    // SAFETY: refused before any change (unaligned, bad flags).
    refused(
        50,
        "unaligned map",
        unsafe { api::map(v + 1, mine, MapFlags::empty()) },
        Error::NotAligned,
    )?;
    // SAFETY: refused before any change.
    let bad_flags = unsafe { sys::call(Sysno::Map, [v, mine, 0x80, 0, 0, 0]) };
    refused(
        51,
        "unknown map flags",
        exo_abi::syscall::decode(bad_flags.0, bad_flags.1),
        Error::InvalidArgument,
    )?;
    refused(
        52,
        "print from the kernel",
        print_raw(0xFFFF_FFFF_8000_0000, 16),
        Error::BadAddress,
    )?;
    refused(
        53,
        "print too much",
        print_raw(KERNEL_INFO, DEBUG_PRINT_MAX + 1),
        Error::TooLong,
    )?;
    refused(
        54,
        "print from unmapped memory",
        print_raw(0x0000_5800_0000_0000, 8),
        Error::BadAddress,
    )?;
    refused(
        55,
        "spawn with a kernel name pointer",
        spawn_raw(0xFFFF_FFFF_8000_0000, 4),
        Error::BadAddress,
    )?;
    refused(
        56,
        "spawn an unknown program",
        api::spawn("no-such-program", 0),
        Error::NoSuchProgram,
    )?;
    println!("probe: kernel memory and reserved addresses stayed out of reach");
    Ok(())
}

fn print_raw(ptr: u64, len: u64) -> Result<u64, Error> {
    // SAFETY: DebugPrint only reads.
    let (s, v) = unsafe { sys::call(Sysno::DebugPrint, [ptr, len, 0, 0, 0, 0]) };
    exo_abi::syscall::decode(s, v)
}

fn spawn_raw(ptr: u64, len: u64) -> Result<u64, Error> {
    // SAFETY: EnvSpawn only reads the name.
    let (s, v) = unsafe { sys::call(Sysno::EnvSpawn, [ptr, len, 0, 0, 0, 0]) };
    exo_abi::syscall::decode(s, v)
}

/// Mode `GrantUnheld`: `frame` belongs to another environment.
pub fn grant_unheld(start: Start, frame: u64) -> Result<(), Check> {
    let owner = EnvId(export::frame(frame).map(|e| e.owner).unwrap_or(0));
    refused(
        1,
        "grant a frame not held",
        api::grant(frame, owner, FrameCaps::READ),
        Error::NoCapability,
    )?;
    let (_, mine) = ok(2, "own page", own_page())?;
    refused(
        3,
        "grant to itself",
        api::grant(mine, start.id, FrameCaps::READ),
        Error::InvalidArgument,
    )?;
    refused(
        4,
        "grant to nobody",
        api::grant(mine, EnvId(0x7F3F), FrameCaps::READ),
        Error::NoSuchEnv,
    )?;
    refused(
        5,
        "grant nothing",
        api::grant(mine, owner, FrameCaps::empty()),
        Error::InvalidArgument,
    )?;
    // SAFETY: Grant never changes the caller's memory.
    let bad = unsafe { sys::call(Sysno::Grant, [mine, u64::from(owner.0), 0x100, 0, 0, 0]) };
    refused(
        6,
        "grant unknown capability bits",
        exo_abi::syscall::decode(bad.0, bad.1),
        Error::InvalidArgument,
    )?;
    ok(
        7,
        "a proper grant",
        api::grant(mine, owner, FrameCaps::READ),
    )?;
    ok(8, "and its revocation", api::revoke(mine, Some(owner)))?;
    println!("probe: grants of frames not held were refused");
    Ok(())
}

static REQUESTED: AtomicU64 = AtomicU64::new(0);
static EMERGENCY: AtomicBool = AtomicBool::new(false);
static NOTICES: AtomicU64 = AtomicU64::new(0);

fn ignore_request(frames: u64, _deadline: u64, emergency: bool) {
    REQUESTED.fetch_add(frames, Ordering::Relaxed);
    EMERGENCY.store(emergency, Ordering::Relaxed);
}

fn note_repossession(_total: u64, _new: u64) {
    NOTICES.fetch_add(1, Ordering::AcqRel);
}

/// Mode `IgnoreRevocation`: `param & 0xFFFF` pages with known contents, a
/// dump area 8 pages larger, and a revocation handler that does nothing;
/// exits after `param >> 16` (at least 1) repossession notices.
pub fn ignore_revocation(param: u64) -> Result<(), Check> {
    upcall::set_revocation_handler(ignore_request);
    upcall::set_repossession_handler(note_repossession);
    let pages = param & 0xFFFF;
    let batches = (param >> 16).max(1);
    let n = pages as usize;
    let data = ok(
        1,
        "map pages",
        rt::with_vm(|vm, mmu| vm.alloc(mmu, n, MapFlags::WRITE, PageClass::Pinned)),
    )?;
    for i in 0..pages {
        let v = data + i * 4096;
        let fill = [page_pattern(v); 64];
        for off in (0..4096).step_by(64) {
            ok(
                2,
                "fill a page",
                rt::with_vm(|vm, mmu| vm.write(mmu, v + off, &fill)),
            )?;
        }
    }
    let dump_pages = pages + 8;
    let dump = ok(
        3,
        "map the dump area",
        rt::with_vm(|vm, mmu| {
            vm.alloc(mmu, dump_pages as usize, MapFlags::WRITE, PageClass::Pinned)
        }),
    )?;
    // SAFETY: the dump pages are read only through `vm.read` copies.
    ok(4, "declare the dump area", unsafe {
        api::dump_area(dump, dump_pages)
    })?;
    println!("probe: {pages} pages filled; ignoring revocation requests");
    while NOTICES.load(Ordering::Acquire) < batches {
        let _ = api::block(None);
    }
    that(
        5,
        "a revocation request came first",
        REQUESTED.load(Ordering::Relaxed) > 0,
    )?;
    if batches > 1 {
        that(
            12,
            "the emergency was announced",
            EMERGENCY.load(Ordering::Relaxed),
        )?;
    }
    let total = export::repossessions();
    let mut frames = 0;
    for k in 0..total {
        let Some(e) = export::repossession(k) else {
            continue;
        };
        if RepossessedKind::from_u32(e.kind) != Some(RepossessedKind::Frame) {
            continue;
        }
        frames += 1;
        if RepossessionReason::from_u32(e.reason) == Some(RepossessionReason::Emergency) {
            // Below the guarantee: whatever the kernel chose; the dump
            // area may be full.
            continue;
        }
        that(
            6,
            "a repossessed data page was mapped",
            e.vaddr != NO_ADDRESS && e.vaddr >= data && e.vaddr < data + pages * 4096,
        )?;
        that(
            7,
            "its contents were dumped",
            e.dump_page != NO_DUMP && e.dump_page < dump_pages,
        )?;
        let mut copy = [0u8; 64];
        for off in [0u64, 2048, 4032] {
            ok(
                8,
                "read the dump",
                rt::with_vm(|vm, mmu| vm.read(mmu, dump + e.dump_page * 4096 + off, &mut copy)),
            )?;
            that(
                9,
                "the dump holds the page's last contents",
                copy.iter().all(|&b| b == page_pattern(e.vaddr)),
            )?;
        }
        // The page is gone: touching it must fault, and our handler sees it.
        exo_user::libos_core::exception::set_handler(crate::faults::handler);
        that(
            10,
            "the repossessed page is unmapped",
            crate::faults::guarded_read(e.vaddr).is_none(),
        )?;
    }
    that(11, "frames were repossessed", frames > 0)?;
    println!("probe: {frames} repossessed frames found in the dump area, contents intact");
    Ok(())
}

/// Mode `Compliant`: `pages` reclaimable pages; the library OS's default
/// revocation handler gives frames back. Runs until killed.
pub fn compliant(pages: u64) -> Result<(), Check> {
    ok(
        1,
        "map reclaimable pages",
        rt::with_vm(|vm, mmu| {
            vm.alloc(mmu, pages as usize, MapFlags::WRITE, PageClass::Reclaimable)
        }),
    )?;
    println!("probe: {pages} reclaimable pages mapped");
    loop {
        let _ = api::block(None);
        if rt::given_back() > 0 {
            println!("probe: gave back {} frames on request", rt::given_back());
        }
    }
}

/// Mode `Hoard`: takes resources of every kind, then exits.
/// `sibling` is an environment to grant frames to.
pub fn hoard(sibling: u64) -> Result<(), Check> {
    let sibling = EnvId(sibling as u32);
    let mut frames = [0u64; 8];
    for f in frames.iter_mut() {
        *f = ok(1, "allocate", api::frame_alloc(None))?;
    }
    // Mappings far apart: each needs its own page tables.
    for (i, f) in frames.iter().enumerate() {
        let v = 0x0000_0100_0000_0000u64 * (i as u64 + 1) + 0x1234_5000;
        // SAFETY: addresses far from anything the program uses.
        ok(2, "map sparse", unsafe { api::map(v, *f, MapFlags::WRITE) })?;
        // SAFETY: as above (a second mapping of the same frame).
        ok(3, "map twice", unsafe {
            api::map(v + 0x20_0000, *f, MapFlags::empty())
        })?;
    }
    for f in &frames[..4] {
        ok(
            4,
            "grant to the sibling",
            api::grant(*f, sibling, FrameCaps::READ | FrameCaps::WRITE),
        )?;
    }
    ok(5, "extra slot", api::slice_alloc(None))?;
    ok(6, "extra slot", api::slice_alloc(None))?;
    // SAFETY: nothing in the program points there.
    ok(7, "dump area", unsafe {
        api::dump_area(0x0000_0200_0000_0000, 4)
    })?;
    ok(8, "child", api::spawn("probe", Mode::Spin.arg(0)))?;
    ok(
        9,
        "reclaimable pages",
        rt::with_vm(|vm, mmu| vm.alloc(mmu, 16, MapFlags::WRITE, PageClass::Reclaimable)),
    )?;
    println!("probe: hoarded frames, mappings, grants, slots and a child; exiting");
    Ok(())
}
