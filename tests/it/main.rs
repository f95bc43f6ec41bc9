//! End-to-end tests: real `hbnode` processes on loopback (one test binary, one module per
//! scenario). Waits poll with a 20 s deadline; no test asserts a tight timing.

mod alertmanager;
mod auth;
mod budget;
mod demo;
mod failover;
mod flood;
mod garbage;
mod isolation;
mod legacy;
mod liveness;
mod metrics;
mod page;
mod peer;
mod probes;
mod prometheus;
mod record;
mod replay;
mod sensors;
mod store;
mod systemd;
mod units;
mod webhook;
mod witness;
mod witness_alerts;
