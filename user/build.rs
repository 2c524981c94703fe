//! Links every ring-3 binary as a static, non-PIE executable with `user.ld`
//! (fixed low user address). See ../shared/notes/bare-metal-on-stable-rust.md.
//! Also builds the network objects `netprobe` binds (`build_objects.rs`).

#[path = "build_objects.rs"]
mod build_objects;

fn main() {
    let dir = std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR");
    let script = std::path::Path::new(&dir).join("user.ld");
    println!("cargo:rerun-if-changed={}", script.display());
    for arg in [
        format!("-T{}", script.display()),
        "-nostartfiles".into(),
        "-nostdlib".into(),
        "-static".into(),
        "-no-pie".into(),
        "-Wl,--gc-sections".into(),
        "-Wl,-z,max-page-size=0x1000".into(),
        "-Wl,--build-id=none".into(),
        "-Wl,-z,noexecstack".into(),
    ] {
        println!("cargo:rustc-link-arg-bins={arg}");
    }
    let out = std::env::var("OUT_DIR").expect("cargo sets OUT_DIR");
    build_objects::build(std::path::Path::new(&dir), std::path::Path::new(&out));
}
