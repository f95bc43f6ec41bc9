//! Small process helpers: the hostname and seeds, logging setup, rate-limited log lines,
//! signals and systemd notification.

pub(crate) mod host;
pub(crate) mod log_limit;
pub(crate) mod logging;
pub(crate) mod notify;
pub(crate) mod signals;
