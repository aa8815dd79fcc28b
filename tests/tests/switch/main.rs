//! Scheduled switches end to end with the clock shifted to just before the
//! instant. The clock offset is per process, so every test here starts with
//! `own_process!()`.

mod aleo;
mod down_pool;
mod extranonce;
mod randomx;
mod sha256;
