//! The subcommands, one file each: each turns validated arguments into settings and runs them.

pub(crate) mod beat;
pub(crate) mod check;
pub(crate) mod demo;
pub(crate) mod docgen;
pub(crate) mod history;
pub(crate) mod keys;
pub(crate) mod monitor;
pub(crate) mod peer;
pub(crate) mod peers;
pub(crate) mod plan;
pub(crate) mod status;
pub(crate) mod table;
