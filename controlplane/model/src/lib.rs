//! Pure control-plane logic, with no I/O and no clock of its own: every
//! function that depends on time takes `now` as an argument, so tests can run
//! any instant (DST transitions included) without sleeping.
//!
//! - [`algo`]: the three algorithm families.
//! - [`timeofday`]: `HH:MM` wall-clock times of a site's day.
//! - [`schedule`]: one site's day for one algorithm, validated as a whole.
//! - [`plan`]: from schedules, overrides and breakers to a site's routing plan.
//! - [`breaker`]: the per-(site, pool) circuit breaker state machine.
//! - [`config`]: the crypto-stratum-proxy YAML (and its multi-site form),
//!   validated with every problem named at once.
//! - [`dialects`]: the warning for ALEO schedules that mix pool dialects.
//! - [`hashrate`]: hashrate from accepted share difficulty, and its units.
//! - [`Secret`]: a password or token that never prints (it lives in
//!   `switchyard-proto`, which the data plane shares; re-exported here).

pub mod algo;
pub mod breaker;
pub mod config;
pub mod dialects;
pub use switchyard_proto::hashrate;
pub mod plan;
pub mod problem;
pub mod schedule;
pub mod timeofday;

pub use algo::Algorithm;
pub use problem::Problem;
pub use schedule::{DaySchedule, PoolWeight, Slot};
pub use switchyard_proto::Secret;
pub use timeofday::TimeOfDay;
