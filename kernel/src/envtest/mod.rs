//! In-QEMU tests of environments, run by the `env-tests` scenario (its own
//! boot, under `-icount shift=0,sleep=off`, so guest time is instruction
//! counts: budgets and deadlines are deterministic and host load cannot
//! make them flaky). Each test spawns `probe` environments
//! (`user/src/bin/probe`, protocol in `exo_abi::probe`), runs the kernel
//! loop until they finish, and checks both what they report (their exit
//! code) and what the kernel saw; every test ends with a census showing
//! that all their resources came back.

mod cpu;
pub(crate) mod harness;
mod memory;
mod protocol;
