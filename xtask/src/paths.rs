//! Where things are: the workspace root every task works from.

/// The workspace root (the parent of this crate's directory).
pub(crate) fn root() -> std::path::PathBuf {
    let here = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    here.parent().unwrap_or(here).to_path_buf()
}
