//! The sans-IO SSH-2 protocol core.
#![forbid(unsafe_code)]

pub mod crypto;
