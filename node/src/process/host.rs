//! Who and where this process is: the hostname (the default node and monitor id) and
//! per-process random seeds.

/// The hostname, or `hbnode` if it is not valid UTF-8.
pub(crate) fn hostname() -> String {
    gethostname::gethostname()
        .into_string()
        .ok()
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "hbnode".into())
}

/// A random 64-bit value from the standard library's per-process hash keys.
pub(crate) fn random_u64() -> u64 {
    use std::hash::{BuildHasher as _, RandomState};
    RandomState::new().hash_one(std::process::id())
}
