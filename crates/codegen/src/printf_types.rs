//! printf argument types against the format's conversions, as bpftrace
//! checks them: `printf("%s", 1)` is an error naming the argument, not a
//! silently printed number.

use ustrace_lang::printf::{Conversion, ConversionKind};

use crate::program::FieldKind;

/// Why `field` cannot be printed by `conv`, if it cannot.
pub(crate) fn mismatch(conv: &Conversion, field: &FieldKind) -> Option<String> {
    let what = match field {
        FieldKind::Int { .. } => "an integer",
        // A bool prints 1/0 with integer conversions, true/false with %s.
        FieldKind::Bool => return None,
        FieldKind::Tuple(_) => "a tuple",
        FieldKind::Str(_) => "a string",
        FieldKind::ProbeName => "a probe name",
        FieldKind::UStack(_) => "a stack",
        FieldKind::Buffer(_) => "a buffer",
        FieldKind::Strftime(_) => "a strftime() time",
        FieldKind::Record { .. } => "a struct",
        FieldKind::Username => "a user name",
        FieldKind::Strerror => "an error text",
        FieldKind::SyscallName => "a system call name",
        FieldKind::Inet => "an address",
        // A symbol prints as its name with %s and as its address otherwise.
        FieldKind::USym => return None,
    };
    let letter = conv.kind.letter();
    let fits = match conv.kind {
        ConversionKind::Str => !matches!(field, FieldKind::Int { .. }),
        _ if matches!(field, FieldKind::Tuple(_)) => false,
        ConversionKind::Buffer => matches!(field, FieldKind::Buffer(_) | FieldKind::Str(_)),
        _ => matches!(field, FieldKind::Int { .. }),
    };
    if fits {
        return None;
    }
    let wanted = match conv.kind {
        ConversionKind::Str => "a string",
        ConversionKind::Buffer => "a buffer (buf())",
        _ => "an integer",
    };
    Some(format!(
        "printf: %{letter} wants {wanted}, but this argument is {what}"
    ))
}

#[cfg(test)]
mod tests {
    use super::mismatch;
    use crate::program::FieldKind;

    fn conv(fmt: &str) -> ustrace_lang::printf::Conversion {
        let f = ustrace_lang::printf::parse_format(fmt).unwrap();
        let c = f.conversions().next().unwrap().clone();
        c
    }

    #[test]
    fn integers_and_strings_do_not_mix() {
        let int = FieldKind::Int { signed: true };
        let s = FieldKind::Str(16);
        assert_eq!(
            mismatch(&conv("%s"), &int).as_deref(),
            Some("printf: %s wants a string, but this argument is an integer")
        );
        assert_eq!(
            mismatch(&conv("%d"), &s).as_deref(),
            Some("printf: %d wants an integer, but this argument is a string")
        );
        assert!(mismatch(&conv("%x"), &FieldKind::ProbeName).is_some());
        assert!(mismatch(&conv("%r"), &int).is_some());
        for ok in ["%d", "%u", "%x", "%-8ld", "%c", "%p"] {
            assert_eq!(mismatch(&conv(ok), &int), None, "{ok}");
        }
        assert_eq!(mismatch(&conv("%s"), &s), None);
        assert_eq!(mismatch(&conv("%s"), &FieldKind::ProbeName), None);
        assert_eq!(mismatch(&conv("%r"), &FieldKind::Buffer(8)), None);
        assert_eq!(mismatch(&conv("%s"), &FieldKind::USym), None);
    }
}
