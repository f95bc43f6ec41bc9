//! hb-core integration tests, one binary: property tests and an in-process two-node network.
//! (Tests may read the environment and run processes; the sans-IO rule is for the library.)
#![allow(clippy::disallowed_methods, clippy::disallowed_types)]

mod model;
mod pair;
mod sans_io;
mod wire_props;
mod witness_props;
