//! Reads the USDT notes of binaries nobody here wrote and compares every
//! note with what binutils' `readelf -n` prints.

mod common;

use std::path::Path;

use common::{readelf_loads, readelf_notes, readelf_symbol, require};
use ustrace_probes::{read_usdt_probes, ArgLocation, NopKind};

/// Checks every note of `path` against readelf; returns the number of
/// distinct probes and of notes (sites).
fn compare_with_readelf(path: &Path) -> (usize, usize) {
    let file = read_usdt_probes(path).unwrap_or_else(|e| panic!("{e}"));
    let notes = readelf_notes(path);
    let loads = readelf_loads(path);
    let total: usize = file.probes.iter().map(|p| p.locations.len()).sum();
    assert_eq!(total, notes.len(), "{}: number of notes", path.display());
    let mut seen: std::collections::HashMap<(String, String), usize> = Default::default();
    let (mut args, mut unreadable, mut statics, mut not_nop1) = (0, 0, 0, 0);
    for n in &notes {
        let k = seen
            .entry((n.provider.clone(), n.name.clone()))
            .or_insert(0);
        let probe = file
            .probe(&n.provider, &n.name)
            .unwrap_or_else(|| panic!("probe {}:{} missing", n.provider, n.name));
        let loc = &probe.locations[*k];
        *k += 1;
        assert_eq!(loc.pc, n.location, "{}:{} pc", n.provider, n.name);
        assert_eq!(loc.base, n.base);
        assert_eq!(loc.semaphore, n.semaphore);
        assert_eq!(loc.args_text, n.arguments);
        let off = |addr: u64| {
            loads
                .iter()
                .find(|(_, v, m)| addr >= *v && addr < v + m)
                .map(|(o, v, _)| addr - v + o)
        };
        assert_eq!(Some(loc.file_offset), off(n.location));
        if n.semaphore != 0 {
            assert_eq!(loc.semaphore_offset, off(n.semaphore));
        } else {
            assert_eq!(loc.semaphore_offset, None);
        }
        assert_eq!(loc.args.len(), n.arguments.split_whitespace().count());
        for (a, text) in loc.args.iter().zip(n.arguments.split_whitespace()) {
            args += 1;
            match a {
                Ok(spec) => {
                    if matches!(spec.location, ArgLocation::Static { .. }) {
                        statics += 1;
                    }
                }
                Err(e) => {
                    unreadable += 1;
                    eprintln!("unreadable argument `{text}`: {e}");
                }
            }
        }
        if loc.nop != NopKind::Nop1 {
            not_nop1 += 1;
        }
    }
    let names: std::collections::HashSet<_> =
        notes.iter().map(|n| (&n.provider, &n.name)).collect();
    assert_eq!(file.probes.len(), names.len());
    println!(
        "{}: {} probes, {} notes, {} arguments ({} static), unreadable: {unreadable}, sites not a 1-byte nop: {not_nop1}",
        path.display(),
        file.probes.len(),
        notes.len(),
        args,
        statics
    );
    assert_eq!(unreadable, 0, "{}: unreadable arguments", path.display());
    assert_eq!(
        not_nop1,
        0,
        "{}: probe sites that are not a 1-byte nop",
        path.display()
    );
    (file.probes.len(), notes.len())
}

#[test]
fn python311() {
    let p = Path::new("/usr/bin/python3.11");
    if require(p, "python3.11-minimal") {
        assert_eq!(compare_with_readelf(p), (8, 8));
        let f = read_usdt_probes(p).unwrap();
        assert!(f
            .probes
            .iter()
            .all(|p| p.locations.iter().all(|l| l.semaphore_offset.is_some())));
    }
}

#[test]
fn libjvm17() {
    let p = Path::new("/usr/lib/jvm/java-17-openjdk-amd64/lib/server/libjvm.so");
    if require(p, "openjdk-17-jre-headless") {
        // 531 notes; some names occur at several sites.
        assert_eq!(compare_with_readelf(p), (517, 531));
        let f = read_usdt_probes(p).unwrap();
        let max = f.probes.iter().map(|p| p.locations.len()).max().unwrap();
        println!("libjvm: most locations of one probe: {max}");
        assert!(max > 1);
    }
}

#[test]
fn libstdcxx() {
    let p = Path::new("/usr/lib/x86_64-linux-gnu/libstdc++.so.6");
    if require(p, "libstdc++6") {
        assert_eq!(compare_with_readelf(p), (3, 3));
        let f = read_usdt_probes(p).unwrap();
        for name in ["throw", "rethrow", "catch"] {
            assert!(f.probe("libstdcxx", name).is_some(), "{name}");
        }
    }
}

#[test]
fn postgres15() {
    let p = Path::new("/usr/lib/postgresql/15/bin/postgres");
    if require(p, "postgresql-15") {
        assert_eq!(compare_with_readelf(p), (57, 71));
        // `-4@NBuffers(%rip)` and `-4@40+CheckpointStats(%rip)` resolve through the symbol table.
        let f = read_usdt_probes(p).unwrap();
        let done = &f.probe("postgresql", "checkpoint__done").unwrap().locations[0];
        let nbuffers = readelf_symbol(p, "NBuffers").unwrap();
        let stats = readelf_symbol(p, "CheckpointStats").unwrap();
        assert!(done.args_text.contains("NBuffers(%rip)"));
        let statics: Vec<u64> = done
            .args
            .iter()
            .filter_map(|a| match a.as_ref().unwrap().location {
                ArgLocation::Static { vaddr } => Some(vaddr),
                _ => None,
            })
            .collect();
        assert!(statics.contains(&nbuffers), "{statics:x?}");
        assert!(statics.contains(&(stats + 40)), "{statics:x?}");
    }
}
