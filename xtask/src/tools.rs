//! System tools the build needs, and the Debian packages that provide them.
//! This is the one list of required packages.

use std::process::Command;

use crate::error::{Error, Result};
use crate::process::{self, on_path};

/// A tool (program on PATH) and the Debian package providing it.
#[derive(Clone, Copy, Debug)]
pub struct Tool {
    pub program: &'static str,
    pub package: &'static str,
}

/// QEMU for x86-64 (every boot).
pub const QEMU: Tool = Tool {
    program: "qemu-system-x86_64",
    package: "qemu-system-x86",
};
/// Tools `cargo xtask iso` needs.
pub const ISO: [Tool; 3] = [
    Tool {
        program: "grub-mkrescue",
        package: "grub-pc-bin",
    },
    Tool {
        program: "xorriso",
        package: "xorriso",
    },
    Tool {
        program: "mformat",
        package: "mtools",
    },
];
/// `tcpdump`, used by host tests that compare filters with pcap-filter.
pub const TCPDUMP: Tool = Tool {
    program: "tcpdump",
    package: "tcpdump",
};
/// Debian packages needed beyond the programs above (GRUB's module files
/// come with grub-pc-bin; grub-mkrescue itself is in grub-common).
const EXTRA_PACKAGES: [&str; 1] = ["grub-common"];

/// Every tool `cargo xtask test` needs.
pub fn all_for_tests() -> Vec<Tool> {
    let mut v = vec![QEMU, TCPDUMP];
    v.extend(ISO);
    v
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| o.stdout.starts_with(b"0\n"))
        .unwrap_or(false)
}

fn is_debian() -> bool {
    std::path::Path::new("/etc/debian_version").exists() && on_path("apt-get")
}

/// Makes sure every tool in `tools` is installed: installs the missing ones
/// with apt-get when running as root on Debian, otherwise fails with the
/// exact command to run.
pub fn ensure(tools: &[Tool]) -> Result<()> {
    let missing: Vec<Tool> = tools
        .iter()
        .copied()
        .filter(|t| !on_path(t.program))
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    let mut packages: Vec<&str> = missing.iter().map(|t| t.package).collect();
    if missing.iter().any(|t| t.program == "grub-mkrescue") {
        packages.extend(EXTRA_PACKAGES);
    }
    packages.sort_unstable();
    packages.dedup();
    let install = format!(
        "sudo apt-get update && sudo apt-get install -y {}",
        packages.join(" ")
    );
    let names: Vec<String> = missing.iter().map(|t| t.program.to_string()).collect();
    if !(is_root() && is_debian()) {
        return Err(Error::MissingTools {
            tools: names,
            install,
        });
    }
    eprintln!(
        "xtask: installing missing tools ({}) with apt-get",
        names.join(", ")
    );
    process::run(
        Command::new("apt-get")
            .arg("update")
            .env("DEBIAN_FRONTEND", "noninteractive"),
        "apt-get update",
    )?;
    process::run(
        Command::new("apt-get")
            .args(["install", "-y", "--no-install-recommends"])
            .args(&packages)
            .env("DEBIAN_FRONTEND", "noninteractive"),
        "apt-get install",
    )?;
    let still: Vec<String> = tools
        .iter()
        .filter(|t| !on_path(t.program))
        .map(|t| t.program.to_string())
        .collect();
    if still.is_empty() {
        Ok(())
    } else {
        Err(Error::MissingTools {
            tools: still,
            install,
        })
    }
}
