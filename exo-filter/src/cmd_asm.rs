//! `exo-filter asm FILE.s -o OUT.bin`.

use crate::input::fail;
use filter_lang::bpf::asm::assemble;
use filter_lang::bpf::insn::words_to_bytes;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(clap::Args)]
pub struct Args {
    /// Assembly source.
    file: PathBuf,
    /// Output bytecode file.
    #[arg(short, long)]
    output: PathBuf,
}

pub fn run(a: Args) -> ExitCode {
    let text = match std::fs::read_to_string(&a.file) {
        Ok(t) => t,
        Err(e) => return fail(format_args!("{}: cannot read: {e}", a.file.display())),
    };
    let prog = match assemble(&text) {
        Ok(p) => p,
        Err(e) => return fail(format_args!("{}: {e}", a.file.display())),
    };
    if let Err(e) = std::fs::write(&a.output, words_to_bytes(&prog.words)) {
        return fail(format_args!("{}: cannot write: {e}", a.output.display()));
    }
    ExitCode::SUCCESS
}
