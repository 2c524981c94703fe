//! `exo-filter verify FILE --type packet|memory:SIZE`: exit 0 and
//! `accepted (...)`, or exit 1 and `rejected: insn K: reason` with the
//! instruction and register states.

use crate::artifact::parse_region;
use crate::input::{fail, load_program};
use filter_lang::bpf::spec::{ProgramSpec, ProgramType, RegionDecl};
use filter_lang::bpf::verifier::verify;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(clap::Args)]
pub struct Args {
    /// Program: `.s` assembly or `.bin` bytecode.
    file: PathBuf,
    /// Program type: `packet` or `memory:SIZE`.
    #[arg(long = "type", value_name = "TYPE")]
    ty: ProgramType,
    /// Application regions for `packet` programs, in id order: `SIZE:rw` or
    /// `SIZE:ro` (repeatable).
    #[arg(long = "region", value_name = "SIZE:rw|ro", value_parser = parse_region)]
    regions: Vec<RegionDecl>,
    /// Number of per-handler counters.
    #[arg(long, default_value_t = 0)]
    counters: u32,
    /// Maximum program length in instruction words.
    #[arg(long)]
    max_insns: Option<usize>,
}

pub fn run(a: Args) -> ExitCode {
    let prog = match load_program(&a.file) {
        Ok(p) => p,
        Err(e) => return fail(e),
    };
    let mut spec = ProgramSpec::new(a.ty);
    spec.regions = a.regions;
    spec.counters = a.counters;
    if let Some(m) = a.max_insns {
        spec.limits.max_insns = m;
    }
    match verify(&prog, &spec) {
        Ok(v) => {
            println!(
                "accepted ({} words, at most {} instructions per run, {} instructions analysed, {} states)",
                prog.words.len(),
                v.insn_bound,
                v.stats.processed,
                v.stats.states
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            println!("rejected: {e}");
            ExitCode::from(1)
        }
    }
}
