//! `exo-filter`: the host tool for exo filters and handlers.
//!
//! One file per subcommand (`cmd_*.rs`), each with an `Args` struct and a
//! `run(args) -> ExitCode`. To add a subcommand: write `cmd_name.rs`, add
//! `mod cmd_name;`, a variant to [`Command`] and a line to the `match`.
//!
//! Exit codes: 0 success, 1 a negative verdict (program rejected, test
//! failed), 2 any other failure (unreadable file, syntax error, bad usage).

mod artifact;
mod cmd_asm;
mod cmd_check;
mod cmd_compile;
mod cmd_conformance;
mod cmd_disasm;
mod cmd_jit_dump;
mod cmd_match;
mod cmd_run;
mod cmd_verify;
mod input;

use clap::{Parser, Subcommand};
use std::process::ExitCode;

#[derive(Parser)]
#[command(
    name = "exo-filter",
    version,
    about = "exo filters and handlers: assemble, verify, run"
)]
struct Cli {
    #[command(subcommand)]
    cmd: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Verify a handler (`.s` assembly or `.bin` bytecode) for a program type.
    Verify(cmd_verify::Args),
    /// Assemble `.s` into `.bin` (little-endian 8-byte instruction words).
    Asm(cmd_asm::Args),
    /// Disassemble `.bin` bytecode.
    Disasm(cmd_disasm::Args),
    /// Run a directory of BPF conformance vectors (verified as `memory`).
    Conformance(cmd_conformance::Args),
    /// Count the packets of a pcap capture a pcap-filter expression selects.
    Match(cmd_match::Args),
    /// Show each BPF instruction next to the x86-64 code the JIT made of it.
    JitDump(cmd_jit_dump::Args),
    /// Parse, compile and verify a handler-language file, `.s` or object.
    Check(cmd_check::Args),
    /// Compile a handler-language file or `.s` to an object.
    Compile(cmd_compile::Args),
    /// Run a filter and handler over a capture (verdicts, helper effects).
    Run(cmd_run::Args),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.cmd {
        Command::Verify(a) => cmd_verify::run(a),
        Command::Asm(a) => cmd_asm::run(a),
        Command::Disasm(a) => cmd_disasm::run(a),
        Command::Conformance(a) => cmd_conformance::run(a),
        Command::Match(a) => cmd_match::run(a),
        Command::JitDump(a) => cmd_jit_dump::run(a),
        Command::Check(a) => cmd_check::run(a),
        Command::Compile(a) => cmd_compile::run(a),
        Command::Run(a) => cmd_run::run(a),
    }
}
