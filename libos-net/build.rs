//! Compiles the handlers this library binds on its owner's behalf
//! (`examples/arp_reply.exo`, the ARP responder) with the DSL compiler
//! into objects in `$OUT_DIR`, which `src/arp.rs` embeds as templates.
//! The kernel decodes, verifies and compiles them again at bind time.

use std::path::Path;

fn main() {
    let dir = std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR");
    let out = std::env::var("OUT_DIR").expect("cargo sets OUT_DIR");
    let src = Path::new(&dir).join("../examples/arp_reply.exo");
    println!("cargo:rerun-if-changed={}", src.display());
    let text = std::fs::read_to_string(&src)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", src.display()));
    let compiled = filter_lang::dsl::compile(&text)
        .unwrap_or_else(|e| panic!("{}: {}", src.display(), e.render(&text)));
    let bytes = filter_lang::object::encode(&compiled.object("arp_reply.exo"))
        .unwrap_or_else(|e| panic!("{}: cannot encode the object: {e}", src.display()));
    let path = Path::new(&out).join("arp_reply.xo");
    std::fs::write(&path, bytes).unwrap_or_else(|e| panic!("cannot write {}: {e}", path.display()));
}
