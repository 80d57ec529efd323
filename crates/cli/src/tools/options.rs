//! BCC-style tool options (`-p PID`, `-i 5`, `-m`, `-T10`): a small getopt
//! over the flags a tool declares, and the target (PID or command) they
//! name.

use anyhow::{bail, Context, Result};

/// One option a tool accepts.
#[derive(Debug, Clone, Copy)]
pub struct Flag {
    /// The letter (`p` for `-p`).
    pub short: char,
    /// The value's name, or `None` for a switch.
    pub value: Option<&'static str>,
    /// One line of help.
    pub help: &'static str,
}

/// The options given to a tool.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Parsed {
    /// `(letter, value)` in order; switches have an empty value.
    pub flags: Vec<(char, String)>,
    /// The other arguments, in order.
    pub positional: Vec<String>,
}

impl Parsed {
    /// The last value of `-letter`.
    pub fn value(&self, letter: char) -> Option<&str> {
        self.flags
            .iter()
            .rev()
            .find(|(l, _)| *l == letter)
            .map(|(_, v)| v.as_str())
    }

    /// True when the switch `-letter` was given.
    pub fn has(&self, letter: char) -> bool {
        self.flags.iter().any(|(l, _)| *l == letter)
    }

    /// The value of `-letter` as a number, `default` when absent.
    pub fn number(&self, letter: char, default: u64) -> Result<u64> {
        match self.value(letter) {
            None => Ok(default),
            Some(v) => v
                .parse()
                .with_context(|| format!("-{letter}: `{v}` is not a non-negative integer")),
        }
    }
}

/// Parses `args` against `flags`: `-x`, `-xVALUE`, `-x VALUE`, grouped
/// switches (`-Lm`), `--` ending the options.
pub fn parse(tool: &str, flags: &[Flag], args: &[String]) -> Result<Parsed> {
    let mut parsed = Parsed::default();
    let mut i = 0;
    while i < args.len() {
        let arg = &args[i];
        i += 1;
        if arg == "--" {
            parsed.positional.extend(args[i..].iter().cloned());
            break;
        }
        let Some(letters) = arg.strip_prefix('-').filter(|l| !l.is_empty()) else {
            parsed.positional.push(arg.clone());
            continue;
        };
        for (at, letter) in letters.char_indices() {
            let Some(flag) = flags.iter().find(|f| f.short == letter) else {
                bail!("{tool}: unknown option -{letter} (see `ustrace tool {tool} -h`)");
            };
            if flag.value.is_none() {
                parsed.flags.push((letter, String::new()));
                continue;
            }
            let attached = &letters[at + letter.len_utf8()..];
            let value = if !attached.is_empty() {
                attached.to_string()
            } else if let Some(next) = args.get(i) {
                i += 1;
                next.clone()
            } else {
                bail!("{tool}: option -{letter} needs a value");
            };
            parsed.flags.push((letter, value));
            break;
        }
    }
    Ok(parsed)
}

/// The process a tool traces: `-p PID` or `-c CMD`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// A running process.
    Pid(u32),
    /// A command ustrace starts.
    Command(String),
    /// Every process using the traced file.
    All,
}

impl Target {
    /// From `-p`, `-c`, or a positional PID (`pid_arg`).
    pub fn from(parsed: &Parsed, pid_arg: Option<&str>) -> Result<Target> {
        let pid = parsed.value('p').or(pid_arg);
        match (pid, parsed.value('c')) {
            (Some(_), Some(_)) => bail!("give a PID or -c CMD, not both"),
            (Some(p), None) => {
                let pid: u32 = p
                    .parse()
                    .with_context(|| format!("`{p}` is not a process id"))?;
                if !std::path::Path::new(&format!("/proc/{pid}")).exists() {
                    bail!("process {pid} does not exist");
                }
                Ok(Target::Pid(pid))
            }
            (None, Some(c)) => Ok(Target::Command(c.to_string())),
            (None, None) => Ok(Target::All),
        }
    }

    /// The executable of the process, for probes in the program itself:
    /// `/proc/PID/exe` resolved, or the command's first word looked up in
    /// PATH.
    pub fn executable(&self) -> Result<Option<String>> {
        match self {
            Target::Pid(pid) => {
                let exe = std::fs::read_link(format!("/proc/{pid}/exe"))
                    .with_context(|| format!("reading /proc/{pid}/exe"))?;
                Ok(Some(exe.display().to_string()))
            }
            Target::Command(cmd) => {
                let Some(first) = cmd.split_whitespace().next() else {
                    bail!("-c: empty command");
                };
                let exe = which(first)?;
                let mut magic = [0u8; 4];
                let is_elf = std::fs::File::open(&exe)
                    .and_then(|mut f| std::io::Read::read_exact(&mut f, &mut magic))
                    .map(|()| &magic == b"\x7fELF")
                    .unwrap_or(false);
                if !is_elf {
                    bail!("-c: `{exe}` is not an ELF executable (a script or a shim?): give the program's own path, e.g. /usr/bin/python3.11");
                }
                Ok(Some(exe))
            }
            Target::All => Ok(None),
        }
    }
}

/// `name` as a path: itself when it has a `/`, else the first match in
/// PATH.
fn which(name: &str) -> Result<String> {
    if name.contains('/') {
        return Ok(name.to_string());
    }
    match in_path(name) {
        Some(found) => Ok(found),
        None => bail!("-c: `{name}` not found in PATH"),
    }
}

/// The first file called `name` in a PATH directory, resolved.
pub fn in_path(name: &str) -> Option<String> {
    let path = std::env::var("PATH").unwrap_or_default();
    path.split(':')
        .filter(|d| !d.is_empty())
        .map(|dir| std::path::Path::new(dir).join(name))
        .find(|candidate| candidate.is_file())
        .map(|candidate| {
            let real = std::fs::canonicalize(&candidate).unwrap_or(candidate);
            real.display().to_string()
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const FLAGS: &[Flag] = &[
        Flag {
            short: 'p',
            value: Some("PID"),
            help: "",
        },
        Flag {
            short: 'm',
            value: None,
            help: "",
        },
        Flag {
            short: 'T',
            value: Some("N"),
            help: "",
        },
    ];

    fn args(a: &[&str]) -> Vec<String> {
        a.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn forms_of_options() {
        let p = parse("t", FLAGS, &args(&["-mT5", "-p", "12", "x", "--", "-m"])).unwrap();
        assert!(p.has('m'));
        assert_eq!(p.value('T'), Some("5"));
        assert_eq!(p.value('p'), Some("12"));
        assert_eq!(p.positional, args(&["x", "-m"]));
    }

    #[test]
    fn errors_name_the_option() {
        let e = parse("t", FLAGS, &args(&["-z"])).unwrap_err();
        assert_eq!(
            e.to_string(),
            "t: unknown option -z (see `ustrace tool t -h`)"
        );
        let e = parse("t", FLAGS, &args(&["-p"])).unwrap_err();
        assert_eq!(e.to_string(), "t: option -p needs a value");
        let p = parse("t", FLAGS, &args(&["-Tx"])).unwrap();
        assert!(p.number('T', 0).is_err());
    }

    proptest! {
        #[test]
        fn never_panics(a in proptest::collection::vec("-?[pmTz0-9é]{0,4}", 0..6)) {
            let _ = parse("t", FLAGS, &a);
        }
    }
}
