//! Scheduled switches end to end with the clock shifted to just before the
//! instant: the switch with grace for every algorithm, a switch across pools
//! with less extranonce space, a switch to a pool that is down. The clock
//! offset is per process, so every test here runs in one of its own
//! (`own_process!`).

mod down_pool;
mod extranonce;
mod scheduled;
mod weighted;
