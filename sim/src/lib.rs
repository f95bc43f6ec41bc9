//! Discrete-event simulator over hb-core (see issue: simulator).
