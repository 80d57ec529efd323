//! Probes of the C programs in `tests/c/`, built with gcc on demand: every
//! probe, location count and argument (size, sign, location) checked.

mod common;

use std::collections::BTreeSet;
use std::process::{Command, Stdio};

use common::{built, readelf_notes, readelf_symbol};
use ustrace_probes::notes::attach_offset_with;
use ustrace_probes::spec::lookup_register;
use ustrace_probes::{
    attach_offset, describe_probe, find_usdt_probes, list_lines, mapped_objects, read_usdt_probes,
    ArgLocation, ArgSpec, NopKind, Register, UsdtPattern,
};

fn imm(size: u8, signed: bool, v: i64) -> ArgSpec {
    ArgSpec {
        size,
        signed,
        location: ArgLocation::Immediate(v),
    }
}

fn reg(size: u8, signed: bool, name: &str) -> ArgSpec {
    ArgSpec {
        size,
        signed,
        location: ArgLocation::Register(lookup_register(name).unwrap()),
    }
}

fn mem(
    size: u8,
    signed: bool,
    base: Register,
    index: Option<(Register, u8)>,
    offset: i64,
) -> ArgSpec {
    ArgSpec {
        size,
        signed,
        location: ArgLocation::Memory {
            base,
            index,
            offset,
        },
    }
}

fn args_of(loc: &ustrace_probes::UsdtLocation) -> Vec<ArgSpec> {
    loc.args
        .iter()
        .map(|a| a.clone().unwrap_or_else(|e| panic!("{e}")))
        .collect()
}

#[test]
fn probes_many_constants_0_to_12_args() {
    let b = built();
    let f = read_usdt_probes(&b.probes_many).unwrap();
    let expected = [
        imm(1, true, -1),
        imm(1, false, 2),
        imm(2, true, -300),
        imm(2, false, 400),
        imm(4, true, -500000),
        imm(4, false, 600000),
        imm(8, true, -70000000000),
        imm(8, false, 80000000000),
        imm(1, true, -9),
        imm(1, false, 10),
        imm(2, true, -1100),
        imm(2, false, 1200),
    ];
    for n in 0..=12 {
        let p = f.probe("many", &format!("p{n}")).unwrap();
        assert_eq!(p.locations.len(), 1);
        let loc = &p.locations[0];
        assert_eq!(args_of(loc), expected[..n].to_vec(), "many:p{n}");
        assert_eq!(loc.semaphore, 0);
        assert_eq!(loc.semaphore_offset, None);
        assert_eq!(loc.nop, NopKind::Nop1);
        assert_eq!(attach_offset(loc), loc.file_offset);
    }
}

#[test]
fn probes_many_other_probes() {
    let b = built();
    let f = read_usdt_probes(&b.probes_many).unwrap();
    let names: BTreeSet<String> = f
        .probes
        .iter()
        .map(|p| format!("{}:{}", p.provider, p.name))
        .collect();
    let mut want: BTreeSet<String> = (0..=12).map(|n| format!("many:p{n}")).collect();
    for n in ["many:loop", "many:inlined", "other:ping", "sem:guarded"] {
        want.insert(n.to_string());
    }
    assert_eq!(names, want);
    assert_eq!(
        f.probes.iter().map(|p| p.locations.len()).sum::<usize>(),
        readelf_notes(&b.probes_many).len()
    );

    // many:loop (s32 i, u64 &many_counter, u64 string): values computed at run time.
    let l = &f.probe("many", "loop").unwrap().locations[0];
    let a = args_of(l);
    assert_eq!(
        a.iter().map(|s| (s.size, s.signed)).collect::<Vec<_>>(),
        vec![(4, true), (8, false), (8, false)]
    );
    assert!(a
        .iter()
        .all(|s| !matches!(s.location, ArgLocation::Immediate(_))));

    // many:inlined at three sites, the site number a constant, i in a register.
    let p = f.probe("many", "inlined").unwrap();
    assert_eq!(p.locations.len(), 3);
    let mut sites = BTreeSet::new();
    let mut pcs = BTreeSet::new();
    for loc in &p.locations {
        let a = args_of(loc);
        assert_eq!(a.len(), 2);
        match a[0] {
            ArgSpec {
                size: 4,
                signed: true,
                location: ArgLocation::Immediate(v),
            } => {
                sites.insert(v);
            }
            ref other => panic!("inlined arg0 {other:?}"),
        }
        assert_eq!((a[1].size, a[1].signed), (8, true));
        pcs.insert(loc.pc);
    }
    assert_eq!(sites, BTreeSet::from([1, 2, 3]));
    assert_eq!(pcs.len(), 3);

    let ping = &f.probe("other", "ping").unwrap().locations[0];
    let a = args_of(ping);
    assert_eq!((a.len(), a[0].size, a[0].signed), (1, 4, false));

    // The semaphore is the variable's address, and its file offset lies in the file.
    let g = &f.probe("sem", "guarded").unwrap().locations[0];
    let sem_addr = readelf_symbol(&b.probes_many, "sem_guarded_semaphore").unwrap();
    assert_eq!(g.semaphore, sem_addr);
    let sem_off = g.semaphore_offset.unwrap();
    let len = std::fs::metadata(&b.probes_many).unwrap().len();
    assert!(sem_off < len);
    let a = args_of(g);
    assert_eq!(
        a.iter().map(|s| (s.size, s.signed)).collect::<Vec<_>>(),
        vec![(4, true), (8, true)]
    );
}

