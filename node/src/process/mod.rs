//! Small process helpers: logging setup and systemd notification.

pub(crate) mod logging;
pub(crate) mod notify;
