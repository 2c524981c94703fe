//! The pcap-filter front end never panics; whatever it accepts compiles to
//! atoms or to bytecode the verifier accepts, and both agree with the
//! reference graph on a frame.
#![no_main]

use filter_lang::bpf::Program;
use filter_lang::bpf::interp::Interpreter;
use filter_lang::bpf::spec::{ProgramSpec, ProgramType};
use filter_lang::bpf::verifier::verify;
use filter_lang::pcap::{Target, bytecode, compile};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // The first 64 bytes (if any) are a frame, the rest the expression.
    let split = data.len().min(64);
    let (frame, src) = data.split_at(split);
    let Ok(src) = std::str::from_utf8(src) else {
        return;
    };
    let Ok(c) = compile(src) else { return };
    let want = c.cfg.eval(frame, frame.len() as u32);
    let ops = match &c.target {
        Target::Atoms(fs) => {
            assert_eq!(
                fs.iter().any(|f| f.matches(frame)),
                want,
                "atoms of {src:?}"
            );
            bytecode::emit(&c.cfg).expect("bytecode for an accepted expression")
        }
        Target::Bytecode { ops, .. } => ops.clone(),
    };
    let words = bytecode::encode(&ops);
    if let Err(e) = verify(
        &Program::from_words(words.clone()),
        &ProgramSpec::new(ProgramType::Packet),
    ) {
        panic!("verifier rejected the bytecode of {src:?}: {e}");
    }
    let interp = Interpreter::new(&words).unwrap();
    assert_eq!(
        bytecode::run(&interp, frame, frame.len() as u32).unwrap(),
        want,
        "bytecode of {src:?}"
    );
});
