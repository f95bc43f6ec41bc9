//! Decoders for the protocols hbnode replaces, so their clients keep working unchanged.
//!
//! Each turns untrusted bytes into a [`LegacyBeat`] (who beat, and what it said) or a typed
//! [`LegacyError`]; none allocates without bound, none panics. The listeners in hb-node feed
//! the result to the [`crate::Monitor`]. Every decoder here is a fuzz target.
//!
//! | listener | format | node id |
//! |---|---|---|
//! | `pyhb+udp` | a datagram that is exactly `PyHB` | the source IP as text |
//! | `text+udp` | one line matching a regex (Circus: `pid;timestamp`) | group `id`, else `pid`, else the source IP |
//! | `json+tcp` | JSON objects back to back or one per line | field `id`, else `<ip>/<pid>` |

mod beat;
mod json;
mod pyhb;
mod text;

pub use beat::{LegacyBeat, LegacyError};
pub use json::{DEFAULT_MAX_BUFFER, JsonStream};
pub use pyhb::parse_pyhb;
pub use text::{CIRCUS_REGEX, TextFormat};
