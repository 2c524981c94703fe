//! `cargo xtask`: builds exo and drives QEMU.
//!
//! ```text
//! cargo xtask run [--release] [--gdb] [--accel tcg|kvm] [--net none|user|tap|socket] [--append CMDLINE]
//! cargo xtask test [--release] [--no-fuzz] [--no-host] [--scenario SUBSTRING]
//! cargo xtask iso [--release]
//! cargo xtask bench [NAME [ARGS...]]
//! cargo xtask fuzz TARGET [--time SECONDS]
//! ```

mod bench;
mod bench_kernel;
mod bench_net;
mod bench_qemu;
mod cargo_toml;
mod cmd_run;
mod cmd_test;
mod crash_report;
mod error;
mod fuzz;
mod image;
mod iso;
mod ktest_protocol;
mod kvm;
mod net_backend;
mod net_drivers;
mod net_env_driver;
mod net_report;
mod paths;
mod process;
mod qemu;
mod readme_bench;
mod scenario;
mod scenarios;
mod session;
mod symbols;
mod tally;
mod tap;
mod tools;

use lexopt::prelude::*;

use error::{Error, Result};
use qemu::{Accel, Net};

const USAGE: &str = "usage: cargo xtask <command>

commands:
  run     build the kernel and boot it in QEMU (serial on this terminal; Ctrl-A X quits)
          --release            optimized build
          --gdb                wait for gdb on :1234 (prints the gdb command)
          --accel tcg|kvm      KVM only if a probe boot works (default tcg)
          --net none|user|tap|socket  virtio-net backend (default none; tap uses
                       exo-tap0, made for the run when missing and root, with
                       the host at 10.77.0.1 and the guest at 10.77.0.2;
                       socket listens on 127.0.0.1:5556)
          --append CMDLINE     kernel command line (e.g. loglevel=debug)
  test    fmt, clippy, host tests, in-QEMU kernel tests, crash tests, ISO boot,
          fuzz smoke runs; ends with `N passed, M failed`
          --release  --no-fuzz  --no-host
          --scenario SUBSTRING  only the QEMU scenarios whose name contains it
  iso     build a GRUB (Multiboot2) bootable ISO   [--release]
  bench   list benchmarks, or run one: bench NAME [ARGS...]; bench readme
          rebuilds the README results section from bench/results/
  fuzz    fuzz TARGET [--time SECONDS]   (cargo-fuzz on nightly; default 60 s)";

fn unexpected(e: lexopt::Error) -> Error {
    Error::Usage(e.to_string())
}

fn parse_run(parser: &mut lexopt::Parser) -> Result<cmd_run::RunOptions> {
    let mut o = cmd_run::RunOptions {
        release: false,
        gdb: false,
        accel: Accel::Tcg,
        net: Net::None,
        cmdline: String::new(),
    };
    while let Some(arg) = parser.next().map_err(unexpected)? {
        match arg {
            Long("release") => o.release = true,
            Long("gdb") => o.gdb = true,
            Long("accel") => {
                o.accel = match parser
                    .value()
                    .map_err(unexpected)?
                    .string()
                    .map_err(unexpected)?
                    .as_str()
                {
                    "tcg" => Accel::Tcg,
                    "kvm" => Accel::Kvm,
                    other => {
                        return Err(Error::Usage(format!(
                            "--accel must be tcg or kvm, not `{other}`"
                        )));
                    }
                }
            }
            Long("net") => {
                o.net = match parser
                    .value()
                    .map_err(unexpected)?
                    .string()
                    .map_err(unexpected)?
                    .as_str()
                {
                    "none" => Net::None,
                    "user" => Net::User {
                        forwards: Vec::new(),
                    },
                    // Resolved by `cmd_run` (made when missing and root).
                    "tap" => Net::Tap {
                        ifname: "exo-tap0".into(),
                        guest: std::net::Ipv4Addr::new(10, 77, 0, 2),
                    },
                    "socket" => Net::Socket { port: 5556 },
                    other => {
                        return Err(Error::Usage(format!(
                            "--net must be none, user, tap or socket, not `{other}`"
                        )));
                    }
                }
            }
            Long("append") => {
                o.cmdline = parser
                    .value()
                    .map_err(unexpected)?
                    .string()
                    .map_err(unexpected)?
            }
            other => return Err(unexpected(other.unexpected())),
        }
    }
    Ok(o)
}

fn dispatch() -> Result<()> {
    let mut parser = lexopt::Parser::from_env();
    let command = match parser.next().map_err(unexpected)? {
        Some(Value(v)) => v.string().map_err(unexpected)?,
        Some(Long("help")) | Some(Short('h')) | None => {
            println!("{USAGE}");
            return Ok(());
        }
        Some(other) => return Err(unexpected(other.unexpected())),
    };
    match command.as_str() {
        "help" => {
            println!("{USAGE}");
            Ok(())
        }
        "run" => cmd_run::run(parse_run(&mut parser)?),
        "test" => {
            let mut o = cmd_test::TestOptions {
                release: false,
                skip_fuzz: false,
                skip_host: false,
                scenario: None,
            };
            while let Some(arg) = parser.next().map_err(unexpected)? {
                match arg {
                    Long("release") => o.release = true,
                    Long("no-fuzz") => o.skip_fuzz = true,
                    Long("no-host") => o.skip_host = true,
                    Long("scenario") => {
                        o.scenario = Some(
                            parser
                                .value()
                                .map_err(unexpected)?
                                .string()
                                .map_err(unexpected)?,
                        )
                    }
                    other => return Err(unexpected(other.unexpected())),
                }
            }
            cmd_test::run(o)
        }
        "iso" => {
            let mut release = false;
            while let Some(arg) = parser.next().map_err(unexpected)? {
                match arg {
                    Long("release") => release = true,
                    other => return Err(unexpected(other.unexpected())),
                }
            }
            let kernel = image::build(image::BuildOptions {
                release,
                flavor: image::Flavor::Normal,
            })?;
            let iso = iso::build(&kernel, release)?;
            println!("{}", iso.display());
            Ok(())
        }
        "bench" => {
            let mut rest = Vec::new();
            while let Some(arg) = parser.next().map_err(unexpected)? {
                match arg {
                    Value(v) => rest.push(v.string().map_err(unexpected)?),
                    Long(l) => rest.push(format!("--{l}")),
                    Short(s) => rest.push(format!("-{s}")),
                }
                rest.extend(
                    parser
                        .raw_args()
                        .map_err(unexpected)?
                        .map(|a| a.to_string_lossy().into_owned()),
                );
            }
            let (name, args) = match rest.split_first() {
                Some((n, a)) => (Some(n.as_str()), a),
                None => (None, &[][..]),
            };
            bench::run(name, args)
        }
        "fuzz" => {
            let mut target = None;
            let mut seconds = 60;
            while let Some(arg) = parser.next().map_err(unexpected)? {
                match arg {
                    Long("time") => {
                        seconds = parser
                            .value()
                            .map_err(unexpected)?
                            .parse()
                            .map_err(unexpected)?;
                    }
                    Value(v) if target.is_none() => target = Some(v.string().map_err(unexpected)?),
                    other => return Err(unexpected(other.unexpected())),
                }
            }
            let target = target.ok_or_else(|| Error::Usage("fuzz needs a TARGET".into()))?;
            fuzz::run(&target, seconds)
        }
        other => Err(Error::Usage(format!("unknown command `{other}`"))),
    }
}

fn main() {
    if let Err(e) = dispatch() {
        eprintln!("xtask: error: {e}");
        std::process::exit(1);
    }
}
