//! Small process helpers: the hostname and seeds, logging setup,
//! signals and systemd notification.

pub(crate) mod host;
pub(crate) mod logging;
pub(crate) mod notify;
pub(crate) mod signals;
