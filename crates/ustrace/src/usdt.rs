//! The BCC-style USDT API: pick a process or a binary, list its probes,
//! enable some, and receive each hit with its arguments as numbers.
//!
//! This is the Rust counterpart of BCC's `USDT(pid=...)` +
//! `enable_probe(...)`. Under the hood it writes one small script per
//! enabled probe (`usdt:PATH:PROVIDER:NAME { printf(..., pid, tid, probe,
//! arg0, ...) }`) and runs it through the same compiler and runtime as the
//! `ustrace` command, so there is one path from probe to event.
//!
//! ```no_run
//! let usdt = ustrace::Usdt::for_pid(1234).enable_probe("test_grp:test_idx")?;
//! let script = usdt.compile()?;
//! let mut tracer = script.start()?;
//! loop {
//!     for hit in tracer.poll(std::time::Duration::from_millis(100))? {
//!         println!("{} {} {:?}", hit.pid, hit.probe, hit.args);
//!     }
//! }
//! # Ok::<(), ustrace::Error>(())
//! ```

use ustrace_output::Value;
use ustrace_probes::{find_usdt_probes, ProbeError, UsdtPattern};

use crate::{Error, Record, Script, ScriptOptions, Tracer};

/// Where to look for probes: a running process or a binary/library.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Target {
    Pid(u32),
    Path(String),
}

/// A probe that can be enabled, as BCC's `tplist` shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProbeInfo {
    /// The file that holds the probe (as the process sees it).
    pub path: String,
    /// Provider.
    pub provider: String,
    /// Name.
    pub name: String,
    /// Number of locations (inlined copies).
    pub locations: usize,
    /// Number of arguments (the smallest over all locations).
    pub arg_count: usize,
    /// True when the probe is guarded by a semaphore.
    pub has_semaphore: bool,
}

/// A set of USDT probes to enable in one process or file.
#[derive(Debug, Clone)]
pub struct Usdt {
    target: Target,
    enabled: Vec<ProbeInfo>,
}

/// One probe hit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsdtEvent {
    /// Process id.
    pub pid: u32,
    /// Thread id.
    pub tid: u32,
    /// `usdt:PATH:PROVIDER:NAME`.
    pub probe: String,
    /// The arguments, as 64-bit values (signed ones sign-extended).
    pub args: Vec<u64>,
}

impl Usdt {
    /// Probes of process `pid`: its program and every library it has mapped.
    /// Enabled probes fire only in this process.
    pub fn for_pid(pid: u32) -> Usdt {
        Usdt {
            target: Target::Pid(pid),
            enabled: Vec::new(),
        }
    }

    /// Probes of one binary or library (a bare library name is looked up as
    /// the dynamic linker would). Enabled probes fire in every process.
    pub fn for_path(path: &str) -> Usdt {
        Usdt {
            target: Target::Path(path.to_string()),
            enabled: Vec::new(),
        }
    }

    fn pattern(&self, provider: Option<&str>, name: &str) -> (UsdtPattern, Option<u32>) {
        let (path, pid) = match &self.target {
            Target::Pid(p) => ("*".to_string(), Some(*p)),
            Target::Path(p) => (p.clone(), None),
        };
        (
            UsdtPattern {
                path,
                provider: provider.map(str::to_string),
                name: name.to_string(),
            },
            pid,
        )
    }

    fn find(&self, provider: Option<&str>, name: &str) -> Result<Vec<ProbeInfo>, Error> {
        let (pattern, pid) = self.pattern(provider, name);
        let mut out: Vec<ProbeInfo> = find_usdt_probes(&pattern, pid)?
            .into_iter()
            .map(|f| ProbeInfo {
                path: f.display_path,
                provider: f.probe.provider,
                name: f.probe.name,
                locations: f.probe.locations.len(),
                arg_count: f
                    .probe
                    .locations
                    .iter()
                    .map(|l| l.args.len())
                    .min()
                    .unwrap_or(0),
                has_semaphore: f
                    .probe
                    .locations
                    .iter()
                    .any(|l| l.semaphore_offset.is_some()),
            })
            .collect();
        out.sort_by(|a, b| (&a.path, &a.provider, &a.name).cmp(&(&b.path, &b.provider, &b.name)));
        out.dedup_by(|a, b| a.path == b.path && a.provider == b.provider && a.name == b.name);
        Ok(out)
    }