#[test]
fn shared_library_probes() {
    let b = built();
    let f = read_usdt_probes(&b.libprobes).unwrap();
    assert_eq!(f.probes.len(), 2);
    let hello = &f.probe("lib", "hello").unwrap().locations[0];
    let a = args_of(hello);
    assert_eq!(
        a.iter().map(|s| (s.size, s.signed)).collect::<Vec<_>>(),
        vec![(4, true), (8, false)]
    );
    let twice = f.probe("lib", "twice").unwrap();
    assert_eq!(twice.locations.len(), 2);
    let sites: std::collections::HashSet<_> = twice
        .locations
        .iter()
        .map(|l| args_of(l)[0].clone())
        .collect();
    assert_eq!(
        sites,
        std::collections::HashSet::from([imm(4, true, 1), imm(4, true, 2)])
    );
}

#[test]
fn argspecs_every_form() {
    let b = built();
    let f = read_usdt_probes(&b.argspecs).unwrap();
    let get = |name: &str| args_of(&f.probe("specs", name).unwrap().locations[0]);
    assert_eq!(
        get("rax_widths"),
        vec![
            reg(1, true, "al"),
            reg(1, false, "al"),
            reg(2, true, "ax"),
            reg(2, false, "ax"),
            reg(4, true, "eax"),
            reg(4, false, "eax"),
            reg(8, true, "rax"),
            reg(8, false, "rax"),
            reg(1, false, "ah"),
            reg(1, true, "ah"),
        ]
    );
    assert_eq!(
        get("regs"),
        vec![
            reg(2, false, "r13w"),
            reg(1, false, "r13b"),
            reg(4, false, "r13d"),
            reg(4, true, "r8d"),
            reg(1, true, "r8b"),
            reg(2, false, "si"),
            reg(1, false, "sil"),
            reg(1, false, "dh"),
            reg(8, true, "r15"),
        ]
    );
    let gv = readelf_symbol(&b.argspecs, "global_value").unwrap();
    let ga = readelf_symbol(&b.argspecs, "global_array").unwrap();
    let st = |size, signed, vaddr| ArgSpec {
        size,
        signed,
        location: ArgLocation::Static { vaddr },
    };
    assert_eq!(
        get("memory"),
        vec![
            mem(4, true, Register::Rbx, None, 4),
            mem(4, true, Register::Rbx, None, 0),
            mem(4, true, Register::Rbx, Some((Register::Rcx, 4)), 0),
            mem(4, true, Register::Rbx, Some((Register::Rcx, 4)), -4),
            st(8, true, gv),
            st(4, true, ga + 4),
            st(4, false, ga + 12),
        ]
    );
    assert_eq!(
        get("immediates"),
        vec![
            imm(4, true, -7),
            imm(8, false, 42),
            imm(8, true, 16),
            imm(1, false, 255)
        ]
    );
    let twelve = get("twelve");
    assert_eq!(twelve.len(), 12);
    assert!(twelve.iter().all(|a| a.size == 8 && a.signed));
}

#[test]
fn nop10_site_and_attach_offset() {
    let b = built();
    let f = read_usdt_probes(&b.nop10).unwrap();
    let site = &f.probe("nop10", "site").unwrap().locations[0];
    let classic = &f.probe("nop10", "classic").unwrap().locations[0];
    assert_eq!(site.nop, NopKind::Nop1Nop10);
    assert_eq!(classic.nop, NopKind::Nop1);
    // Today: always the 1-byte nop.
    assert_eq!(attach_offset(site), site.file_offset);
    assert_eq!(attach_offset(classic), classic.file_offset);
    // With the future-kernel choice on: the 10-byte nop, only where there is one.
    assert_eq!(attach_offset_with(site, true), site.file_offset + 1);
    assert_eq!(attach_offset_with(classic, true), classic.file_offset);
    let bytes = std::fs::read(&b.nop10).unwrap();
    assert_eq!(bytes[site.file_offset as usize], 0x90);
    assert_eq!(bytes[site.file_offset as usize + 1], 0x66);
}

