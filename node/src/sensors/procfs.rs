//! The built-in sensors, read from /proc: `load`, `processes` (/proc/loadavg) and `memory`
//! (/proc/meminfo). A missing or unreadable file gives status 3 (unknown) readings and an
//! error, never a panic.

use std::path::Path;

use hb_core::probe::{ProbeMeta, Unit};

use super::Reading;

/// `load1 load5 load15 running/total last_pid` from /proc/loadavg.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct LoadAvg {
    pub(crate) load: [f64; 3],
    pub(crate) running: u64,
    pub(crate) total: u64,
}

/// Parses /proc/loadavg.
pub(crate) fn parse_loadavg(text: &str) -> Option<LoadAvg> {
    let mut f = text.split_whitespace();
    let mut load = [0.0; 3];
    for l in &mut load {
        *l = f.next()?.parse().ok().filter(|v: &f64| v.is_finite())?;
    }
    let (running, total) = f.next()?.split_once('/')?;
    Some(LoadAvg {
        load,
        running: running.parse().ok()?,
        total: total.parse().ok()?,
    })
}

/// What `memory` reports, in bytes.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct MemInfo {
    pub(crate) total: u64,
    /// MemAvailable (what can be had without swapping); older kernels: free + buffers + cached.
    pub(crate) available: u64,
    pub(crate) swap_total: u64,
    pub(crate) swap_free: u64,
}

/// Parses /proc/meminfo (`Key:   123 kB` lines; values in KiB).
pub(crate) fn parse_meminfo(text: &str) -> Option<MemInfo> {
    let get = |key: &str| -> Option<u64> {
        text.lines().find_map(|l| {
            let (k, v) = l.split_once(':')?;
            if k.trim() != key {
                return None;
            }
            let mut w = v.split_whitespace();
            let n: u64 = w.next()?.parse().ok()?;
            let mult = match w.next() {
                Some("kB") => 1024,
                None => 1,
                Some(_) => return None,
            };
            n.checked_mul(mult)
        })
    };
    let total = get("MemTotal")?;
    let available = match get("MemAvailable") {
        Some(a) => a,
        None => get("MemFree")?
            .saturating_add(get("Buffers").unwrap_or(0))
            .saturating_add(get("Cached").unwrap_or(0)),
    };
    Some(MemInfo {
        total,
        available: available.min(total),
        swap_total: get("SwapTotal").unwrap_or(0),
        swap_free: get("SwapFree").unwrap_or(0),
    })
}

fn pct(part: u64, whole: u64) -> f64 {
    if whole == 0 {
        0.0
    } else {
        part as f64 * 100.0 / whole as f64
    }
}

/// Reads a /proc file, logging why not.
fn read(path: &Path) -> Option<String> {
    match std::fs::read_to_string(path) {
        Ok(t) => Some(t),
        Err(e) => {
            tracing::error!(path = %path.display(), error = %e, "cannot read sensor source");
            None
        }
    }
}

fn unknown(probes: &[&str]) -> Vec<Reading> {
    probes.iter().map(|p| Reading::new(p, 0.0, 3)).collect()
}

const LOAD: [&str; 3] = ["load1", "load5", "load15"];
const PROCS: [&str; 2] = ["procs_running", "procs_total"];
const MEMORY: [&str; 4] = [
    "mem_used_bytes",
    "mem_free_bytes",
    "mem_used_pct",
    "swap_used_pct",
];

/// `load` from `<proc>/loadavg`.
pub(crate) fn load(proc: &Path) -> Vec<Reading> {
    let path = proc.join("loadavg");
    match read(&path).as_deref().map(parse_loadavg) {
        Some(Some(l)) => LOAD
            .iter()
            .zip(l.load)
            .map(|(p, v)| Reading::new(p, v, 0))
            .collect(),
        Some(None) => {
            tracing::error!(path = %path.display(), "unexpected loadavg format");
            unknown(&LOAD)
        }
        None => unknown(&LOAD),
    }
}

/// `processes` from `<proc>/loadavg`.
pub(crate) fn processes(proc: &Path) -> Vec<Reading> {
    let path = proc.join("loadavg");
    match read(&path).as_deref().map(parse_loadavg) {
        Some(Some(l)) => vec![
            Reading::new(PROCS[0], l.running as f64, 0),
            Reading::new(PROCS[1], l.total as f64, 0),
        ],
        Some(None) => {
            tracing::error!(path = %path.display(), "unexpected loadavg format");
            unknown(&PROCS)
        }
        None => unknown(&PROCS),
    }
}

