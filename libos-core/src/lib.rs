//! ExOS-style library operating system on top of the exo kernel.
#![no_std]