#[test]
fn patterns_over_files() {
    let b = built();
    let dir = b.dir.to_string_lossy().into_owned();
    let many = b.probes_many.to_string_lossy().into_owned();

    // Provider left out: any provider (p* also matches other:ping).
    let found =
        find_usdt_probes(&UsdtPattern::parse(&format!("{many}:p*")).unwrap(), None).unwrap();
    assert_eq!(found.len(), 14);
    assert!(found
        .iter()
        .all(|f| f.host_path == b.probes_many && f.display_path == many));

    let found = find_usdt_probes(
        &UsdtPattern::parse(&format!("{many}:many:p1?")).unwrap(),
        None,
    )
    .unwrap();
    let names: BTreeSet<_> = found.iter().map(|f| f.probe.name.clone()).collect();
    assert_eq!(
        names,
        BTreeSet::from(["p10".into(), "p11".into(), "p12".into()])
    );

    // A glob over paths.
    let found = find_usdt_probes(
        &UsdtPattern::parse(&format!("{dir}/*:lib:*")).unwrap(),
        None,
    )
    .unwrap();
    assert_eq!(
        list_lines(&found),
        vec![
            format!("usdt:{dir}/libprobes.so:lib:hello"),
            format!("usdt:{dir}/libprobes.so:lib:twice"),
        ]
    );
    let found = find_usdt_probes(
        &UsdtPattern::parse(&format!("{dir}/probes_m*:many:loop")).unwrap(),
        None,
    )
    .unwrap();
    assert_eq!(found.len(), 1);

    // Listing is sorted by path, provider, name.
    let all =
        find_usdt_probes(&UsdtPattern::parse(&format!("{dir}/*:*:*")).unwrap(), None).unwrap();
    let lines = list_lines(&all);
    let mut sorted = lines.clone();
    sorted.sort();
    assert_eq!(lines, sorted);
    assert!(lines.contains(&format!("usdt:{many}:sem:guarded")));

    // -lv text.
    let inl = find_usdt_probes(
        &UsdtPattern::parse(&format!("{many}:many:inlined")).unwrap(),
        None,
    )
    .unwrap();
    let text = describe_probe(&inl[0]).join("\n");
    println!("{text}");
    assert!(text.starts_with(&format!("usdt:{many}:many:inlined\n    3 locations\n")));
    assert!(text.contains("arg0: s32 $1"));
    assert!(text.contains("(nop), no semaphore"));
    let g = find_usdt_probes(
        &UsdtPattern::parse(&format!("{many}:sem:guarded")).unwrap(),
        None,
    )
    .unwrap();
    let text = describe_probe(&g[0]).join("\n");
    println!("{text}");
    assert!(text.contains("semaphore offset 0x"));

    // Nothing matches: one line naming the pattern.
    let e = find_usdt_probes(
        &UsdtPattern::parse(&format!("{many}:nope:*")).unwrap(),
        None,
    )
    .unwrap_err();
    let msg = e.to_string();
    assert!(matches!(e, ustrace_probes::ProbeError::NoMatch { .. }));
    assert!(
        msg.contains(&format!("usdt:{many}:nope:*")) && !msg.contains('\n'),
        "{msg}"
    );
}

/// Kills and reaps the child on drop, even when an assertion fails.
struct Child(std::process::Child);
impl Drop for Child {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn patterns_with_a_pid() {
    let b = built();
    let child = Child(
        Command::new(&b.probes_many)
            .args(["-1", "50"])
            .stdout(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let pid = child.0.id();
    // Wait until the dynamic linker has mapped libprobes.so.
    let mut objs = Vec::new();
    for _ in 0..200 {
        objs = mapped_objects(pid).unwrap();
        if objs.iter().any(|o| o.path.ends_with("libprobes.so")) {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    let exe = std::fs::canonicalize(&b.probes_many).unwrap();
    assert_eq!(objs[0].path, exe);
    assert_eq!(
        objs[0].host_path,
        std::path::PathBuf::from(format!("/proc/{pid}/root{}", exe.display()))
    );
    assert!(objs.iter().any(|o| o.path.ends_with("libprobes.so")));
    assert!(objs
        .iter()
        .any(|o| o.path.to_string_lossy().contains("libc.so")));

    // `*` and empty path: every mapped object.
    for path in ["*", ""] {
        let found = find_usdt_probes(
            &UsdtPattern::parse(&format!("{path}:lib:hello")).unwrap(),
            Some(pid),
        )
        .unwrap();
        assert_eq!(found.len(), 1);
        assert!(found[0].host_path.starts_with(format!("/proc/{pid}/root")));
        assert!(found[0].display_path.ends_with("libprobes.so"));
    }
    // A library name resolves against the process first.
    let found =
        find_usdt_probes(&UsdtPattern::parse("libprobes:lib:*").unwrap(), Some(pid)).unwrap();
    assert_eq!(found.len(), 2);
    assert!(found[0].host_path.starts_with(format!("/proc/{pid}/root")));
    // An absolute path the process has mapped is read through /proc/PID/root.
    let found = find_usdt_probes(
        &UsdtPattern::parse(&format!("{}:many:loop", exe.display())).unwrap(),
        Some(pid),
    )
    .unwrap();
    assert_eq!(found[0].host_path, objs[0].host_path);
    assert_eq!(found[0].display_path, exe.to_string_lossy());
    let all = find_usdt_probes(&UsdtPattern::parse("*:*:*").unwrap(), Some(pid)).unwrap();
    let providers: BTreeSet<_> = all.iter().map(|f| f.probe.provider.clone()).collect();
    assert!(
        ["many", "other", "sem", "lib"]
            .iter()
            .all(|p| providers.contains(*p)),
        "{providers:?}"
    );
}