    /// Every probe of the target (BCC's `tplist`).
    pub fn probes(&self) -> Result<Vec<ProbeInfo>, Error> {
        self.find(None, "*")
    }

    /// Enables the probes named `PROVIDER:NAME` or `NAME` (wildcards
    /// allowed). Fails when nothing matches.
    pub fn enable_probe(mut self, probe: &str) -> Result<Usdt, Error> {
        let (provider, name) = match probe.split_once(':') {
            Some((p, n)) => (Some(p), n),
            None => (None, probe),
        };
        if name.is_empty() || name.contains(':') || probe.contains(char::is_whitespace) {
            return Err(Error::Probe(ProbeError::BadPattern {
                pattern: probe.to_string(),
                reason: "expected PROVIDER:NAME or NAME".to_string(),
            }));
        }
        self.enabled.extend(self.find(provider, name)?);
        Ok(self)
    }

    /// The probes enabled so far.
    pub fn enabled(&self) -> &[ProbeInfo] {
        &self.enabled
    }

    /// The script this set of probes runs (one block per probe).
    pub fn script_text(&self) -> String {
        let mut text = String::new();
        for p in &self.enabled {
            let mut fmt = String::from("%u %u %s");
            let mut args = String::from("pid, tid, probe");
            for i in 0..p.arg_count {
                fmt.push_str(" %d");
                args.push_str(&format!(", arg{i}"));
            }
            text.push_str(&format!(
                "usdt:{}:{}:{} {{ printf(\"{fmt}\", {args}); }}\n",
                p.path, p.provider, p.name
            ));
        }
        text
    }

    /// Compiles the enabled probes into programs ready to attach.
    pub fn compile(&self) -> Result<UsdtScript, Error> {
        if self.enabled.is_empty() {
            return Err(Error::Probe(ProbeError::BadPattern {
                pattern: String::new(),
                reason: "no probe enabled (call enable_probe first)".to_string(),
            }));
        }
        let pid = match self.target {
            Target::Pid(p) => Some(p),
            Target::Path(_) => None,
        };
        let options = match pid {
            Some(pid) => ScriptOptions::builder().pid(pid),
            None => ScriptOptions::builder(),
        }
        .build();
        let script = Script::compile(&self.script_text(), "usdt", &options)?;
        Ok(UsdtScript { script })
    }
}

/// Compiled USDT probes; [`UsdtScript::start`] attaches them.
pub struct UsdtScript {
    script: Script,
}

impl UsdtScript {
    /// Loads and attaches the programs (raising semaphores).
    pub fn start(&self) -> Result<UsdtTracer, Error> {
        Ok(UsdtTracer {
            tracer: self.script.start()?,
        })
    }
}

/// Attached USDT probes. Dropping it detaches them.
pub struct UsdtTracer {
    tracer: Tracer,
}

impl UsdtTracer {
    /// Waits up to `timeout` and returns the hits that arrived, in order.
    pub fn poll(&mut self, timeout: std::time::Duration) -> Result<Vec<UsdtEvent>, Error> {
        Ok(self
            .tracer
            .poll(timeout)?
            .into_iter()
            .filter_map(to_event)
            .collect())
    }

    /// Hits dropped because the buffer was full.
    pub fn lost_events(&self) -> Result<u64, Error> {
        self.tracer.lost_events()
    }
}

fn to_event(r: Record) -> Option<UsdtEvent> {
    let Record::Printf { args, .. } = r else {
        return None;
    };
    let num = |v: &Value| v.bits().unwrap_or(0);
    let mut it = args.iter();
    let pid = num(it.next()?) as u32;
    let tid = num(it.next()?) as u32;
    let probe = match it.next()? {
        Value::Str(s) => String::from_utf8_lossy(s).into_owned(),
        _ => return None,
    };
    Some(UsdtEvent {
        pid,
        tid,
        probe,
        args: it.map(num).collect(),
    })
}
