//! Protected control transfer between two probes: LRPC calls with the
//! sender authenticated by the kernel, a page shared by grant, and the
//! revocation of that grant observed by the server as a fault.

use core::sync::atomic::{AtomicU64, Ordering};

use exo_abi::probe::{PROC_ADD, PROC_REREAD, PROC_SHARED, SERVER_FAULTED};
use exo_abi::{EnvId, Error, FrameCaps, MapFlags};
use exo_user::libos_core::exception;
use exo_user::libos_core::lrpc::{self, CallError};
use exo_user::libos_core::vm::PageClass;
use exo_user::libos_core::{api, rt};
use exo_user::{Start, println};

use crate::check::{Check, ok, refused, that};
use crate::faults::guarded_read;

/// The page the server keeps mapped after `PROC_SHARED`.
static SHARED: AtomicU64 = AtomicU64::new(0);

fn add(caller: EnvId, a: [u64; 4]) -> Result<[u64; 4], u64> {
    Ok([a[0].wrapping_add(a[1]), u64::from(caller.0), 0, 0])
}

fn shared(_caller: EnvId, a: [u64; 4]) -> Result<[u64; 4], u64> {
    let (frame, len, pattern) = (a[0], a[1].min(4096), a[2] as u8);
    let v =
        rt::with_vm(|vm, mmu| vm.map_borrowed(mmu, frame, MapFlags::WRITE)).map_err(Error::code)?;
    SHARED.store(v, Ordering::Release);
    let mut matching = 0;
    let mut chunk = [0u8; 256];
    for off in (0..len).step_by(256) {
        let n = 256.min(len - off) as usize;
        rt::with_vm(|vm, mmu| vm.read(mmu, v + off, &mut chunk[..n])).map_err(Error::code)?;
        matching += chunk[..n].iter().filter(|&&b| b == pattern).count() as u64;
    }
    let reply = [pattern.wrapping_add(1); 256];
    for off in (len..4096).step_by(256) {
        let n = 256.min(4096 - off) as usize;
        rt::with_vm(|vm, mmu| vm.write(mmu, v + off, &reply[..n])).map_err(Error::code)?;
    }
    Ok([matching, 0, 0, 0])
}

fn reread(_caller: EnvId, _a: [u64; 4]) -> Result<[u64; 4], u64> {
    match guarded_read(SHARED.load(Ordering::Acquire)) {
        Some(b) => Ok([u64::from(b), 0, 0, 0]),
        None => Err(SERVER_FAULTED),
    }
}

/// Mode `PctServer`.
pub fn serve() -> Result<(), Check> {
    exception::set_handler(crate::faults::handler);
    ok(1, "export", lrpc::export(PROC_ADD as usize, add))?;
    ok(2, "export", lrpc::export(PROC_SHARED as usize, shared))?;
    ok(3, "export", lrpc::export(PROC_REREAD as usize, reread))?;
    println!("probe: serving");
    loop {
        let _ = api::block(None);
    }
}

/// Calls the server, yielding to it until it has declared its entry.
fn call(server: EnvId, proc: u64, args: [u64; 4]) -> Result<[u64; 4], CallError> {
    loop {
        match lrpc::call(server, proc, args) {
            Err(CallError::Kernel(Error::NoEntryPoint)) => {
                let _ = api::yield_to(Some(server));
            }
            r => return r,
        }
    }
}

fn kernel<T: core::fmt::Debug>(r: Result<T, CallError>) -> Result<T, Error> {
    r.map_err(|e| match e {
        CallError::Kernel(e) => e,
        CallError::Server(s) => Error::from_code(s).unwrap_or(Error::NotSupported),
    })
}

/// Mode `PctClient`: `server` is the server's id.
pub fn client(start: Start, server: u64) -> Result<(), Check> {
    let server = EnvId(server as u32);
    let r = ok(1, "call add", kernel(call(server, PROC_ADD, [40, 2, 0, 0])))?;
    that(2, "the sum comes back", r[0] == 42)?;
    that(
        3,
        "the server saw our id (set by the kernel)",
        r[1] == u64::from(start.id.0),
    )?;
    for i in 0..50u64 {
        let r = ok(4, "call add", kernel(call(server, PROC_ADD, [i, i, 0, 0])))?;
        that(5, "repeated calls", r[0] == 2 * i)?;
    }
    refused(
        6,
        "call itself",
        api::pct_call(start.id, [0; 5]),
        Error::InvalidArgument,
    )?;
    refused(
        7,
        "call nobody",
        api::pct_call(EnvId(0x7F3F), [0; 5]),
        Error::NoSuchEnv,
    )?;
    refused(
        8,
        "reply to a server that did not call",
        api::pct_reply(server, [0; 5]),
        Error::NotAwaitingReply,
    )?;

    let page = ok(
        9,
        "page to share",
        rt::with_vm(|vm, mmu| vm.alloc(mmu, 1, MapFlags::WRITE, PageClass::Pinned)),
    )?;
    let frame = rt::with_vm(|vm, _| vm.page(page).map(|p| p.frame)).unwrap_or(0);
    let pattern = 0x3Cu8;
    let fill = [pattern; 256];
    for off in (0..2048).step_by(256) {
        ok(
            10,
            "fill",
            rt::with_vm(|vm, mmu| vm.write(mmu, page + off, &fill)),
        )?;
    }
    ok(
        11,
        "grant read/write",
        api::grant(frame, server, FrameCaps::READ | FrameCaps::WRITE),
    )?;
    let r = ok(
        12,
        "call shared",
        kernel(call(
            server,
            PROC_SHARED,
            [frame, 2048, u64::from(pattern), 0],
        )),
    )?;
    that(13, "the server read our bytes", r[0] == 2048)?;
    let mut back = [0u8; 256];
    for off in (2048..4096).step_by(256) {
        ok(
            14,
            "read back",
            rt::with_vm(|vm, mmu| vm.read(mmu, page + off, &mut back)),
        )?;
        that(
            15,
            "the server's writes are visible",
            back.iter().all(|&b| b == pattern + 1),
        )?;
    }
    let r = ok(
        16,
        "server rereads",
        kernel(call(server, PROC_REREAD, [0; 4])),
    )?;
    that(
        17,
        "the shared page still reads",
        r[0] == u64::from(pattern),
    )?;
    ok(18, "revoke the grant", api::revoke(frame, Some(server)))?;
    match call(server, PROC_REREAD, [0; 4]) {
        Err(CallError::Server(SERVER_FAULTED)) => {}
        other => {
            println!("probe: check 19: expected the server to fault, got {other:?}");
            return Err(19);
        }
    }
    println!("probe: PCT calls, a shared page and its revocation all behaved");
    Ok(())
}
