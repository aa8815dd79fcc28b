//! The miner session's own answers: configure, subscribe (bounded wait for a
//! ready pool), authorize.

use std::sync::Arc;

use serde_json::{Value, json};
use switchyard_stratum::v1::{Configure, SubscribeResult};
use switchyard_stratum::{Response, codes};

use super::*;

impl Session {
    pub(super) fn on_configure(&mut self, id: Value, c: &Configure) {
        let mut result = serde_json::Map::new();
        if let Some(mask) = c.version_rolling_mask() {
            let granted = mask & self.ctx.version_mask;
            let ok = granted != 0 && granted.count_ones() >= c.version_rolling_min_bit_count();
            self.miner_mask = if ok { granted } else { 0 };
            self.told_mask = self.miner_mask;
            result.insert("version-rolling".into(), json!(ok));
            if ok {
                result.insert(
                    "version-rolling.mask".into(),
                    json!(format!("{granted:08x}")),
                );
            }
        }
        if c.has("minimum-difficulty") {
            if let Some(d) = c.minimum_difficulty() {
                self.set_floor(d);
            }
            result.insert(
                "minimum-difficulty".into(),
                json!(c.minimum_difficulty().is_some()),
            );
        }
        if c.has("subscribe-extranonce") {
            self.extranonce_subscribed = true;
            result.insert("subscribe-extranonce".into(), json!(true));
        }
        if c.has("info") {
            result.insert("info".into(), json!(true));
        }
        self.reply(Response::ok(id, Value::Object(result)));
    }

    pub(super) fn set_floor(&mut self, d: f64) {
        self.floor = Some(d);
        if let Some(c) = &mut self.difficulty {
            c.set_floor_hint(d);
        }
    }

    /// The extranonce2 size the current route lets us promise, if a pool is ready.
    pub(super) fn ready_pool(&self) -> Option<(Arc<PoolRuntime>, usize)> {
        let route = self.ctx.router.route.borrow().clone();
        let pool = route.pool.clone()?;
        let n = pool.ready_upstream()?.state.borrow().extranonce2_size;
        Some((pool, n))
    }

    pub(super) async fn on_subscribe(&mut self, id: Value) {
        if self.subscribed {
            let sub = self.subscribe_result();
            self.reply(Response::ok(id, sub.to_result()));
            return;
        }
        if self.ready_pool().is_none() {
            // Answer once a pool is ready, within a bounded wait.
            self.subscribe.start(id, self.ctx.timing.subscribe_wait);
            return;
        }
        self.complete_subscribe(id);
        self.follow_route().await;
    }

    pub(super) fn complete_subscribe(&mut self, id: Value) {
        let Some((_, n)) = self.ready_pool() else {
            return;
        };
        let k = self.ctx.config.aggregation.extranonce_prefix_size;
        if n < k + 1 {
            self.reply(Response::error(
                id,
                codes::OTHER,
                "Pool extranonce space too small for this proxy",
            ));
            self.closing = true;
            return;
        }
        let prefix = self.ctx.prefixes.lock().ok().and_then(|mut a| a.allocate());
        let Some(prefix) = prefix else {
            self.reply(Response::error(
                id,
                codes::OTHER,
                "Proxy is full: no extranonce prefix left",
            ));
            self.closing = true;
            return;
        };
        self.m = self.miner_extranonce2_size(n, k);
        self.prefix = Some(prefix);
        self.subscribed = true;
        let sub = self.subscribe_result();
        self.reply(Response::ok(id, sub.to_result()));
    }

    pub(super) fn subscribe_result(&self) -> SubscribeResult {
        let prefix = self.prefix.clone().unwrap_or_default();
        SubscribeResult {
            subscription_id: Some(hex::encode(&prefix)),
            extranonce1: prefix,
            extranonce2_size: self.m,
        }
    }

    pub(super) async fn on_authorize(&mut self, id: Value, user: String) {
        if let Err(why) = crate::miner::check_username(&user) {
            self.io.protocol_error();
            self.reply(Response::error(id, codes::UNAUTHORIZED, &why));
            return;
        }
        let first = self.authorized.is_none();
        self.miner
            .set_worker(&super::bounded(&user), crate::clock::now_ms());
        self.authorized = Some(user);
        self.reply(Response::ok(id, json!(true)));
        if first && self.subscribed {
            self.follow_route().await;
        }
    }
}
