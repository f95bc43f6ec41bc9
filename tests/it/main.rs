//! End-to-end tests: real `hbnode` processes on loopback (one test binary, one module per
//! scenario). Waits poll with a 20 s deadline; no test asserts a tight timing.

mod alertmanager;
mod failover;
mod garbage;
mod legacy;
mod liveness;
mod record;
mod webhook;
