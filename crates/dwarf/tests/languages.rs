//! The DWARF reader on C++ (tests/c/dwarf_methods.cpp) and Rust
//! (tests/rust/dwarf_structs.rs) programs, and on glibc through Debian's
//! separate debug file (libc6-dbg).

mod common;

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use ustrace_dwarf::{DebugInfo, Language, ParamLocation, RecordKind, Type, TypeTable};
use ustrace_probes::Register;

fn cpp() -> &'static PathBuf {
    static P: OnceLock<PathBuf> = OnceLock::new();
    P.get_or_init(|| {
        common::build(
            "g++",
            "methods",
            "tests/c/dwarf_methods.cpp",
            &["-g", "-O1"],
        )
    })
}

fn rust() -> &'static PathBuf {
    static P: OnceLock<PathBuf> = OnceLock::new();
    P.get_or_init(|| {
        common::build(
            "rustc",
            "structs-rs",
            "tests/rust/dwarf_structs.rs",
            &["-g", "-O", "--edition", "2021"],
        )
    })
}

/// `TYPE NAME @ LOCATION` per parameter, after `NAME -> TYPE @ LOCATION`.
fn signature(info: &DebugInfo, name: &str) -> Vec<String> {
    let mut types = TypeTable::new();
    let functions = info.function_named(name, &mut types).expect("function");
    assert_eq!(functions.len(), 1, "{name}: {functions:?}");
    let f = &functions[0];
    let mut out = vec![format!(
        "{} -> {} @ {}",
        f.qualified_name,
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
fn cpp_method_takes_this_and_a_reference() {
    let info = DebugInfo::open(cpp()).expect("reading debug info");
    assert_eq!(
        signature(&info, "shop::Cart::add"),
        [
            "shop::Cart::add -> int @ %rax",
            "shop::Cart* const this @ %rdi",
            "const shop::Item& item @ %rsi",
            "int quantity @ %rdx",
        ]
    );
    // Found by symbol name too, and `this` is marked artificial.
    let mut t = TypeTable::new();
    let by_symbol = info
        .function_named("_ZN4shop4Cart3addERKNS_4ItemEi", &mut t)
        .expect("by linkage name");
    assert_eq!(by_symbol[0].qualified_name, "shop::Cart::add");
    assert!(by_symbol[0].params[0].artificial);
    assert!(!by_symbol[0].params[1].artificial);
    assert_eq!(by_symbol[0].language, Language::Cpp);

    // The class behind the reference, by qualified name.
    let item = info.type_named("shop::Item", &mut t).expect("shop::Item");
    let Type::Record(r) = t.get(item) else {
        panic!("shop::Item is {:?}", t.get(item));
    };
    assert_eq!(r.kind, RecordKind::Class);
    assert_eq!(r.size, Some(24));
    let members: Vec<(String, String, u64)> = r
        .members
        .iter()
        .map(|m| (m.name.clone(), t.name(m.ty), m.offset))
        .collect();
    assert_eq!(
        members,
        [
            ("id".to_string(), "int".to_string(), 0),
            ("price".to_string(), "double".to_string(), 8),
            ("label".to_string(), "const char*".to_string(), 16),
        ]
    );
}

#[test]
fn cpp_templates_and_classes_passed_by_invisible_reference() {
    let info = DebugInfo::open(cpp()).expect("reading debug info");
    assert_eq!(
        signature(&info, "shop::largest<int>"),
        [
            "shop::largest<int> -> int @ %rax",
            "int a @ %rdi",
            "int b @ %rsi",
        ]
    );
    // std::string has a destructor: the caller passes its address.
    assert_eq!(
        signature(&info, "shop::name_length"),
        [
            "shop::name_length -> size_t @ %rax",
            "std::string name @ (%rdi)",
        ]
    );
}

#[test]
fn rust_structs_str_and_enums() {
    let info = DebugInfo::open(rust()).expect("reading debug info");
    // Registers checked against rustc 1.95's machine code for these functions.
    assert_eq!(
        signature(&info, "process_order"),
        [
            "dwarf_structs::process_order -> u64 @ %rax",
            "struct Order* order @ %rdi",
            "struct &str note @ {%rsi, %rdx}",
            "struct Shape shape @ %rcx",
        ]
    );
    assert_eq!(
        signature(&info, "move_point"),
        [
            "dwarf_structs::move_point -> struct Point @ {%rax, %rdx}",
            "struct Point p @ {%rdi, %rsi}",
            "i32 dx @ %rdx",
        ]
    );
    let mut t = TypeTable::new();
    let order = info
        .type_named("dwarf_structs::Order", &mut t)
        .expect("Order");
    assert_eq!(t.language(order), Language::Rust);
    // &str: a pointer and a length.
    let customer = t.member(order, "customer").expect("customer");
    assert_eq!(t.name(customer.ty), "struct &str");
    let ptr = t.member(customer.ty, "data_ptr").expect("data_ptr");
    let len = t.member(customer.ty, "length").expect("length");
    assert_eq!((t.name(ptr.ty).as_str(), ptr.offset), ("u8*", 0));
    assert_eq!((t.name(len.ty).as_str(), len.offset), ("usize", 8));
    let at = t.member(order, "at").expect("at");
    assert_eq!(t.name(at.ty), "struct Point");
    assert_eq!(t.size_of(order), Some(32));

    // An enum with data: its variants and discriminant.
    let shape = info
        .type_named("dwarf_structs::Shape", &mut t)
        .expect("Shape");
    let Type::Record(r) = t.get(shape) else {
        panic!("Shape is {:?}", t.get(shape));
    };
    let part = r.variant_part.as_ref().expect("a variant part");
    let names: Vec<&str> = part
        .variants
        .iter()
        .flat_map(|v| v.members.iter().map(|m| m.name.as_str()))
        .collect();
    assert_eq!(names, ["Circle", "Square", "Empty"]);
    assert!(part.discriminant.is_some());
}

/// glibc's debug information comes from Debian's libc6-dbg, a separate
/// file found by build id.
#[test]
fn glibc_getaddrinfo_through_its_debug_file() {
    let libc = Path::new("/lib/x86_64-linux-gnu/libc.so.6");
    let info = match DebugInfo::open(libc) {
        Ok(i) => i,
        Err(e) => {
            ustrace_testkit::unavailable(
                "glibc_getaddrinfo_through_its_debug_file",
                &format!("{e} (install libc6-dbg)"),
            );
            return;
        }
    };
    assert!(info.dwarf_path().starts_with("/usr/lib/debug"));
    assert_eq!(
        signature(&info, "getaddrinfo"),
        [
            "getaddrinfo -> int @ %rax",
            "const char* name @ %rdi",
            "const char* service @ %rsi",
            "const struct addrinfo* hints @ %rdx",
            "struct addrinfo** pai @ %rcx",
        ]
    );
    let mut t = TypeTable::new();
    let f = info
        .function_named("getaddrinfo", &mut t)
        .expect("getaddrinfo");
    let hints = f[0].param("hints").expect("hints").ty;
    let Type::Pointer { pointee } = t.get(hints) else {
        panic!("hints is not a pointer");
    };
    let family = t.member(*pointee, "ai_family").expect("ai_family");
    assert_eq!((t.name(family.ty).as_str(), family.offset), ("int", 4));
    let next = t.member(*pointee, "ai_next").expect("ai_next");
    assert_eq!(
        (t.name(next.ty).as_str(), next.offset),
        ("struct addrinfo*", 40)
    );
    assert_eq!(t.size_of(*pointee), Some(48));
    assert_eq!(
        f[0].params[0].location,
        ParamLocation::Register(Register::Rdi)
    );
}
