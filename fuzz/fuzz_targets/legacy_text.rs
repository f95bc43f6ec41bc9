//! PyHeartbeat and regex text datagrams (Circus's format and one with an `id` group).
#![no_main]

use std::net::SocketAddr;
use std::sync::LazyLock;

use hb_core::legacy::{CIRCUS_REGEX, TextFormat, parse_pyhb};
use libfuzzer_sys::fuzz_target;

static CIRCUS: LazyLock<TextFormat> = LazyLock::new(|| TextFormat::new(CIRCUS_REGEX).unwrap());
static WITH_ID: LazyLock<TextFormat> =
    LazyLock::new(|| TextFormat::new(r"^(?P<id>[^ ]+) (?P<pid>\d+)$").unwrap());

fuzz_target!(|data: &[u8]| {
    let from: SocketAddr = "127.0.0.1:1".parse().unwrap();
    let _ = parse_pyhb(data, from);
    let _ = CIRCUS.parse(data, from);
    let _ = WITH_ID.parse(data, from);
});
