//! `cargo xtask run`: build, boot in QEMU with the serial console on the
//! terminal (Ctrl-A X quits), and annotate crash-report addresses with
//! kernel symbols as they scroll by.

use std::io::{Read, Write};
use std::process::Stdio;

use crate::error::{Error, Result};
use crate::image::{self, BuildOptions, Flavor};
use crate::process::describe;
use crate::qemu::{Accel, Boot, Machine, Net};
use crate::symbols::Symbolizer;
use crate::{kvm, tools};

/// Options of `cargo xtask run`.
#[derive(Clone, Debug)]
pub struct RunOptions {
    pub release: bool,
    pub gdb: bool,
    pub accel: Accel,
    pub net: Net,
    pub cmdline: String,
}

pub fn run(opts: RunOptions) -> Result<()> {
    tools::ensure(&[tools::QEMU])?;
    let kernel = image::build(BuildOptions {
        release: opts.release,
        flavor: Flavor::Normal,
    })?;
    let accel = kvm::resolve(opts.accel, &kernel);
    let mut m = Machine::new(Boot::Kernel {
        elf: kernel.elf.clone(),
        cmdline: opts.cmdline.clone(),
    });
    m.accel = accel;
    m.net = opts.net;
    m.gdb = opts.gdb;
    m.interactive = true;
    if opts.gdb {
        eprintln!(
            "xtask: QEMU waits for gdb; in another terminal run:\n    gdb -ex 'file {}' -ex 'target remote :1234' -ex 'break kernel::boot_entry' -ex continue",
            kernel.elf.display()
        );
    }
    let symbols = Symbolizer::load(&kernel.elf).ok();
    let mut cmd = m.command();
    cmd.stdout(Stdio::piped());
    eprintln!(
        "xtask: $ {}\nxtask: serial console follows; Ctrl-A X quits QEMU",
        describe(&cmd)
    );
    let mut child = cmd.spawn().map_err(|source| Error::Spawn {
        program: describe(&cmd),
        source,
    })?;
    let mut stdout = child.stdout.take().expect("stdout is piped");
    let mut term = std::io::stdout();
    let mut line = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let n = match stdout.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        let _ = term.write_all(&buf[..n]);
        let _ = term.flush();
        for &b in &buf[..n] {
            if b != b'\n' {
                line.push(b);
                continue;
            }
            let text = String::from_utf8_lossy(&line)
                .trim_end_matches('\r')
                .to_string();
            if let Some(sym) = symbols.as_ref().and_then(|s| s.annotate(&text)) {
                let _ = write!(term, "        = {sym}\r\n");
            }
            line.clear();
        }
    }
    let status = child.wait().map_err(|source| Error::Spawn {
        program: "qemu-system-x86_64".into(),
        source,
    })?;
    eprintln!("xtask: QEMU exited ({status})");
    Ok(())
}
