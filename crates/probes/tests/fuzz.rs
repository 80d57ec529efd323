//! Fuzzing every parser of untrusted input in the discovery layer: argument
//! specs, ELF files (notes and symbols), /proc/PID/maps text, ld.so.cache
//! and probe patterns. Each must return a value or an error, never panic,
//! on any input, including real files with bytes flipped or cut short.

use std::path::Path;
use std::sync::OnceLock;

use proptest::prelude::*;
use ustrace_probes::libpath::parse_ld_so_cache;
use ustrace_probes::objects::absolute_pattern;
use ustrace_probes::process::{parse_maps, parse_maps_entries};
use ustrace_probes::symbols::functions_from_bytes;
use ustrace_probes::{from_bytes, parse_arg_spec, split_args, UsdtPattern};

/// A real ELF file with USDT notes: a copy of the C test program with
/// probes, built once; falls back to this test binary when gcc is missing.
fn sample_elf() -> &'static [u8] {
    static DATA: OnceLock<Vec<u8>> = OnceLock::new();
    DATA.get_or_init(|| {
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("fuzz-c");
        let _ = std::fs::create_dir_all(&dir);
        let out = dir.join("argspecs");
        let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/c/argspecs.c");
        let built = std::process::Command::new("gcc")
            .args(["-O2", "-g"])
            .arg(&src)
            .arg("-o")
            .arg(&out)
            .status()
            .map(|s| s.success())
            .unwrap_or(false);
        let path = if built {
            out
        } else {
            std::env::current_exe().unwrap_or_default()
        };
        std::fs::read(path).unwrap_or_default()
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn arg_specs_never_panic(text in ".{0,40}") {
        let _ = parse_arg_spec(&text);
        for part in split_args(&text) {
            let _ = parse_arg_spec(part);
        }
    }

    #[test]
    fn arg_spec_like_text_never_panics(
        size in "-?[0-9]{1,3}",
        body in "[-$%()a-z0-9+,@]{0,24}",
    ) {
        let _ = parse_arg_spec(&format!("{size}@{body}"));
    }

    #[test]
    fn patterns_never_panic(text in ".{0,60}") {
        let _ = UsdtPattern::parse(&text);
    }

    #[test]
    fn maps_text_never_panics(text in "(.{0,80}\n){0,8}") {
        let _ = parse_maps(&text);
        let _ = parse_maps_entries(&text);
    }

    #[test]
    fn maps_like_lines_keep_their_path(
        dev in "[0-9a-fz]{1,3}:[0-9a-fz]{1,3}",
        inode in "[0-9x]{1,12}",
        path in "/[a-z ./]{0,20}",
    ) {
        let line = format!("7f00-7f01 r-xp 00000000 {dev} {inode}   {path}\n");
        let got = parse_maps_entries(&line);
        if !path.ends_with(" (deleted)") {
            prop_assert_eq!(got.len(), 1);
            prop_assert_eq!(got[0].path.to_string_lossy(), path.trim_start());
        }
    }

    #[test]
    fn absolute_patterns_are_absolute(text in "[a-z./*?]{0,30}") {
        let abs = absolute_pattern(&text);
        prop_assert!(abs.starts_with('/'));
        prop_assert!(!abs.split('/').any(|c| c == "." || c == ".."));
    }

    #[test]
    fn ld_so_cache_never_panics(data in proptest::collection::vec(any::<u8>(), 0..512)) {
        let _ = parse_ld_so_cache(&data);
        let mut with_magic = b"glibc-ld.so.cache1.1".to_vec();
        with_magic.extend(&data);
        let _ = parse_ld_so_cache(&with_magic);
    }

    #[test]
    fn random_bytes_are_not_elf(data in proptest::collection::vec(any::<u8>(), 0..256)) {
        let p = Path::new("random");
        let _ = from_bytes(p, &data);
        let _ = functions_from_bytes(p, &data, "*");
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    #[test]
    fn mutated_real_elf_never_panics(
        flips in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..16),
        cut in any::<prop::sample::Index>(),
    ) {
        let original = sample_elf();
        prop_assume!(!original.is_empty());
        let mut data = original.to_vec();
        for (at, byte) in flips {
            let i = at.index(data.len());
            data[i] = byte;
        }
        let p = Path::new("mutated");
        let _ = from_bytes(p, &data);
        let _ = functions_from_bytes(p, &data, "*");
        let end = cut.index(data.len());
        let _ = from_bytes(p, &data[..end]);
        let _ = functions_from_bytes(p, &data[..end], "m*");
    }

    #[test]
    fn mutations_in_the_headers_never_panic(
        flips in proptest::collection::vec((0usize..4096, any::<u8>()), 1..8),
    ) {
        let original = sample_elf();
        prop_assume!(original.len() > 4096);
        let mut data = original.to_vec();
        for (i, byte) in flips {
            data[i] = byte;
        }
        let p = Path::new("mutated-header");
        let _ = from_bytes(p, &data);
        let _ = functions_from_bytes(p, &data, "*");
    }
}

#[test]
fn the_unmutated_sample_parses() {
    let data = sample_elf();
    assert!(!data.is_empty());
    assert!(from_bytes(Path::new("sample"), data).is_ok());
}
