//! Positional parameters in attach points (`uprobe:$1:$2`), expanded by
//! the parser as bpftrace expands them: as text, before the attach point
//! is decoded.

use ustrace_lang::ast::{AttachKind, UprobeTarget};
use ustrace_lang::{parse_with, ParseOptions};

fn with(params: &[&str]) -> ParseOptions {
    ParseOptions {
        positional: params.iter().map(|s| s.to_string()).collect(),
        ..Default::default()
    }
}

#[test]
fn attach_points_get_the_parameters_as_text() {
    let src = "uprobe:$1:$2, uretprobe:$1:$2 /$3 > 0/ { @x[\"$1:$2\"] = $1; }\ninterval:s:$3 { }";
    let s = parse_with(src, &with(&["/bin/ls", "main", "5"])).unwrap();
    let raws: Vec<_> = s
        .probes
        .iter()
        .flat_map(|p| p.attach_points.iter().map(|a| a.raw.as_str()))
        .collect();
    assert_eq!(
        raws,
        [
            "uprobe:/bin/ls:main",
            "uretprobe:/bin/ls:main",
            "interval:s:5"
        ]
    );
    assert_eq!(
        s.probes[0].attach_points[0].kind,
        AttachKind::Uprobe {
            path: "/bin/ls".into(),
            target: UprobeTarget::Symbol {
                name: "main".into(),
                offset: 0
            },
            is_return: false,
        }
    );
}

#[test]
fn a_parameter_may_be_part_of_a_field_and_quoted_fields_too() {
    let s = parse_with("usdt:\"$1\":prov_$2:n { }", &with(&["/bin/app", "x"])).unwrap();
    assert_eq!(s.probes[0].attach_points[0].raw, "usdt:/bin/app:prov_x:n");
    // A `$` without digits is left alone (Rust mangled names have them).
    let s = parse_with("uprobe:/bin/a:f$LT$x { }", &with(&[])).unwrap();
    assert_eq!(s.probes[0].attach_points[0].raw, "uprobe:/bin/a:f$LT$x");
}

#[test]
fn a_missing_parameter_is_an_error_at_its_field() {
    let src = "uprobe:$1:$2 { }";
    let d = parse_with(src, &with(&["libc"])).unwrap_err();
    assert_eq!(
        d.render("t.bt", src),
        "t.bt:1:11: error: attach point uses `$2`, but 1 positional parameter was given\n  |\n1 | uprobe:$1:$2 { }\n  |           ^^\n"
    );
    let d = parse_with("uprobe:/x:$1 { }", &with(&[])).unwrap_err();
    assert_eq!(
        d.message,
        "attach point uses `$1`, but 0 positional parameters were given"
    );
}
