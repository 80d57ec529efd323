//! The DWARF reader on a real C program (tests/c/dwarf_types.c), built as
//! DWARF 5, as DWARF 4 with zlib-compressed sections, and optimized: every
//! layout and signature checked against what gcc laid out.

mod common;

use std::path::PathBuf;
use std::sync::OnceLock;

use ustrace_dwarf::{
    Bitfield, DebugInfo, DwarfError, Encoding, ParamLocation, RecordKind, Type, TypeTable,
};
use ustrace_probes::Register;

fn program(flags: &'static [&'static str], name: &str) -> PathBuf {
    common::build("gcc", name, "tests/c/dwarf_types.c", flags)
}

fn dwarf5() -> &'static PathBuf {
    static P: OnceLock<PathBuf> = OnceLock::new();
    P.get_or_init(|| program(&["-g", "-O0"], "types-dwarf5"))
}

fn dwarf4_compressed() -> &'static PathBuf {
    static P: OnceLock<PathBuf> = OnceLock::new();
    P.get_or_init(|| program(&["-gdwarf-4", "-gz", "-O0"], "types-dwarf4z"))
}

fn optimized() -> &'static PathBuf {
    static P: OnceLock<PathBuf> = OnceLock::new();
    P.get_or_init(|| program(&["-g", "-O2"], "types-O2"))
}

/// DWARF 5 with types in type units (`DW_AT_signature` references).
fn type_units5() -> &'static PathBuf {
    static P: OnceLock<PathBuf> = OnceLock::new();
    P.get_or_init(|| program(&["-g", "-fdebug-types-section", "-O0"], "types-tu5"))
}

/// DWARF 4 with types in `.debug_types`.
fn type_units4() -> &'static PathBuf {
    static P: OnceLock<PathBuf> = OnceLock::new();
    P.get_or_init(|| program(&["-gdwarf-4", "-fdebug-types-section", "-O0"], "types-tu4"))
}

fn signature(info: &DebugInfo, name: &str) -> Vec<String> {
    let mut types = TypeTable::new();
    let functions = info.function_named(name, &mut types).expect("function");
    assert_eq!(functions.len(), 1, "{name}");
    let f = &functions[0];
    let mut out = vec![format!(
        "{} -> {} @ {}",
        f.name,
        types.name(f.return_type),
        f.return_location
    )];
    out.extend(
        f.params
            .iter()
            .map(|p| format!("{} {} @ {}", types.name(p.ty), p.name, p.location)),
    );
    out
}

#[test]
fn signatures_and_locations_at_entry() {
    for path in [
        dwarf5(),
        dwarf4_compressed(),
        optimized(),
        type_units5(),
        type_units4(),
    ] {
        let info = DebugInfo::open(path).expect("reading debug info");
        assert_eq!(
            signature(&info, "handle"),
            [
                "handle -> int @ %rax",
                "struct req* r @ %rdi",
                "const char** names @ %rsi",
                "req_t** pp @ %rdx",
                "enum color c @ %rcx",
                "long unsigned int n @ %r8",
            ],
            "{}",
            path.display()
        );
        assert_eq!(
            signature(&info, "mixed"),
            [
                "mixed -> long int @ %rax",
                // gcc 12 writes `volatile int` without the `const` when
                // types go to type units (checked with readelf).
                if path == type_units5() || path == type_units4() {
                    "volatile int* cv @ %rdi"
                } else {
                    "const volatile int* cv @ %rdi"
                },
                "callback_t cb @ %rsi",
                // 4 bytes of integers: one register.
                "struct hdr h @ %rdx",
                "double d @ <passed in %xmm0, which uprobes cannot read>",
                "_Bool b @ %rcx",
                "char ch @ %r8",
                "unsigned char uc @ %r9",
                "short int s @ 8(%rsp)",
                "long long int ll @ 16(%rsp)",
                "int* arr @ 24(%rsp)",
                "void* v @ 32(%rsp)",
            ],
            "{}",
            path.display()
        );
        assert_eq!(
            signature(&info, "inspect"),
            [
                "inspect -> int @ %rax",
                // An integer and a double share the eightbyte: integer class.
                "union value v @ %rdi",
                "int (*)[3] rows @ %rsi",
                "struct hdr* h @ %rdx",
                "enum color* colors @ %rcx",
                "const struct req* const* list @ %r8",
            ],
            "{}",
            path.display()
        );
        assert_eq!(
            signature(&info, "many")[7..],
            ["int g @ 8(%rsp)", "long int h @ 16(%rsp)"]
        );
        // A 72-byte struct is returned through a buffer whose address is a
        // hidden first argument: the real ones start at %rsi.
        assert_eq!(
            signature(&info, "make_req"),
            [
                "make_req -> struct req @ (%rax)",
                "int id @ %rsi",
                "const char* name @ %rdx",
            ]
        );
    }
}

