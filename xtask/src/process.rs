//! Running commands: echo them, run them, and turn failures into errors.

use std::process::{Command, ExitStatus, Output};

use crate::error::{Error, Result};

/// A printable form of `cmd` (program and arguments).
pub fn describe(cmd: &Command) -> String {
    let mut s = cmd.get_program().to_string_lossy().into_owned();
    for a in cmd.get_args() {
        s.push(' ');
        s.push_str(&a.to_string_lossy());
    }
    s
}

/// Runs `cmd` with inherited stdio; errors on a non-zero exit.
pub fn run(cmd: &mut Command, what: &str) -> Result<()> {
    eprintln!("xtask: $ {}", describe(cmd));
    let status = status(cmd)?;
    if status.success() {
        Ok(())
    } else {
        Err(Error::CommandFailed {
            what: what.into(),
            status: status.to_string(),
        })
    }
}

/// Runs `cmd` with inherited stdio and returns its status.
pub fn status(cmd: &mut Command) -> Result<ExitStatus> {
    cmd.status().map_err(|source| Error::Spawn {
        program: describe(cmd),
        source,
    })
}

/// Runs `cmd` capturing stdout and stderr.
pub fn output(cmd: &mut Command) -> Result<Output> {
    cmd.output().map_err(|source| Error::Spawn {
        program: describe(cmd),
        source,
    })
}

/// Whether `program` can be found on PATH.
pub fn on_path(program: &str) -> bool {
    std::env::var_os("PATH")
        .map(|paths| std::env::split_paths(&paths).any(|dir| dir.join(program).is_file()))
        .unwrap_or(false)
}
