//! Benchmarks for exo (run by `cargo xtask bench`).
