//! Routing plans (helper "plan-breaker" is writing this).
