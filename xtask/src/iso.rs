//! `cargo xtask iso`: a GRUB (Multiboot2) bootable ISO of the kernel.

use std::path::PathBuf;
use std::process::Command;

use crate::error::{Result, io};
use crate::image::KernelImage;
use crate::{paths, process, tools};

/// Text of the line GRUB passes as the kernel command line.
const GRUB_CFG: &str = "set timeout=0\nset default=0\n\nmenuentry \"exo\" {\n    multiboot2 /boot/exo.elf\n    boot\n}\n";

/// Builds `<target>/exo/exo.iso` (or `exo-release.iso`) from `kernel`.
pub fn build(kernel: &KernelImage, release: bool) -> Result<PathBuf> {
    tools::ensure(&tools::ISO)?;
    let stage = paths::out_dir().join(if release {
        "iso-root-release"
    } else {
        "iso-root"
    });
    let grub = stage.join("boot").join("grub");
    std::fs::create_dir_all(&grub).map_err(io(format!("creating {}", grub.display())))?;
    std::fs::copy(&kernel.elf, stage.join("boot").join("exo.elf"))
        .map_err(io("copying the kernel into the ISO tree"))?;
    std::fs::write(grub.join("grub.cfg"), GRUB_CFG).map_err(io("writing grub.cfg"))?;
    let iso = paths::out_dir().join(if release {
        "exo-release.iso"
    } else {
        "exo.iso"
    });
    let out = process::output(
        Command::new("grub-mkrescue")
            .arg("-o")
            .arg(&iso)
            .arg(&stage),
    )?;
    if !out.status.success() {
        return Err(crate::error::Error::CommandFailed {
            what: format!(
                "grub-mkrescue: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            ),
            status: out.status.to_string(),
        });
    }
    Ok(iso)
}