/// gcc -O2 turns `scaled(3, r)` into a clone taking no `factor`: the
/// calling convention no longer applies, so only what the location lists
/// say at the entry address is trusted, and nothing is guessed.
#[test]
fn specialized_clones_are_not_guessed() {
    let info = DebugInfo::open(optimized()).expect("reading debug info");
    let mut t = TypeTable::new();
    let clones = info.function_named("scaled", &mut t).expect("scaled");
    let clone = clones
        .iter()
        .find(|f| f.params.iter().any(|p| p.name == "factor"))
        .expect("the clone");
    let factor = clone.param("factor").expect("factor");
    assert!(
        matches!(&factor.location, ParamLocation::Unsupported(why) if why.contains("calling convention")),
        "{:?}",
        factor.location
    );
    assert!(clone.readable_param("factor", &t).is_err());
    // At -O0 there is no clone: the convention applies.
    let info = DebugInfo::open(dwarf5()).expect("reading debug info");
    assert_eq!(
        signature(&info, "scaled"),
        [
            "scaled -> int @ %rax",
            "int factor @ %rdi",
            "struct req* r @ %rsi"
        ]
    );
}

#[test]
fn struct_layouts_match_gcc() {
    for path in [dwarf5(), dwarf4_compressed(), type_units5(), type_units4()] {
        let info = DebugInfo::open(path).expect("reading debug info");
        let mut t = TypeTable::new();
        let req = info.type_named("struct req", &mut t).expect("struct req");
        assert_eq!(t.size_of(req), Some(72));
        let Type::Record(r) = t.get(req).clone() else {
            panic!("struct req is {:?}", t.get(req));
        };
        assert_eq!(r.kind, RecordKind::Struct);
        let layout: Vec<(String, String, u64)> = r
            .members
            .iter()
            .map(|m| (m.name.clone(), t.name(m.ty), m.offset))
            .collect();
        let expected = [
            ("id", "int", 0),
            ("name", "char[16]", 4),
            ("hdr", "struct hdr", 20),
            ("next", "struct req*", 24),
            ("value", "union value", 32),
            ("color", "enum color", 40),
            ("matrix", "int[2][3]", 44),
        ];
        let expected: Vec<(String, String, u64)> = expected
            .iter()
            .map(|(n, ty, o)| (n.to_string(), ty.to_string(), *o))
            .collect();
        assert_eq!(layout, expected, "{}", path.display());

        // The recursive pointer closes on the same type.
        let next = t.member(req, "next").expect("next");
        assert_eq!(t.get(next.ty), &Type::Pointer { pointee: req });

        // Bitfields, from DW_AT_data_bit_offset (DWARF 5) or DW_AT_bit_offset (DWARF 4).
        let hdr = info.type_named("struct hdr", &mut t).expect("struct hdr");
        assert_eq!(t.size_of(hdr), Some(4));
        let flags = t.member(hdr, "flags").expect("flags");
        assert_eq!(
            flags.bitfield,
            Some(Bitfield {
                bit_offset: 16,
                bit_size: 3
            })
        );
        assert_eq!(flags.offset, 2);
        let kind = t.member(hdr, "kind").expect("kind");
        assert_eq!(
            kind.bitfield,
            Some(Bitfield {
                bit_offset: 19,
                bit_size: 5
            })
        );
        let level = t.member(hdr, "level").expect("level");
        assert_eq!((level.offset, level.bitfield), (3, None));
        assert_eq!(t.name(level.ty), "int8_t");
        assert_eq!(
            t.get(t.resolve(level.ty)),
            &Type::Base {
                name: "signed char".into(),
                size: 1,
                encoding: Encoding::SignedChar
            }
        );

        // Unions: every member at 0.
        let value = info.type_named("union value", &mut t).expect("union");
        let Type::Record(u) = t.get(value) else {
            panic!("union value");
        };
        assert_eq!(u.kind, RecordKind::Union);
        assert_eq!(u.size, Some(8));
        assert!(u.members.iter().all(|m| m.offset == 0));
        assert_eq!(
            u.members.iter().map(|m| t.name(m.ty)).collect::<Vec<_>>(),
            ["int64_t", "double", "char[8]"]
        );

        // Enums by name and value.
        let color = info.type_named("enum color", &mut t).expect("enum");
        assert_eq!(t.enumerator_name(color, 5), Some("GREEN"));
        assert_eq!(t.enumerator_name(color, 6), Some("BLUE"));
        assert_eq!(t.enumerator_name(color, 7), None);
        assert_eq!(t.size_of(color), Some(4));

        // Typedefs resolve to what they name.
        let req_t = info.type_named("req_t", &mut t).expect("typedef");
        assert_eq!(t.resolve(req_t), req);
        let cb = info.type_named("callback_t", &mut t).expect("typedef");
        assert_eq!(t.name(t.resolve(cb)), "int (*)(int)");
    }
}

