//! RandomX (xmrig) miners through the data plane.

mod bad_input;
mod many_miners;
mod passthrough;
mod rejects;
mod relay;
mod upstream;
