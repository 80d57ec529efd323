//! Reading a running script's maps from another thread (`--metrics`
//! scrapes): [`Tracer::map_reader`] hands out a [`MapReader`] that owns
//! duplicates of the map descriptors, so a read never waits for the event
//! loop and the event loop never waits for a read.

use std::collections::HashMap;
use std::sync::Arc;

use ustrace_codegen::program::{FieldKind, MapRole, ValueKind};
use ustrace_lang::ast::{self, Block, ExprKind, StmtKind};
use ustrace_output::metrics::MetricType;
use ustrace_output::MapEntry;
use ustrace_runtime::MapAccess;

use crate::stacks::StackFormatter;
use crate::values::Namer;
use crate::{Error, Script, Tracer};

/// What is known about one of a script's maps before it runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MapInfo {
    /// The name, with `@`.
    pub name: String,
    /// The script line that fills the map (trimmed), for `# HELP`.
    pub help: String,
    /// The metric it becomes; `None` for a map of strings.
    pub metric: Option<MetricType>,
    /// True when a key field is a user stack (a flame graph / profile).
    pub stack_keyed: bool,
    /// Key fields: 0 for a scalar map (`@x = 1`), 1 for `@x[k]`, 2 and
    /// more for tuple keys.
    pub key_fields: usize,
    pub(crate) index: usize,
}

impl Script {
    /// The script's maps, in name order.
    pub fn maps(&self) -> Vec<MapInfo> {
        let lines = fill_lines(&self.ast, &self.source);
        let mut out: Vec<MapInfo> = self
            .compiled
            .maps
            .iter()
            .enumerate()
            .filter_map(|(index, m)| match &m.role {
                MapRole::User(u) => Some(MapInfo {
                    name: u.name.clone(),
                    help: lines.get(&u.name).cloned().unwrap_or_default(),
                    metric: metric_type(u.value),
                    stack_keyed: u.key.iter().any(|f| matches!(f, FieldKind::UStack(_))),
                    key_fields: u.key.len(),
                    index,
                }),
                _ => None,
            })
            .collect();
        out.sort_by(|a, b| a.name.cmp(&b.name));
        out
    }
}

fn metric_type(v: ValueKind) -> Option<MetricType> {
    Some(match v {
        ValueKind::Count => MetricType::Counter,
        ValueKind::Int { .. }
        | ValueKind::Bool
        | ValueKind::Sum
        | ValueKind::Min
        | ValueKind::Max => MetricType::Gauge,
        ValueKind::Avg | ValueKind::Stats => MetricType::Summary,
        ValueKind::Hist | ValueKind::FineHist { .. } | ValueKind::Lhist { .. } => {
            MetricType::Histogram
        }
        ValueKind::Str(_)
        | ValueKind::Tuple { .. }
        | ValueKind::Named(_)
        | ValueKind::Tseries { .. } => return None,
    })
}

/// For each map (name with `@`), the trimmed source line of its first
/// assignment, or of its first mention when it is never assigned.
fn fill_lines(script: &ast::Script, source: &str) -> HashMap<String, String> {
    let mut assigned: HashMap<String, usize> = HashMap::new();
    for probe in &script.probes {
        assignments(&probe.body, &mut assigned);
    }
    let mut mentioned: HashMap<String, usize> = HashMap::new();
    ast::visit_exprs(script, &mut |e| {
        if let ExprKind::Map { name, .. } = &e.kind {
            mentioned.entry(format!("@{name}")).or_insert(e.span.start);
        }
    });
    for (name, at) in assigned {
        mentioned.insert(name, at);
    }
    mentioned
        .into_iter()
        .map(|(name, at)| (name, line_at(source, at)))
        .collect()
}

fn assignments(block: &Block, out: &mut HashMap<String, usize>) {
    for stmt in &block.stmts {
        match &stmt.kind {
            StmtKind::Assign { target, .. } => {
                if let ExprKind::Map { name, .. } = &target.kind {
                    out.entry(format!("@{name}")).or_insert(stmt.span.start);
                }
            }
            StmtKind::If {
                then_block,
                else_block,
                ..
            } => {
                assignments(then_block, out);
                if let Some(b) = else_block {
                    assignments(b, out);
                }
            }
            StmtKind::While { body, .. }
            | StmtKind::Unroll { body, .. }
            | StmtKind::Block(body) => assignments(body, out),
            _ => {}
        }
    }
}

/// The line of `source` holding byte `at`, trimmed.
fn line_at(source: &str, at: usize) -> String {
    let at = at.min(source.len());
    let start = source[..at].rfind('\n').map_or(0, |i| i + 1);
    let end = source[at..].find('\n').map_or(source.len(), |i| at + i);
    source.get(start..end).unwrap_or("").trim().to_string()
}

/// Reads the maps of a running [`Tracer`] from any thread. Cheap to clone;
/// valid for as long as it lives, even after the tracer is dropped.
#[derive(Clone)]
pub struct MapReader {
    inner: Arc<ReaderInner>,
}

struct ReaderInner {
    script: Arc<Script>,
    access: MapAccess,
}

thread_local! {
    /// Stack and symbol names, kept between the reads of one thread (the
    /// symbolizer's caches cannot move between threads).
    static STACKS: StackFormatter = StackFormatter::new();
}

impl Tracer {
    /// A [`MapReader`] for this tracer's maps.
    pub fn map_reader(&self) -> Result<MapReader, Error> {
        let access = self.session.map_access().map_err(|e| Error::Kernel {
            message: format!("cannot share the BPF maps with a reader thread: {e}"),
            details: String::new(),
        })?;
        Ok(MapReader {
            inner: Arc::new(ReaderInner {
                script: Arc::clone(&self.script),
                access,
            }),
        })
    }
}

impl MapReader {
    /// The script's maps, as [`Script::maps`] lists them.
    pub fn maps(&self) -> Vec<MapInfo> {
        self.inner.script.maps()
    }

    /// The entries of one map now (unsorted), combined across CPUs.
    pub fn read(&self, map: &MapInfo) -> Result<Vec<MapEntry>, Error> {
        let inner = &self.inner;
        let Some(MapRole::User(user)) = inner.script.compiled.maps.get(map.index).map(|m| &m.role)
        else {
            return Ok(Vec::new());
        };
        let raw = inner.access.read_map(map.index);
        STACKS.with(|stacks| {
            stacks.set_demangling(inner.script.ast.config.cpp_demangle.unwrap_or(true));
            let namer = Namer {
                script: &inner.script,
                stacks,
                source: &inner.access,
                seen_pids: None,
            };
            namer.entries(user, &raw)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reader_moves_between_threads() {
        fn shared<T: Send + Sync>() {}
        shared::<MapReader>();
    }

    #[test]
    fn help_is_the_assigning_line() {
        let src =
            "BEGIN {\n  if (1) { @a = count(); }\n}\nEND { print(@b); }\nBEGIN { @b[1] = 2; }";
        let ast = ustrace_lang::parse(src).expect("parses");
        let lines = fill_lines(&ast, src);
        assert_eq!(lines["@a"], "if (1) { @a = count(); }");
        assert_eq!(lines["@b"], "BEGIN { @b[1] = 2; }");
        assert_eq!(line_at("abc", 99), "abc");
    }
}
