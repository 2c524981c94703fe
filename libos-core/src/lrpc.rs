//! Lightweight RPC over protected control transfer (after Bershad's LRPC
//! and Aegis's use of PCT): the client's call jumps straight into the
//! server's entry on the client's time slice with the procedure number and
//! four arguments in registers; the server runs the procedure and replies,
//! which jumps straight back. No kernel buffering, no scheduler pass.
//!
//! Message layout: call words `[procedure, a0, a1, a2, a3]`; reply words
//! `[status, r0, r1, r2, r3]` where status 0 is success and anything else
//! an error code from the server (an `exo_abi::Error` code or its own).

use core::sync::atomic::{AtomicUsize, Ordering};

use exo_abi::{EnvId, Error};

use crate::api;

/// A procedure: (caller, arguments) -> results or an error code.
pub type Procedure = fn(EnvId, [u64; 4]) -> Result<[u64; 4], u64>;

/// Procedures a server can export.
pub const MAX_PROCEDURES: usize = 16;

/// Status of a call to an unknown procedure.
pub const NO_SUCH_PROCEDURE: u64 = 0x1_0000;

static TABLE: [AtomicUsize; MAX_PROCEDURES] = [const { AtomicUsize::new(0) }; MAX_PROCEDURES];

/// Why a call failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CallError {
    /// The kernel refused the transfer.
    Kernel(Error),
    /// The server answered with this status.
    Server(u64),
}

/// Exports `p` as procedure `index` and makes this environment accept
/// calls (dispatch runs in the upcall handler).
pub fn export(index: usize, p: Procedure) -> Result<(), Error> {
    TABLE
        .get(index)
        .ok_or(Error::InvalidArgument)?
        .store(p as usize, Ordering::Release);
    crate::pct::set_handler(serve_one);
    crate::rt::refresh_upcalls()
}

fn procedure(index: u64) -> Option<Procedure> {
    let raw = TABLE
        .get(usize::try_from(index).ok()?)?
        .load(Ordering::Acquire);
    crate::upcall::procedure_from(raw)
}

/// The PCT handler of a server: run the procedure, reply.
fn serve_one(sender: EnvId, words: [u64; 5], call: bool) {
    let args = [words[1], words[2], words[3], words[4]];
    let reply = match procedure(words[0]) {
        Some(p) => match p(sender, args) {
            Ok(r) => [0, r[0], r[1], r[2], r[3]],
            Err(code) => [code.max(1), 0, 0, 0, 0],
        },
        None => [NO_SUCH_PROCEDURE, 0, 0, 0, 0],
    };
    if call {
        let _ = api::pct_reply(sender, reply);
    }
}

/// Calls procedure `index` of `server`.
pub fn call(server: EnvId, index: u64, args: [u64; 4]) -> Result<[u64; 4], CallError> {
    let r = api::pct_call(server, [index, args[0], args[1], args[2], args[3]])
        .map_err(CallError::Kernel)?;
    match r.words[0] {
        0 => Ok([r.words[1], r.words[2], r.words[3], r.words[4]]),
        status => Err(CallError::Server(status)),
    }
}
