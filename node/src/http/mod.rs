//! HTTP: the actix-web server and its API, the Prometheus metrics, the status page, and the
//! small client `hbnode status`, `check`, `history` and `readings` use.

pub(crate) mod client;
pub(crate) mod fleet;
pub(crate) mod metrics;
pub(crate) mod page;
pub(crate) mod server;
pub(crate) mod views;
