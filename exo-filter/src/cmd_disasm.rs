//! `exo-filter disasm FILE.bin`: prints assembly that `asm` turns back into
//! the same words.

use crate::input::{fail, load_program};
use filter_lang::bpf::asm::disassemble;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(clap::Args)]
pub struct Args {
    /// Bytecode (`.bin`) or assembly (`.s`, shown normalized).
    file: PathBuf,
}

pub fn run(a: Args) -> ExitCode {
    match load_program(&a.file) {
        Ok(p) => {
            print!("{}", disassemble(&p.words));
            ExitCode::SUCCESS
        }
        Err(e) => fail(e),
    }
}
