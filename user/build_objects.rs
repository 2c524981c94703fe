//! Part of the ring-3 programs' build script: the network objects the
//! `netprobe` test program binds, built on the host into `$OUT_DIR`
//! (`src/bin/netprobe/objects.rs` embeds them):
//!
//! * filters and BPF handlers compiled from the DSL (`examples/udp_echo.exo`,
//!   `examples/vector_payload.exo` or inline source) by `filter_lang::dsl`,
//!   exactly as `exo-filter compile` does;
//! * WebAssembly handlers written as WAT (`user/wasm/*.wat`), converted by
//!   the `wat` crate and wrapped with their filters and declarations in
//!   the object format (`docs/OBJECT.md`);
//! * deliberately bad objects for the hostile tests (an unverifiable BPF
//!   handler, an invalid module, a module without `handle`, a region
//!   bigger than the pages the test gives).

use std::path::Path;

use filter_lang::bpf::Insn;
use filter_lang::bpf::spec::{ProgramType, RegionDecl};
use filter_lang::object::{self, Decls, HandlerCode, Object};

fn write(out: &Path, name: &str, obj: &Object) {
    let bytes = object::encode(obj).unwrap_or_else(|e| panic!("{name}: cannot encode: {e}"));
    let path = out.join(name);
    std::fs::write(&path, bytes).unwrap_or_else(|e| panic!("cannot write {}: {e}", path.display()));
}

fn dsl(src: &str, file: &str) -> Object {
    filter_lang::dsl::compile(src)
        .unwrap_or_else(|e| panic!("{file}: {e}"))
        .object(file)
}

/// Filters only (a ring binding).
fn filter_only(filter: &str) -> Object {
    dsl(&format!("filter \"{filter}\"\n"), "inline")
}

fn wat(dir: &Path, name: &str) -> Vec<u8> {
    let path = dir.join("wasm").join(name);
    println!("cargo:rerun-if-changed={}", path.display());
    wat::parse_file(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn with_wasm(filter: &str, module: Vec<u8>, regions: Vec<RegionDecl>, counters: u32) -> Object {
    let mut o = filter_only(filter);
    o.decls = Some(Decls { regions, counters });
    o.handler = Some(HandlerCode::Wasm(module));
    o
}

pub fn build(manifest: &Path, out: &Path) {
    for (src, obj) in [
        ("udp_echo.exo", "udp_echo.xo"),
        ("vector_payload.exo", "vector_payload.xo"),
    ] {
        let path = manifest.join("..").join("examples").join(src);
        println!("cargo:rerun-if-changed={}", path.display());
        let text = std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
        write(out, obj, &dsl(&text, src));
    }
    let vector = std::fs::read_to_string(manifest.join("../examples/vector_payload.exo"))
        .expect("examples/vector_payload.exo");
    assert!(
        vector.contains(&format!("udp dst port {}", exo_abi::netprobe::PORT_VECTOR)),
        "examples/vector_payload.exo must filter exo_abi::netprobe::PORT_VECTOR"
    );
    for (name, port) in [
        ("ring_a.xo", exo_abi::netprobe::PORT_RING_A),
        ("ring_b.xo", exo_abi::netprobe::PORT_RING_B),
        ("ring_spoof.xo", exo_abi::netprobe::PORT_SPOOF),
        ("ring_done.xo", exo_abi::netprobe::PORT_DONE),
    ] {
        write(out, name, &filter_only(&format!("udp dst port {port}")));
    }
    // `len` needs a filter program: the object carries bytecode, no atoms.
    let program = filter_only(&format!(
        "udp dst port {} and len > {}",
        exo_abi::netprobe::PORT_PROGRAM,
        exo_abi::netprobe::PROGRAM_MIN_LEN
    ));
    assert!(program.filter_program.is_some() && program.filters.is_empty());
    write(out, "program_ring.xo", &program);
    write(
        out,
        "bystander.xo",
        &filter_only(&format!(
            "ether proto {:#x}",
            exo_abi::netprobe::ETHERTYPE_BYSTANDER
        )),
    );
    let port = |p: u16| format!("udp dst port {p}");
    write(
        out,
        "wasm_echo.xo",
        &with_wasm(
            &port(exo_abi::netprobe::PORT_ECHO_WASM),
            wat(manifest, "echo.wat"),
            Vec::new(),
            1,
        ),
    );
    write(
        out,
        "wasm_spin.xo",
        &with_wasm(
            &port(exo_abi::netprobe::PORT_SPIN),
            wat(manifest, "spin.wat"),
            Vec::new(),
            0,
        ),
    );
    write(
        out,
        "wasm_no_entry.xo",
        &with_wasm(
            "udp dst port 7200",
            wat(manifest, "no_entry.wat"),
            Vec::new(),
            0,
        ),
    );
    // Valid header, garbage body: wasmi must refuse it.
    let mut garbage = b"\0asm\x01\0\0\0".to_vec();
    garbage.extend_from_slice(&[0xFF, 0x13, 0x37, 0x00, 0x42]);
    write(
        out,
        "wasm_garbage.xo",
        &with_wasm("udp dst port 7201", garbage, Vec::new(), 0),
    );
    // A region of two pages (the hostile test gives one).
    write(
        out,
        "big_region.xo",
        &with_wasm(
            "udp dst port 7202",
            wat(manifest, "echo.wat"),
            vec![RegionDecl {
                size: 8192,
                writable: true,
            }],
            1,
        ),
    );
    // r0 = *(u64 *)(r1 + 24): past the 24-byte context.
    let mut bad = filter_only("udp dst port 7203");
    bad.decls = Some(Decls::default());
    bad.handler = Some(HandlerCode::Bpf(vec![
        Insn::new(0x79, 0, 1, 24, 0),
        Insn::new(0x95, 0, 0, 0, 0),
    ]));
    assert_eq!(bad.ty, ProgramType::Packet);
    write(out, "bad_verify.xo", &bad);
    // Overlaps every other binding: all of UDP.
    write(out, "all_udp.xo", &filter_only("udp"));
}
