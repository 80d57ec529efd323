//! The language runtimes the u* tools trace (`-l LANG`): where each one's
//! USDT probes are (the file a process maps, next to a command, or
//! installed), what a process needs for them to fire, and which runtimes
//! running processes use (ustat's discovery).

use std::path::{Path, PathBuf};

use anyhow::{bail, Result};

use super::options::Target;

/// A language of `-l`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    /// CPython (the `python` provider, in the executable or libpython).
    Python,
    /// OpenJDK (the `hotspot` provider, in libjvm.so).
    Java,
    /// CRuby (the `ruby` provider, in libruby).
    Ruby,
    /// PHP (the `php` provider, in the php executable).
    Php,
    /// C: uprobes on the program and libc, no runtime.
    C,
}

/// Every language with a runtime, in ustat's order.
pub const RUNTIMES: [Lang; 4] = [Lang::Python, Lang::Java, Lang::Ruby, Lang::Php];

/// The JVM option that turns on the method and allocation probes.
pub const JAVA_EXTENDED: &str = "-XX:+ExtendedDTraceProbes";

impl Lang {
    /// The name given to `-l`.
    pub fn name(self) -> &'static str {
        match self {
            Lang::Python => "python",
            Lang::Java => "java",
            Lang::Ruby => "ruby",
            Lang::Php => "php",
            Lang::C => "c",
        }
    }

    /// The language named `name`.
    pub fn parse(name: &str) -> Option<Lang> {
        [Lang::Python, Lang::Java, Lang::Ruby, Lang::Php, Lang::C]
            .into_iter()
            .find(|l| l.name() == name)
    }

    /// The USDT provider of the runtime (empty for C).
    fn provider(self) -> &'static str {
        match self {
            Lang::Python => "python",
            Lang::Java => "hotspot",
            Lang::Ruby => "ruby",
            Lang::Php => "php",
            Lang::C => "",
        }
    }

    /// True when a mapped file's name looks like this runtime's.
    fn names_file(self, file_name: &str) -> bool {
        match self {
            Lang::Python => file_name.starts_with("python3") || file_name.starts_with("libpython3"),
            Lang::Java => file_name == "libjvm.so",
            Lang::Ruby => file_name.starts_with("libruby") || file_name.starts_with("ruby"),
            Lang::Php => file_name.starts_with("php") || file_name.starts_with("libphp"),
            Lang::C => false,
        }
    }

    /// The runtime's usual files on Debian 12, for when no process names
    /// one.
    fn installed(self) -> &'static [&'static str] {
        match self {
            Lang::Python => &["/usr/bin/python3.11"],
            Lang::Java => &["/usr/lib/jvm/default-java/lib/server/libjvm.so"],
            Lang::Ruby => &["/usr/lib/x86_64-linux-gnu/libruby-3.1.so.3.1"],
            Lang::Php => &["/usr/bin/php8.2"],
            Lang::C => &[],
        }
    }
}

/// The language of `-l` (`default` when absent), refusing one the tool
/// does not support.
pub fn language(value: Option<&str>, default: Lang, allowed: &[Lang]) -> Result<Lang> {
    let names = || {
        allowed
            .iter()
            .map(|l| l.name())
            .collect::<Vec<_>>()
            .join(", ")
    };
    let Some(name) = value else {
        return Ok(default);
    };
    match Lang::parse(name) {
        Some(lang) if allowed.contains(&lang) => Ok(lang),
        Some(_) => bail!(
            "-l {name}: not supported by this tool; supported: {}",
            names()
        ),
        None => bail!("-l {name}: unknown language; supported: {}", names()),
    }
}

/// True when `file` has USDT probes of `lang`'s provider.
fn has_probes(lang: Lang, file: &str) -> bool {
    ustrace::list_probes(&format!("usdt:{file}:{}:*", lang.provider()), None, false)
        .map(|lines| !lines.is_empty())
        .unwrap_or(false)
}

/// The files `pid` maps (its executable first), without duplicates.
fn mapped_files(pid: u32) -> Vec<String> {
    let mut files: Vec<String> = Vec::new();
    if let Ok(exe) = std::fs::read_link(format!("/proc/{pid}/exe")) {
        files.push(exe.display().to_string());
    }
    let maps = std::fs::read_to_string(format!("/proc/{pid}/maps")).unwrap_or_default();
    for path in maps.lines().filter_map(|l| l.split_whitespace().nth(5)) {
        if path.starts_with('/') && !files.iter().any(|f| f == path) {
            files.push(path.to_string());
        }
    }
    files
}

/// The file of `lang`'s runtime among `files` that has its probes.
fn runtime_among(lang: Lang, files: &[String]) -> Option<String> {
    files
        .iter()
        .filter(|f| {
            Path::new(f)
                .file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| lang.names_file(n))
        })
        .find(|f| has_probes(lang, f))
        .cloned()
}

