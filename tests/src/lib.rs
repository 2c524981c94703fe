//! Shared helpers for exo integration tests.
