//! Where things are: the workspace root, cargo's target directory, and the
//! xtask output directory (`<target>/exo`).

use std::path::{Path, PathBuf};

/// The workspace root (parent of the xtask crate).
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask lives in the workspace root")
        .to_path_buf()
}

/// Cargo's target directory (`CARGO_TARGET_DIR` or `<root>/target`).
pub fn target_dir() -> PathBuf {
    match std::env::var_os("CARGO_TARGET_DIR") {
        Some(dir) => {
            let dir = PathBuf::from(dir);
            if dir.is_absolute() {
                dir
            } else {
                root().join(dir)
            }
        }
        None => root().join("target"),
    }
}

/// Directory for images, ISOs and QEMU logs.
pub fn out_dir() -> PathBuf {
    target_dir().join("exo")
}

/// Directory for per-scenario serial logs.
pub fn log_dir() -> PathBuf {
    out_dir().join("logs")
}