/// The libraries a command's executable may load its runtime from: the
/// executable itself, then the files of the runtime's name in its
/// `../lib` and the system's library directories.
fn command_candidates(lang: Lang, exe: &Path) -> Vec<String> {
    let mut files = vec![exe.display().to_string()];
    let mut dirs: Vec<PathBuf> = Vec::new();
    if let Some(home) = exe.parent().and_then(Path::parent) {
        dirs.push(home.join("lib"));
        dirs.push(home.join("lib/server"));
    }
    for d in ["/usr/lib/x86_64-linux-gnu", "/usr/lib", "/usr/local/lib"] {
        dirs.push(PathBuf::from(d));
    }
    for dir in dirs {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        let mut names: Vec<PathBuf> = entries.filter_map(|e| e.ok()).map(|e| e.path()).collect();
        names.sort();
        for path in names {
            let named = path
                .file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("lib") && lang.names_file(n));
            if named && path.is_file() {
                files.push(path.display().to_string());
            }
        }
    }
    files
}

/// The file with `lang`'s probes for `target`: the one the process maps,
/// the command's executable or a runtime library beside it, or the
/// installed runtime.
pub fn runtime_file(lang: Lang, target: &Target) -> Result<String> {
    let found = match target {
        Target::Pid(pid) => {
            let found = runtime_among(lang, &mapped_files(*pid));
            if found.is_none() {
                bail!(
                    "process {pid} maps no {} runtime with `{}` USDT probes",
                    lang.name(),
                    lang.provider()
                );
            }
            found
        }
        Target::Command(_) => {
            let Some(exe) = target.executable()? else {
                bail!("-c: empty command");
            };
            let exe = std::fs::canonicalize(&exe).unwrap_or_else(|_| exe.into());
            if has_probes(lang, &exe.display().to_string()) {
                Some(exe.display().to_string())
            } else {
                runtime_among(lang, &command_candidates(lang, &exe))
            }
        }
        Target::All => installed(lang),
    };
    match found {
        Some(f) => Ok(f),
        None => bail!(
            "no {} runtime with `{}` USDT probes found (looked at {}): give a PID",
            lang.name(),
            lang.provider(),
            lang.installed().join(", ")
        ),
    }
}

/// The installed file of `lang` (symbolic links resolved), when it has
/// the runtime's probes.
fn installed(lang: Lang) -> Option<String> {
    lang.installed()
        .iter()
        .filter_map(|f| std::fs::canonicalize(f).ok())
        .map(|p| p.display().to_string())
        .find(|f| has_probes(lang, f))
}

/// The runtimes the running processes use, one file per language (the one
/// most processes map), plus the installed runtimes no process uses yet
/// (processes started later are traced too): ustat's discovery.
pub fn discover(langs: &[Lang]) -> Vec<(Lang, String)> {
    let mut seen: Vec<(Lang, String, usize)> = Vec::new();
    let pids: Vec<u32> = std::fs::read_dir("/proc")
        .map(|d| {
            d.filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
                .collect()
        })
        .unwrap_or_default();
    let own = std::process::id();
    for pid in pids.into_iter().filter(|&p| p != own) {
        let files = mapped_files(pid);
        for &lang in langs {
            let named = files.iter().find(|f| {
                Path::new(f)
                    .file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| lang.names_file(n))
            });
            let Some(file) = named else { continue };
            match seen.iter_mut().find(|(l, f, _)| *l == lang && f == file) {
                Some(entry) => entry.2 += 1,
                None => seen.push((lang, file.clone(), 1)),
            }
        }
    }
    seen.sort_by_key(|s| std::cmp::Reverse(s.2));
    let mut out: Vec<(Lang, String)> = Vec::new();
    for &lang in langs {
        let running = seen
            .iter()
            .filter(|(l, _, _)| *l == lang)
            .map(|(_, f, _)| f.clone())
            .find(|f| has_probes(lang, f));
        if let Some(file) = running.or_else(|| installed(lang)) {
            out.push((lang, file));
        }
    }
    out
}

/// Checks that a JVM's method and allocation probes can fire: its command
/// line has -XX:+ExtendedDTraceProbes.
pub fn check_java_extended(target: &Target) -> Result<()> {
    let missing = || {
        anyhow::anyhow!(
            "-l java: the JVM's method and allocation probes fire only with {JAVA_EXTENDED}: add it to the java command line"
        )
    };
    match target {
        Target::Pid(pid) => {
            let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
            if String::from_utf8_lossy(&cmdline).contains(JAVA_EXTENDED) {
                Ok(())
            } else {
                Err(missing())
            }
        }
        Target::Command(cmd) if !cmd.contains(JAVA_EXTENDED) => Err(missing()),
        Target::Command(_) | Target::All => Ok(()),
    }
}

