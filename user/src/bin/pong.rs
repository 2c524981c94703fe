//! `pong`: the server half of the demo. It exports two procedures over
//! LRPC and then blocks; every call arrives as a protected control
//! transfer into its upcall entry, on the caller's time slice.
#![no_std]
#![no_main]

use exo_abi::{EnvId, MapFlags};
use exo_user::libos_core::{api, lrpc, rt};
use exo_user::{Start, println};

exo_user::entry!(main);

fn main(start: Start) -> u64 {
    println!("pong: {} ready to serve {}", start.id, start.parent);
    if lrpc::export(0, add)
        .and_then(|()| lrpc::export(1, shared_page))
        .is_err()
    {
        return 1;
    }
    loop {
        // Calls come in as upcalls; between them there is nothing to do.
        let _ = api::block(None);
    }
}

fn add(_caller: EnvId, a: [u64; 4]) -> Result<[u64; 4], u64> {
    Ok([a[0].wrapping_add(a[1]), 0, 0, 0])
}

/// Maps the frame the caller granted, reads `a[1]` bytes, writes a reply
/// at offset 2048, unmaps. Returns (reply length, bytes read).
fn shared_page(caller: EnvId, a: [u64; 4]) -> Result<[u64; 4], u64> {
    let (frame, len) = (a[0], a[1].min(256) as usize);
    let reply = b"pong was here";
    let result = rt::with_vm(|vm, mmu| {
        let v = vm.map_borrowed(mmu, frame, MapFlags::WRITE)?;
        let mut buf = [0u8; 256];
        vm.read(mmu, v, &mut buf[..len])?;
        println!(
            "pong: {caller} shared a page: \"{}\"",
            core::str::from_utf8(&buf[..len]).unwrap_or("?")
        );
        vm.write(mmu, v + 2048, reply)?;
        vm.free(mmu, v, 1)
    });
    match result {
        Ok(()) => Ok([reply.len() as u64, len as u64, 0, 0]),
        Err(e) => Err(e.code()),
    }
}
