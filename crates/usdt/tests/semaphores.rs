//! Semaphores of this test executable's probes: one per
//! `provider:name`, shared by its guarded sites (across codegen units),
//! in a writable `.probes` section on a page of its own; guarded
//! arguments are evaluated only while the semaphore is raised, as the
//! kernel raises it for an attached uprobe. The sites are in tests/common.
#![cfg(all(target_arch = "x86_64", target_os = "linux"))]

mod common;

use std::sync::atomic::{AtomicU16, Ordering};

use common::*;
use ustrace_usdt::{enabled, Semaphore};

/// The semaphore symbols of this executable's `.symtab` (the linker makes
/// the hidden symbols local, and keeps them).
fn semaphore_symbols() -> Vec<(u64, String)> {
    readelf(&["-s", "-W"], &exe())
        .lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            // Num: Value Size Type Bind Vis Ndx Name
            let name = *f.get(7)?;
            name.starts_with("__ustrace_usdt_sem.usdt_test.").then(|| {
                assert_eq!(f[2], "2", "{l}");
                assert_eq!(f[3], "OBJECT", "{l}");
                assert_eq!(f[5], "HIDDEN", "{l}");
                (u64::from_str_radix(f[1], 16).unwrap(), name.to_string())
            })
        })
        .collect()
}

#[test]
fn one_semaphore_symbol_per_probe() {
    let mut syms = semaphore_symbols();
    syms.sort_by(|a, b| a.1.cmp(&b.1));
    let names: Vec<&str> = syms.iter().map(|(_, n)| n.as_str()).collect();
    // Each exactly once, although `twice_guarded` is used in two codegen
    // units; `semaphore =` probes have none of their own; `never_guarded`
    // has one because `enabled!` names it, though no note records it.
    assert_eq!(
        names,
        [
            "__ustrace_usdt_sem.usdt_test.guarded",
            "__ustrace_usdt_sem.usdt_test.never_guarded",
            "__ustrace_usdt_sem.usdt_test.twice_guarded",
        ]
    );
    for (addr, name) in &syms {
        let probe = name.rsplit('.').next().unwrap();
        if probe != "never_guarded" {
            assert!(
                locations(probe).iter().all(|l| l.semaphore == *addr),
                "{name} at {addr:#x}"
            );
        }
        let (start, size) = section_range(".probes");
        assert!(
            (start..start + size).contains(addr),
            "{name} not in .probes"
        );
        assert_eq!(addr % 2, 0, "{name} misaligned");
    }
}

#[test]
fn guarded_probe_has_a_semaphore_in_probes_section() {
    let loc = location("guarded");
    assert_ne!(loc.semaphore, 0);
    assert!(loc.semaphore_offset.is_some());
    assert_eq!(signs(loc), [false, true]);
    assert!(
        section_flags(".probes").contains('W'),
        "`.probes` must be writable"
    );
    let (addr, size) = section_range(".probes");
    assert!(
        (addr..addr + size).contains(&loc.semaphore),
        "semaphore {:#x} outside .probes",
        loc.semaphore
    );
}

#[test]
fn guarded_arguments_are_evaluated_only_when_enabled() {
    let _lock = SEMAPHORE_LOCK.lock().unwrap();
    let sem = semaphore_at(location("guarded"));
    assert_eq!(sem.load(Ordering::SeqCst), 0);

    let before = GUARDED_EVALS.load(Ordering::SeqCst);
    fire_guarded();
    assert_eq!(
        GUARDED_EVALS.load(Ordering::SeqCst),
        before,
        "evaluated while disabled"
    );

    // What the kernel does when a uprobe with this ref_ctr_offset is created.
    sem.fetch_add(1, Ordering::SeqCst);
    fire_guarded();
    fire_guarded();
    sem.fetch_sub(1, Ordering::SeqCst);
    assert_eq!(GUARDED_EVALS.load(Ordering::SeqCst), before + 2);

    fire_guarded();
    assert_eq!(GUARDED_EVALS.load(Ordering::SeqCst), before + 2);
}

#[test]
fn shared_semaphore_guards_every_site_and_enabled_reads_it() {
    let _lock = SEMAPHORE_LOCK.lock().unwrap();
    let sem = semaphore_at(&locations("twice_guarded")[0]);
    assert_eq!(sem.load(Ordering::SeqCst), 0);
    assert!(!enabled!(usdt_test, twice_guarded));
    assert!(!elsewhere::twice_guarded_enabled());
    assert!(!enabled!(usdt_test, guarded));
    // A probe with no guarded site has a semaphore that stays 0.
    assert!(!enabled!(usdt_test, never_guarded));

    let before = TWICE_EVALS.load(Ordering::SeqCst);
    fire_twice(5);
    elsewhere::fire_twice_guarded(5);
    assert_eq!(TWICE_EVALS.load(Ordering::SeqCst), before);

    // What the kernel does for each of the three sites it attaches to.
    sem.fetch_add(3, Ordering::SeqCst);
    assert!(enabled!(usdt_test, twice_guarded));
    assert!(elsewhere::twice_guarded_enabled());
    assert!(!enabled!(usdt_test, guarded), "another probe's semaphore");
    fire_twice(5);
    elsewhere::fire_twice_guarded(5);
    sem.fetch_sub(3, Ordering::SeqCst);
    assert_eq!(
        TWICE_EVALS.load(Ordering::SeqCst),
        before + 3,
        "all three sites fire"
    );
    assert!(!enabled!(usdt_test, twice_guarded));
    fire_twice(5);
    assert_eq!(TWICE_EVALS.load(Ordering::SeqCst), before + 3);
}

#[test]
fn semaphores_are_on_a_page_of_their_own() {
    assert_semaphores_mapped_once(&exe(), probes());
    let (addr, _) = section_range(".probes");
    assert_eq!(addr % 4096, 0, ".probes must start on a page");
}

#[test]
fn named_semaphore_is_shared_and_recorded() {
    let _lock = SEMAPHORE_LOCK.lock().unwrap();
    let a = location("named");
    let b = location("named_other");
    assert_eq!(a.semaphore, b.semaphore);
    assert_eq!(a.semaphore_offset, b.semaphore_offset);
    // The note's semaphore is the declared static.
    assert_eq!(semaphore_at(a).as_ptr(), NAMED.as_ptr());

    assert!(!NAMED.is_enabled());
    let before = NAMED_EVALS.load(Ordering::SeqCst);
    fire_named();
    assert_eq!(NAMED_EVALS.load(Ordering::SeqCst), before);

    // SAFETY: `as_ptr` points at the live static, written only by the
    // tests holding SEMAPHORE_LOCK.
    let counter = unsafe { AtomicU16::from_ptr(NAMED.as_ptr()) };
    counter.fetch_add(2, Ordering::SeqCst);
    assert!(NAMED.is_enabled());
    assert_eq!(NAMED.count(), 2);
    fire_named();
    counter.fetch_sub(2, Ordering::SeqCst);
    assert_eq!(
        NAMED_EVALS.load(Ordering::SeqCst),
        before + 2,
        "both sites fire"
    );
    assert!(!NAMED.is_enabled());
}

#[test]
fn semaphore_api() {
    let s = Semaphore::new();
    assert!(!s.is_enabled());
    assert_eq!(s.count(), 0);
    assert_eq!(format!("{s:?}"), "Semaphore { count: 0 }");
    assert_eq!(Semaphore::default().count(), 0);
    assert_eq!(std::mem::size_of::<Semaphore>(), 2);
    assert_eq!(std::mem::align_of::<Semaphore>(), 2);
}
