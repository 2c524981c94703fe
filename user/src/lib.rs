//! Ring-3 programs for exo (placeholder until the foundation lands).
#![no_std]
