//! Plumbing shared by the RandomX and ALEO scripted pools and miners (the
//! SHA-256 ones predate it): a generic line server whose protocol logic lives
//! in a state behind a watch channel, and a line client with answer and
//! notification queues. Protocol knowledge lives in `rx_*` and `aleo_*`.

pub(crate) mod client;
pub(crate) mod server;
