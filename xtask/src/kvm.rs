//! Choosing the accelerator: KVM only if a probe boot under KVM works.
//!
//! `/dev/kvm` can exist and still be unable to run this kernel (e.g. a
//! nested software hypervisor that stops on ring-0 SSE), so its presence
//! proves nothing: the probe boots the kernel with `exo.probe`, which exits
//! with success right after the banner.

use std::time::Duration;

use crate::image::KernelImage;
use crate::qemu::{Accel, Boot, GuestExit, Machine};
use crate::session::{self, Deadline, End, Flow};

/// Resolves the requested accelerator, falling back to TCG with a message.
pub fn resolve(requested: Accel, kernel: &KernelImage) -> Accel {
    if requested == Accel::Tcg {
        return Accel::Tcg;
    }
    match probe(kernel) {
        Ok(()) => {
            eprintln!("xtask: KVM probe boot succeeded; using KVM");
            Accel::Kvm
        }
        Err(why) => {
            eprintln!("xtask: KVM probe boot failed ({why}); falling back to TCG");
            Accel::Tcg
        }
    }
}

fn probe(kernel: &KernelImage) -> Result<(), String> {
    if !std::path::Path::new("/dev/kvm").exists() {
        return Err("/dev/kvm does not exist".into());
    }
    let mut m = Machine::new(Boot::Kernel {
        elf: kernel.elf.clone(),
        cmdline: "exo.probe".into(),
    });
    m.accel = Accel::Kvm;
    let limit = Duration::from_secs(10);
    let out = session::run(
        &m,
        Deadline::after(limit, "the probe boot"),
        limit,
        None,
        |_, _| Flow::Continue,
    )
    .map_err(|e| e.to_string())?;
    match out.end {
        End::Exited(GuestExit::Success) => Ok(()),
        End::Exited(e) => Err(format!(
            "{e}; {}",
            out.stderr.lines().next().unwrap_or("").trim()
        )),
        End::TimedOut { .. } => match out.stderr.lines().find(|l| !l.trim().is_empty()) {
            Some(said) => Err(format!("no exit within 10 s; QEMU said: {}", said.trim())),
            None => Err("no exit within 10 s".into()),
        },
        End::Stopped => Err("stopped".into()),
    }
}
