//! Part of the kernel's build script: compiles the handler programs the
//! kernel installs itself (`examples/*.exo`, DSL source) into
//! `exo-filter compile` objects in `$OUT_DIR`, which `src/net/programs.rs`
//! embeds. Compiling at build time keeps the DSL compiler (deeply
//! recursive, large stack frames) out of the kernel; the kernel still
//! decodes, verifies and JIT-compiles the objects like any library OS's.

use std::path::Path;

/// `(source in examples/, object name in OUT_DIR)`.
const PROGRAMS: [(&str, &str); 1] = [("udp_echo.exo", "udp_echo.xo")];

pub fn compile_examples(manifest_dir: &Path, out_dir: &Path) {
    for (src, obj) in PROGRAMS {
        let path = manifest_dir.join("..").join("examples").join(src);
        println!("cargo:rerun-if-changed={}", path.display());
        let text = std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
        let compiled =
            filter_lang::dsl::compile(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let bytes = filter_lang::object::encode(&compiled.object(src))
            .unwrap_or_else(|e| panic!("{}: cannot encode the object: {e}", path.display()));
        let out = out_dir.join(obj);
        std::fs::write(&out, bytes)
            .unwrap_or_else(|e| panic!("cannot write {}: {e}", out.display()));
    }
}
