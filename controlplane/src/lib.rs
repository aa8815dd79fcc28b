//! The Switchyard control plane: the single writer of the SQLite database,
//! the planner that turns schedules, overrides and breakers into versioned
//! routing plans, the circuit breakers fed by the data planes' health
//! reports, the admin and data-plane gRPC services, and the quarter-hour
//! statistics report.

pub mod store;
