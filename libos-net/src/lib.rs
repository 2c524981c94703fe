//! Networking for exo library OSes.
#![no_std]