/// A Ruby file that enables a TracePoint for calls and returns: with it
/// loaded (RUBYOPT=-rFILE), Ruby 3.1 fires method__entry/return for
/// methods written in Ruby (Ruby bug #14582).
const RUBY_TRACEPOINT: &str =
    "# Written by ustrace: Ruby fires its method__entry/return USDT probes\n\
# only while a TracePoint for :call/:return is enabled (Ruby bug #14582).\n\
TracePoint.new(:call, :return) {}.enable\n";

/// The environment a `-c` command of `lang` needs for its probes to fire:
/// `USE_ZEND_DTRACE=1` for PHP, a RUBYOPT loading a TracePoint for Ruby's
/// method probes (`ruby_methods`).
pub fn command_environment(lang: Lang, ruby_methods: bool) -> Result<Vec<(String, String)>> {
    match lang {
        Lang::Php => Ok(vec![("USE_ZEND_DTRACE".into(), "1".into())]),
        Lang::Ruby if ruby_methods => {
            let file = private_dir()?.join("ruby-tracepoint.rb");
            std::fs::write(&file, RUBY_TRACEPOINT)
                .map_err(|e| anyhow::anyhow!("writing {}: {e}", file.display()))?;
            let mut opt = format!("-r{}", file.display());
            if let Ok(old) = std::env::var("RUBYOPT") {
                if !old.trim().is_empty() {
                    opt = format!("{old} {opt}");
                }
            }
            Ok(vec![("RUBYOPT".into(), opt)])
        }
        _ => Ok(Vec::new()),
    }
}

/// ustrace's own directory in the temporary directory
/// (`ustrace-EUID`, mode 0700), created when missing and refused unless
/// it is a directory of ours that nobody else may write: a file written
/// there by root cannot be redirected by another user's symbolic link.
fn private_dir() -> Result<PathBuf> {
    use std::os::unix::fs::{DirBuilderExt, MetadataExt};
    // SAFETY: geteuid has no preconditions.
    let euid = unsafe { libc::geteuid() };
    let dir = std::env::temp_dir().join(format!("ustrace-{euid}"));
    match std::fs::DirBuilder::new().mode(0o700).create(&dir) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
        Err(e) => bail!("creating {}: {e}", dir.display()),
    }
    let meta = std::fs::symlink_metadata(&dir)
        .map_err(|e| anyhow::anyhow!("reading {}: {e}", dir.display()))?;
    if !meta.is_dir() || meta.uid() != euid || meta.mode() & 0o077 != 0 {
        bail!(
            "{} is not a private directory of user {euid}: remove it",
            dir.display()
        );
    }
    Ok(dir)
}

/// Checks that a running PHP process has `USE_ZEND_DTRACE=1` in its
/// environment (else its probes never fire).
pub fn check_php_process(target: &Target) -> Result<()> {
    if let Target::Pid(pid) = target {
        let environ = std::fs::read(format!("/proc/{pid}/environ")).unwrap_or_default();
        let set = environ
            .split(|&b| b == 0)
            .any(|var| var == b"USE_ZEND_DTRACE=1");
        if !set {
            bail!("-l php: process {pid} runs without USE_ZEND_DTRACE=1 in its environment, so PHP's probes never fire: start it with USE_ZEND_DTRACE=1");
        }
    }
    Ok(())
}

/// The warning printed before tracing Ruby's method probes.
pub const RUBY_METHOD_WARNING: &str = "warning: while Ruby 3.1's method probes are traced, Ruby runs its own rb_dtrace_setup() on every call, which crashes some runs during RubyGems' start-up (Ruby's bug, reproduced without ustrace; `ruby --disable-gems` avoids it: see docs/tools.md)";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn languages_parse_and_are_checked() {
        assert_eq!(
            language(Some("ruby"), Lang::Python, &[Lang::Ruby]).ok(),
            Some(Lang::Ruby)
        );
        assert_eq!(
            language(None, Lang::Python, &[Lang::Ruby]).ok(),
            Some(Lang::Python)
        );
        let e = language(Some("cobol"), Lang::Python, &[Lang::Python, Lang::C]).unwrap_err();
        assert_eq!(
            e.to_string(),
            "-l cobol: unknown language; supported: python, c"
        );
        let e = language(Some("php"), Lang::Python, &[Lang::Java]).unwrap_err();
        assert_eq!(
            e.to_string(),
            "-l php: not supported by this tool; supported: java"
        );
    }

    #[test]
    fn runtime_file_names() {
        assert!(Lang::Ruby.names_file("libruby-3.1.so.3.1"));
        assert!(Lang::Python.names_file("libpython3.11.so.1.0"));
        assert!(Lang::Java.names_file("libjvm.so"));
        assert!(!Lang::Java.names_file("libjava.so"));
        assert!(Lang::Php.names_file("php8.2"));
    }

    #[test]
    fn php_gets_its_dtrace_switch() {
        assert_eq!(
            command_environment(Lang::Php, true).unwrap(),
            vec![("USE_ZEND_DTRACE".to_string(), "1".to_string())]
        );
        assert!(command_environment(Lang::Java, true).unwrap().is_empty());
    }
}
