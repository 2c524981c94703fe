//! `init`: the default demo (`cargo xtask run`). It starts `pong`, calls it
//! by protected control transfer (LRPC: procedures and replies in
//! registers, no kernel buffering), shares a page with it by granting a
//! capability, and prints what happens through the debug console.
#![no_std]
#![no_main]

use exo_abi::{EnvId, Error, FrameCaps, MapFlags};
use exo_user::libos_core::lrpc::{self, CallError};
use exo_user::libos_core::vm::PageClass;
use exo_user::libos_core::{api, export, rt, sys};
use exo_user::{Start, println};

exo_user::entry!(main);

/// `pong`'s procedures (see `pong.rs`).
const ADD: u64 = 0;
const SHARED_PAGE: u64 = 1;

fn main(start: Start) -> u64 {
    println!(
        "init: hello from {} (slice {} ns)",
        start.id,
        export::kernel_info().slice_ns
    );
    let pong = match api::spawn("pong", 0) {
        Ok(p) => p,
        Err(e) => {
            println!("init: cannot start pong: {e}");
            return 1;
        }
    };
    let code = match talk(pong) {
        Ok(()) => 0,
        Err(e) => {
            println!("init: {e:?}");
            2
        }
    };
    let _ = api::kill(pong);
    println!("init: done");
    code
}

/// Calls `pong`, giving it the CPU until it has declared its entry point.
fn call(pong: EnvId, proc: u64, args: [u64; 4]) -> Result<[u64; 4], CallError> {
    loop {
        match lrpc::call(pong, proc, args) {
            Err(CallError::Kernel(Error::NoEntryPoint)) => {
                let _ = api::yield_to(Some(pong));
            }
            r => return r,
        }
    }
}

fn talk(pong: EnvId) -> Result<(), CallError> {
    let sum = call(pong, ADD, [40, 2, 0, 0])?;
    println!("init: pong says 40 + 2 = {}", sum[0]);

    let rounds = 100;
    let t0 = sys::rdtsc();
    for i in 0..rounds {
        let r = call(pong, ADD, [i, 1, 0, 0])?;
        if r[0] != i + 1 {
            println!("init: wrong answer {} for {i} + 1", r[0]);
            return Err(CallError::Server(r[0]));
        }
    }
    let cycles = (sys::rdtsc() - t0) / rounds;
    println!("init: {rounds} protected control transfer round trips, {cycles} TSC cycles each");

    let page = rt::with_vm(|vm, mmu| vm.alloc(mmu, 1, MapFlags::WRITE, PageClass::Pinned))
        .map_err(CallError::Kernel)?;
    let message = b"hello, pong: this page is shared";
    let frame = rt::with_vm(|vm, mmu| {
        vm.write(mmu, page, message)?;
        vm.page(page).map(|p| p.frame).ok_or(Error::NotMapped)
    })
    .map_err(CallError::Kernel)?;
    api::grant(frame, pong, FrameCaps::READ | FrameCaps::WRITE).map_err(CallError::Kernel)?;
    let r = call(pong, SHARED_PAGE, [frame, message.len() as u64, 0, 0])?;
    let mut reply = [0u8; 32];
    rt::with_vm(|vm, mmu| vm.read(mmu, page + 2048, &mut reply)).map_err(CallError::Kernel)?;
    let n = (r[0] as usize).min(reply.len());
    println!(
        "init: pong read {} bytes of the shared page and wrote back \"{}\"",
        r[1],
        core::str::from_utf8(&reply[..n]).unwrap_or("?")
    );
    api::revoke(frame, Some(pong)).map_err(CallError::Kernel)?;
    println!("init: revoked pong's access to the page");
    Ok(())
}
