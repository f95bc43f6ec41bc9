//! `cargo xtask bench [core|ingest|sim|store|page]…` runs benchmarks and writes BENCHMARKS.md.
//!
//! Every row compares a figure with a baseline measured in the same run on the same machine, so
//! the ratio means something even on a noisy shared host; absolute figures are for context.

mod ingest;
mod micro;
mod page;
pub(crate) mod stop;
mod store;
mod table;

use anyhow::bail;

use crate::paths::root;
use table::{merge, render};

pub(crate) fn main(args: &[String]) -> anyhow::Result<()> {
    let all = ["core", "sim", "ingest", "store", "page"];
    // Names first, then flags for the ingest benchmark (`bench ingest --nodes 10000`).
    let split = args
        .iter()
        .position(|a| a.starts_with("--"))
        .unwrap_or(args.len());
    let (names, flags) = args.split_at(split);
    let which: Vec<&str> = if names.is_empty() {
        all.to_vec()
    } else {
        names.iter().map(String::as_str).collect()
    };
    let mut rows = Vec::new();
    for w in &which {
        match *w {
            "core" => rows.extend(micro::core_rows()?),
            "sim" => rows.extend(micro::sim_rows()?),
            "ingest" => rows.extend(ingest::rows(flags)?),
            "store" => rows.extend(store::rows(flags)?),
            "page" => rows.extend(page::rows(flags)?),
            other => bail!("unknown benchmark {other:?}; known: {}", all.join(", ")),
        }
    }
    let md = render(&rows);
    let path = root().join("BENCHMARKS.md");
    let merged = merge(&path, &which, &md)?;
    std::fs::write(&path, merged)?;
    print!("{md}");
    println!("written to {}", path.display());
    Ok(())
}
