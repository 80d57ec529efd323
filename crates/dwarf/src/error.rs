//! The error type of the DWARF reader.

use std::path::PathBuf;

use thiserror::Error;
use ustrace_probes::ProbeError;

/// Why debug information could not be read or did not answer a question.
/// Every message is one line and names the file, function or type.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum DwarfError {
    /// The file could not be read as an x86-64 ELF file.
    #[error(transparent)]
    File(#[from] ProbeError),
    /// Neither the file nor a separate debug file has DWARF.
    #[error(
        "{}: no debug information (DWARF): rebuild it with -g, or install its debug symbols \
         (Debian: the -dbg or -dbgsym package, which puts them under /usr/lib/debug)",
        .path.display()
    )]
    NoDebugInfo {
        /// The file without debug information.
        path: PathBuf,
    },
    /// The debug information continues in a dwz supplementary file that
    /// is not installed.
    #[error(
        "{}: its debug information continues in {} (made by dwz), which is missing: install \
         the package that ships it (Debian: the same -dbgsym package's .dwz file)",
        .path.display(), .supplementary
    )]
    MissingSupplementary {
        /// The debug file.
        path: PathBuf,
        /// The file `.gnu_debugaltlink` names.
        supplementary: String,
    },
    /// The debug information is malformed.
    #[error("{}: corrupt debug information: {what}", .path.display())]
    Corrupt {
        /// The file holding the DWARF.
        path: PathBuf,
        /// What was wrong.
        what: String,
    },
    /// A debug section is compressed with an algorithm we do not read.
    #[error(
        "{}: section {section} is compressed with {format}, which is not supported (only zlib)",
        .path.display()
    )]
    UnsupportedCompression {
        /// The file.
        path: PathBuf,
        /// The section name.
        section: String,
        /// The compression format.
        format: String,
    },
    /// No function of that name has debug information.
    #[error("{}: no debug information for function `{name}`{}", .path.display(), did_you_mean(.suggestions))]
    UnknownFunction {
        /// The file searched.
        path: PathBuf,
        /// The name asked for.
        name: String,
        /// The closest names that exist.
        suggestions: Vec<String>,
    },
    /// No function with debug information starts at that address.
    #[error("{}: no debug information for the function at {address:#x}", .path.display())]
    NoFunctionAt {
        /// The file searched.
        path: PathBuf,
        /// The function's link-time address.
        address: u64,
    },
    /// The function has no parameter of that name.
    #[error("function `{function}` has no parameter `{name}`{}", did_you_mean(.suggestions))]
    UnknownParameter {
        /// The function.
        function: String,
        /// The name asked for.
        name: String,
        /// The closest parameter names.
        suggestions: Vec<String>,
    },
    /// The parameter exists but a uprobe cannot read it.
    #[error("parameter `{name}` of `{function}` ({type_name}) cannot be read: {reason}")]
    UnreadableParameter {
        /// The function.
        function: String,
        /// The parameter.
        name: String,
        /// Its type, as written in C (`double`, `struct big`).
        type_name: String,
        /// Why (`passed in %xmm0, which uprobes cannot read`).
        reason: String,
    },
    /// No type of that name is defined.
    #[error("{}: no type `{name}` in the debug information{}", .path.display(), did_you_mean(.suggestions))]
    UnknownType {
        /// The file searched.
        path: PathBuf,
        /// The name asked for (`struct req`, `req_t`, `ns::Item`).
        name: String,
        /// The closest names that exist.
        suggestions: Vec<String>,
    },
}

/// ` (did you mean `a` or `b`?)`, or nothing.
pub fn did_you_mean(suggestions: &[String]) -> String {
    match suggestions {
        [] => String::new(),
        [one] => format!(" (did you mean `{one}`?)"),
        [init @ .., last] => {
            let quoted: Vec<String> = init.iter().map(|s| format!("`{s}`")).collect();
            format!(" (did you mean {} or `{last}`?)", quoted.join(", "))
        }
    }
}

/// The (at most three) names of `candidates` closest to `word`, closest
/// first; only names a few edits away count.
pub fn closest_names<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str>) -> Vec<String> {
    let limit = (word.chars().count() / 3).clamp(1, 4);
    let mut scored: Vec<(usize, &str)> = candidates
        .into_iter()
        .filter(|c| *c != word)
        .map(|c| (strsim::osa_distance(word, c), c))
        .filter(|(d, _)| *d <= limit)
        .collect();
    scored.sort();
    scored.dedup_by(|a, b| a.1 == b.1);
    scored
        .into_iter()
        .take(3)
        .map(|(_, c)| c.to_string())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggestions_read_naturally() {
        assert_eq!(did_you_mean(&[]), "");
        assert_eq!(did_you_mean(&["a".into()]), " (did you mean `a`?)");
        assert_eq!(
            did_you_mean(&["a".into(), "b".into(), "c".into()]),
            " (did you mean `a`, `b` or `c`?)"
        );
        assert_eq!(
            closest_names("handel", ["handle", "main", "mixed", "handle"]),
            vec!["handle".to_string()]
        );
    }
}
