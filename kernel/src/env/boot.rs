//! Running the first environment at boot (normal kernels): `exo.init=NAME`
//! on the command line picks the program (default `init`), `exo.arg=N` its
//! spawn argument (default 0); the kernel runs
//! environments until none is left, then reports how the first one ended.

use exo_abi::EnvId;

use super::with_kernel;
use crate::sched;

/// Longest the boot environments may run before the kernel gives up
/// (`cargo xtask run` keeps QEMU up afterwards; tests exit).
const BOOT_RUN_LIMIT_NS: u64 = 120_000_000_000;

/// Spawns `name` (spawn argument `arg`) and runs environments until all
/// have ended.
pub fn run_first(name: &str, arg: u64) {
    let id = match with_kernel(|k| k.spawn(name, arg, EnvId::NONE, None)) {
        Ok(id) => id,
        Err(e) => {
            log::error!("cannot start `{name}`: {e}");
            return;
        }
    };
    log::info!("exo: started `{name}` as {id}");
    match sched::run_until(|k| k.envs.live() == 0, BOOT_RUN_LIMIT_NS) {
        Ok(()) => {
            let status = with_kernel(|k| k.exits.status(id));
            match status {
                Some(s) => log::info!("exo: all environments ended; `{name}` {s}"),
                None => log::info!("exo: all environments ended"),
            }
        }
        Err(e) => log::error!("exo: {e}"),
    }
}