/// `memory` from `<proc>/meminfo`.
pub(crate) fn memory(proc: &Path) -> Vec<Reading> {
    let path = proc.join("meminfo");
    match read(&path).as_deref().map(parse_meminfo) {
        Some(Some(m)) => {
            let used = m.total - m.available;
            let swap_used = m.swap_total.saturating_sub(m.swap_free);
            // Units and bounds, as a plugin's perfdata would give them: bytes of the total,
            // percentages of 100 (shown by status and check, in base units in /metrics).
            let meta = |unit: &str, max: f64| ProbeMeta {
                unit: Unit::new(unit).expect("a valid unit"),
                min: Some(0.0),
                max: Some(max),
                ..ProbeMeta::default()
            };
            let (bytes, percent) = (meta("B", m.total as f64), meta("%", 100.0));
            let with = |probe: &str, value: f64, meta: ProbeMeta| Reading {
                meta,
                ..Reading::new(probe, value, 0)
            };
            vec![
                with(MEMORY[0], used as f64, bytes),
                with(MEMORY[1], m.available as f64, bytes),
                with(MEMORY[2], pct(used, m.total), percent),
                with(MEMORY[3], pct(swap_used, m.swap_total), percent),
            ]
        }
        Some(None) => {
            tracing::error!(path = %path.display(), "unexpected meminfo format");
            unknown(&MEMORY)
        }
        None => unknown(&MEMORY),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loadavg_parses_and_rejects_odd_text() {
        assert_eq!(
            parse_loadavg("0.52 0.58 0.59 3/467 12345\n"),
            Some(LoadAvg {
                load: [0.52, 0.58, 0.59],
                running: 3,
                total: 467
            })
        );
        for bad in [
            "",
            "0.5 0.5",
            "a b c 1/2 3",
            "0.1 0.2 0.3 12 4",
            "0.1 0.2 0.3 x/2 1",
            "NaN 0 0 1/1 1",
        ] {
            assert_eq!(parse_loadavg(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn meminfo_parses_with_and_without_memavailable() {
        let modern = "MemTotal:       16000000 kB\nMemFree:  1000000 kB\nMemAvailable:   4000000 kB\n\
                      Buffers: 1 kB\nSwapTotal: 2000000 kB\nSwapFree: 1500000 kB\n";
        assert_eq!(
            parse_meminfo(modern),
            Some(MemInfo {
                total: 16_000_000 * 1024,
                available: 4_000_000 * 1024,
                swap_total: 2_000_000 * 1024,
                swap_free: 1_500_000 * 1024,
            })
        );
        let old = "MemTotal: 1000 kB\nMemFree: 100 kB\nBuffers: 50 kB\nCached: 250 kB\n";
        let m = parse_meminfo(old).unwrap();
        assert_eq!(m.available, 400 * 1024);
        assert_eq!((m.swap_total, m.swap_free), (0, 0));
        assert_eq!(parse_meminfo("MemFree: 1 kB\n"), None);
        assert_eq!(parse_meminfo("MemTotal: lots\n"), None);
        assert_eq!(parse_meminfo("MemTotal: 1 MB\nMemAvailable: 1 kB\n"), None);
    }

    #[test]
    fn missing_or_odd_files_give_unknown_readings() {
        let dir = std::env::temp_dir().join(format!("hbnode-procfs-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let r = memory(&dir.join("absent"));
        assert_eq!(r.len(), 4);
        assert!(r.iter().all(|r| r.status == 3));
        std::fs::write(dir.join("loadavg"), "garbage\n").unwrap();
        assert!(load(&dir).iter().all(|r| r.status == 3));
        assert!(processes(&dir).iter().all(|r| r.status == 3));
        std::fs::write(
            dir.join("meminfo"),
            "MemTotal: 1000 kB\nMemAvailable: 250 kB\nSwapTotal: 0 kB\n",
        )
        .unwrap();
        let m = memory(&dir);
        let plain: Vec<_> = m
            .iter()
            .map(|r| Reading::new(&r.probe, r.value, r.status))
            .collect();
        assert_eq!(plain[0], Reading::new("mem_used_bytes", 750.0 * 1024.0, 0));
        assert_eq!(plain[2], Reading::new("mem_used_pct", 75.0, 0));
        assert_eq!(plain[3], Reading::new("swap_used_pct", 0.0, 0));
        // Their units and bounds, as a plugin would give them.
        let meta: Vec<_> = m
            .iter()
            .map(|r| (r.meta.unit.as_str().to_owned(), r.meta.min, r.meta.max))
            .collect();
        assert_eq!(
            meta,
            [
                ("B".to_owned(), Some(0.0), Some(1000.0 * 1024.0)),
                ("B".to_owned(), Some(0.0), Some(1000.0 * 1024.0)),
                ("%".to_owned(), Some(0.0), Some(100.0)),
                ("%".to_owned(), Some(0.0), Some(100.0)),
            ]
        );
        assert!(
            m.iter()
                .all(|r| r.meta.warning.is_none() && r.meta.critical.is_none())
        );
    }

    #[test]
    #[cfg(target_os = "linux")]
    fn this_hosts_proc_reads() {
        let proc = Path::new("/proc");
        assert!(proc.join("loadavg").exists(), "Linux without /proc mounted");
        assert!(load(proc).iter().all(|r| r.status == 0));
        assert!(memory(proc).iter().all(|r| r.status == 0));
        let p = processes(proc);
        assert!(p[1].value >= 1.0 && p[0].value <= p[1].value);
    }
}