#[test]
fn scalar_parameters_become_argument_specs() {
    let info = DebugInfo::open(dwarf5()).expect("reading debug info");
    let mut t = TypeTable::new();
    let f = info
        .function_named("mixed", &mut t)
        .expect("mixed")
        .remove(0);
    let spec = |name: &str| {
        let p = f.param(name).expect("param");
        p.location.arg_spec(&t, p.ty).map(|s| s.to_string())
    };
    assert_eq!(spec("cv").as_deref(), Some("u64 %rdi"));
    assert_eq!(spec("ch").as_deref(), Some("s8 %r8b"));
    assert_eq!(spec("uc").as_deref(), Some("u8 %r9b"));
    assert_eq!(spec("s").as_deref(), Some("s16 8(%rsp)"));
    assert_eq!(spec("h"), None, "a struct is not a scalar");
    assert_eq!(spec("d"), None, "xmm registers cannot be read");
    assert_eq!(
        f.param("cv").map(|p| p.location.clone()),
        Some(ParamLocation::Register(Register::Rdi))
    );
}

#[test]
fn unknown_names_suggest_close_ones() {
    let info = DebugInfo::open(dwarf5()).expect("reading debug info");
    let mut t = TypeTable::new();
    let err = info.function_named("handel", &mut t).unwrap_err();
    assert!(
        matches!(&err, DwarfError::UnknownFunction { suggestions, .. } if suggestions.contains(&"handle".to_string()))
    );
    assert!(
        err.to_string()
            .ends_with("no debug information for function `handel` (did you mean `handle`?)"),
        "{err}"
    );
    let err = info.type_named("struct rq", &mut t).unwrap_err();
    assert!(
        err.to_string().contains("did you mean `struct req`"),
        "{err}"
    );
    let f = info
        .function_named("handle", &mut t)
        .expect("handle")
        .remove(0);
    assert_eq!(f.suggest_param("name"), ["names"]);
    assert_eq!(
        f.readable_param("name", &t).unwrap_err().to_string(),
        "function `handle` has no parameter `name` (did you mean `names`?)"
    );
    assert_eq!(f.readable_param("r", &t).map(|p| p.name.as_str()), Ok("r"));
    let mixed = info
        .function_named("mixed", &mut t)
        .expect("mixed")
        .remove(0);
    assert_eq!(
        mixed.readable_param("d", &t).unwrap_err().to_string(),
        "parameter `d` of `mixed` (double) cannot be read: passed in %xmm0, which uprobes cannot read"
    );
}

#[test]
fn no_debug_information_says_how_to_get_it() {
    let stripped = program(&["-O0"], "types-nodebug");
    let err = DebugInfo::open(&stripped).unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "{}: no debug information (DWARF): rebuild it with -g, or install its debug symbols \
             (Debian: the -dbg or -dbgsym package, which puts them under /usr/lib/debug)",
            stripped.display()
        )
    );
    let missing = DebugInfo::open(std::path::Path::new("/nonexistent/prog")).unwrap_err();
    assert_eq!(missing.to_string(), "/nonexistent/prog: no such file");
    // Special files are refused, never read forever.
    for special in ["/dev/zero", "/tmp"] {
        let err = DebugInfo::open(std::path::Path::new(special)).unwrap_err();
        assert!(err.to_string().starts_with(special), "{err}");
    }
}

/// dwz moves what two debug files share into a supplementary file that
/// both name in `.gnu_debugaltlink` (Debian's -dbgsym packages do this):
/// names and types then come from that file.
#[test]
fn dwz_supplementary_files() {
    let has_dwz = std::process::Command::new("dwz")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !has_dwz {
        ustrace_testkit::unavailable("dwz_supplementary_files", "dwz is not installed");
        return;
    }
    let a = program(&["-g", "-O0"], "types-dwz-a");
    let b = program(&["-g", "-O0"], "types-dwz-b");
    let common = a.with_file_name("types-dwz.common");
    let status = std::process::Command::new("dwz")
        .arg("-m")
        .arg(&common)
        .arg("-M")
        .arg(&common)
        .args([&a, &b])
        .status()
        .expect("running dwz");
    assert!(status.success());
    let info = DebugInfo::open(&a).expect("reading debug info");
    assert_eq!(
        signature(&info, "handle"),
        [
            "handle -> int @ %rax",
            "struct req* r @ %rdi",
            "const char** names @ %rsi",
            "req_t** pp @ %rdx",
            "enum color c @ %rcx",
            "long unsigned int n @ %r8",
        ]
    );
    let mut t = TypeTable::new();
    let req = info.type_named("struct req", &mut t).expect("struct req");
    assert_eq!(t.size_of(req), Some(72));
    assert_eq!(t.member(req, "hdr").map(|m| m.offset), Some(20));

    std::fs::remove_file(&common).expect("removing the common file");
    let err = DebugInfo::open(&b).unwrap_err();
    assert!(
        matches!(&err, DwarfError::MissingSupplementary { supplementary, .. } if supplementary == &common.display().to_string()),
        "{err}"
    );
}

