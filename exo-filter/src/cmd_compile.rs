//! `exo-filter compile FILE -o OUT`: compiles a handler-language file or a
//! `.s` handler (with `--region`, `--counters`, `--filter`) into the object
//! format of `docs/OBJECT.md`, after verifying it. Exit 1 when the program
//! is rejected, 2 on any other failure.

use crate::artifact::{AsmDecls, load_verified};
use crate::input::fail;
use filter_lang::object::encode;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(clap::Args)]
pub struct Args {
    /// A handler-language file (`.exo`) or a `.s` handler.
    file: PathBuf,
    /// Where to write the object.
    #[arg(short, long)]
    output: PathBuf,
    /// Leave out the source map (line and column per handler word).
    #[arg(long)]
    no_source_map: bool,
    #[command(flatten)]
    decls: AsmDecls,
}

pub fn run(a: Args) -> ExitCode {
    let l = match load_verified(&a.file, &a.decls) {
        Ok((l, _)) => l,
        Err(code) => return code,
    };
    let mut obj = l.object;
    if a.no_source_map {
        obj.source_map = None;
    }
    let bytes = match encode(&obj) {
        Ok(b) => b,
        Err(e) => return fail(format_args!("{}: cannot encode: {e}", a.file.display())),
    };
    if let Err(e) = std::fs::write(&a.output, &bytes) {
        return fail(format_args!("{}: cannot write: {e}", a.output.display()));
    }
    let handler = obj.handler_program().map_or("no handler".to_string(), |p| {
        format!("a handler of {} words", p.words.len())
    });
    println!(
        "{}: {} bytes: {} filter(s){}, {handler}",
        a.output.display(),
        bytes.len(),
        obj.filters.len(),
        if obj.filter_program.is_some() {
            " and a filter program"
        } else {
            ""
        }
    );
    ExitCode::SUCCESS
}
