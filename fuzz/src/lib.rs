//! Bodies of the fuzz targets, kept out of the `fuzz_target!` files so the workspace's
//! corpus replay tests run exactly the same code (they include these files by path).

pub mod keys;
pub mod sftp;
pub mod wire;