/// A `struct req` as the probe would copy it, laid out by hand from the
/// offsets gcc chose (checked in `struct_layouts_match_gcc`).
fn req_bytes() -> Vec<u8> {
    let mut b = vec![0u8; 72];
    b[0..4].copy_from_slice(&7i32.to_le_bytes());
    b[4..9].copy_from_slice(b"first");
    b[20..22].copy_from_slice(&42u16.to_le_bytes());
    b[22] = 5 | (17 << 3); // flags = 5 (bits 16..19), kind = 17 (bits 19..24)
    b[23] = (-3i8) as u8;
    b[24..32].copy_from_slice(&0x1000u64.to_le_bytes());
    b[32..40].copy_from_slice(&1234i64.to_le_bytes());
    b[40..44].copy_from_slice(&5u32.to_le_bytes());
    b[64..68].copy_from_slice(&12i32.to_le_bytes()); // matrix[1][2]
    b
}

#[test]
fn records_print_as_bpftrace_prints_them() {
    let info = DebugInfo::open(dwarf5()).expect("reading debug info");
    let mut t = TypeTable::new();
    let req = info.type_named("struct req", &mut t).expect("struct req");
    let bytes = req_bytes();
    assert_eq!(
        t.format_value(req, &bytes),
        format!(
            "{{ .id = 7, .name = first, .hdr = {{ .len = 42, .flags = 5, .kind = 17, .level = -3 }}, \
             .next = 0x1000, .value = {{ .i = 1234, .d = {:?}, .bytes = \\xd2\\x04 }}, \
             .color = GREEN, .matrix = [[0,0,0],[0,0,12]] }}",
            f64::from_bits(1234)
        )
    );
    // Members on their own, and a short copy reads as zeros.
    let hdr = t.member(req, "hdr").expect("hdr");
    assert_eq!(
        t.format_value(hdr.ty, &bytes[20..24]),
        "{ .len = 42, .flags = 5, .kind = 17, .level = -3 }"
    );
    assert_eq!(
        t.format_value(req, &bytes[..4]),
        "{ .id = 7, .name = , .hdr = { .len = 0, .flags = 0, .kind = 0, .level = 0 }, .next = 0x0, \
         .value = { .i = 0, .d = 0.0, .bytes =  }, .color = RED, .matrix = [[0,0,0],[0,0,0]] }"
    );
    let color = info.type_named("enum color", &mut t).expect("enum");
    assert_eq!(t.format_value(color, &7u32.to_le_bytes()), "7");
}

/// A stripped program whose `.gnu_debuglink` names a debug file next to
/// it (what `objcopy --only-keep-debug` + `--add-gnu-debuglink` make).
#[test]
fn separate_debug_file_by_debuglink() {
    let bin = program(&["-g", "-O0"], "types-linked");
    let debug = bin.with_file_name("types-linked.debug");
    let run = |args: &[&std::ffi::OsStr]| {
        let status = std::process::Command::new("objcopy")
            .args(args)
            .status()
            .expect("running objcopy (binutils)");
        assert!(status.success(), "objcopy {args:?}");
    };
    run(&[
        "--only-keep-debug".as_ref(),
        bin.as_os_str(),
        debug.as_os_str(),
    ]);
    run(&["--strip-debug".as_ref(), bin.as_os_str()]);
    let link = format!("--add-gnu-debuglink={}", debug.display());
    run(&[link.as_ref(), bin.as_os_str()]);
    let info = DebugInfo::open(&bin).expect("reading debug info through the link");
    assert_eq!(info.dwarf_path(), debug.as_path());
    assert_eq!(info.path(), bin.as_path());
    assert_eq!(signature(&info, "handle")[1], "struct req* r @ %rdi");
    std::fs::remove_file(&debug).expect("removing the debug file");
    assert!(matches!(
        DebugInfo::open(&bin),
        Err(DwarfError::NoDebugInfo { .. })
    ));
}
