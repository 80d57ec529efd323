//! BCC's argdist: `TYPE:LIB:FUNC(SIGNATURE)[:TYPES:EXPRS[:FILTER]][#LABEL]`
//! specifiers as one ustrace script. `-C` counts each distinct value (a
//! map keyed by the expressions), `-H` makes a log2 histogram of one
//! expression; every interval the script prints the time and each map and
//! clears it. Return probes may use `$retval`, `$latency` and
//! `$entry(PARAM)` (saved per thread by an entry probe).

use std::fmt::Write as _;
use std::ops::Range;

use ustrace::output::{MapEntry, Value};

use super::cexpr::{self, c_type, CType, Name};
use super::probe::{self, Kind, Point};
use super::{split_top_level, SpecError};

/// The options of argdist that shape the script.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Options {
    /// Seconds between prints (`-i`, default 1).
    pub interval: u64,
    /// Prints before exiting (`-n`), 0 for no limit.
    pub count: u64,
    /// Bytes read for `char *` values (`-z`, default 80 as BCC).
    pub string_size: u64,
}

/// How one specifier's map is printed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Distribution {
    /// The map (`@p0`).
    pub map: String,
    /// The label, or the specifier as written.
    pub title: String,
    /// Counts or a histogram.
    pub kind: DistKind,
}

/// What a specifier collects.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DistKind {
    /// `-C`: a count per distinct value.
    Counts {
        /// The expressions as written, one per key field; empty for the
        /// default (`total calls`, or `retval` of a return probe).
        keys: Vec<String>,
        /// True for a return probe's default (`retval = N`).
        retval: bool,
    },
    /// `-H`: a log2 histogram of one expression.
    Hist {
        /// The histogram's heading (the label or the expression).
        label: String,
    },
}

/// The script for the `-C` specifiers `counts` and the `-H` specifiers
/// `hists`, with how each map is printed.
pub fn script(
    counts: &[String],
    hists: &[String],
    options: &Options,
) -> Result<(String, Vec<Distribution>), SpecError> {
    let mut out = super::config_line(options.string_size);
    let mut dists = Vec::new();
    let specs = counts
        .iter()
        .map(|s| (s, false))
        .chain(hists.iter().map(|s| (s, true)));
    for (index, (spec, hist)) in specs.enumerate() {
        let (blocks, dist) = probe_blocks(spec, hist, index)?;
        out.push_str(&blocks);
        dists.push(dist);
    }
    let mut print = String::from("time(\"[%H:%M:%S]\\n\"); ");
    for d in &dists {
        let _ = write!(print, "print({m}); clear({m}); ", m = d.map);
    }
    let stop = if options.count > 0 {
        format!(
            "@_prints++; if (@_prints >= {}) {{ @_done = 1; exit(); }} ",
            options.count
        )
    } else {
        String::new()
    };
    let _ = writeln!(
        out,
        "interval:s:{} {{ {print}{stop}}}",
        options.interval.max(1)
    );
    if options.count > 0 {
        let _ = writeln!(out, "END {{ if (@_done == 0) {{ {print}}} }}");
    } else {
        let _ = writeln!(out, "END {{ {print}}}");
    }
    Ok((out, dists))
}

/// The parts of a specifier, split at `:` (outside parentheses), each with
/// its span.
type Parts<'a> = Vec<(Range<usize>, &'a str)>;

/// The blocks of one specifier (map `@p{index}`) and how it prints.
fn probe_blocks(spec: &str, hist: bool, index: usize) -> Result<(String, Distribution), SpecError> {
    // An empty label (`...#`) is no label, as in BCC: the title is then
    // the specifier as written.
    let (body, label) = match split_top_level(spec, '#').as_slice() {
        [(_, body), (at, _), ..] => {
            let label = Some(spec[*at..].to_string()).filter(|l| !l.is_empty());
            (*body, label)
        }
        _ => (spec, None),
    };
    let mut parts: Parts<'_> = split_top_level(body, ':')
        .into_iter()
        .map(|(at, p)| (at..at + p.len(), p))
        .collect();
    // `u:LIB:PROVIDER:NAME()`: the provider joins the probe's part.
    if parts.len() > 3 && parts[0].1 == "u" && !parts[2].1.contains('(') {
        let joined = parts[2].0.start..parts[3].0.end;
        parts[2] = (joined.clone(), &body[joined]);
        parts.remove(3);
    }
    if parts.len() < 3 {
        return Err(SpecError::new(
            spec,
            0..body.len(),
            "expected TYPE:LIBRARY:FUNCTION(SIGNATURE)[:TYPES:EXPRESSIONS[:FILTER]][#LABEL]",
        ));
    }
    if let Some((span, _)) = parts.get(6) {
        return Err(SpecError::new(
            spec,
            span.start..body.len(),
            "extraneous `:`-separated parts",
        ));
    }
    let kind = probe::kind(spec, parts[0].1, parts[0].0.clone())?;
    let (func_span, func) = (parts[2].0.clone(), parts[2].1);
    let open = func.find('(').filter(|_| func.ends_with(')'));
    let Some(open) = open else {
        return Err(SpecError::new(
            spec,
            func_span,
            "expected FUNCTION(SIGNATURE), e.g. malloc(size_t size) or fork()",
        ));
    };
    let name = func[..open].trim();
    let point = probe::point(
        spec,
        kind,
        (parts[1].1, parts[1].0.clone()),
        (name, func_span.start..func_span.start + open),
    )?;
    let sig_span = func_span.start + open + 1..func_span.end - 1;
    let params = probe::signature(spec, sig_span.clone())?;
    if kind == Kind::Usdt && !params.is_empty() {
        return Err(SpecError::new(
            spec,
            sig_span,
            "USDT probes have no signature: use arg1, arg2, ...",
        ));
    }
    let mut probe = Translation {
        spec,
        point: &point,
        params: &params,
        index,
        latency: false,
        entries: Vec::new(),
    };
    let map = format!("@p{index}");
    let title = label.clone().unwrap_or_else(|| spec.to_string());
    let (collect, kind_out) = match parts.get(3) {
        None if hist && kind != Kind::Return => {
            return Err(SpecError::new(
                spec,
                0..body.len(),
                "a histogram (-H) needs a type and an expression",
            ))
        }
        None if kind == Kind::Return => {
            let collect = if hist {
                format!("{map} = hist((int32)retval);")
            } else {
                format!("{map}[(int32)retval] = count();")
            };
            let kind = match (hist, label) {
                (true, label) => DistKind::Hist {
                    label: label.unwrap_or_else(|| "retval".into()),
                },
                (false, _) => DistKind::Counts {
                    keys: Vec::new(),
                    retval: true,
                },
            };
            (collect, kind)
        }
        None => (
            format!("{map} = count();"),
            DistKind::Counts {
                keys: Vec::new(),
                retval: false,
            },
        ),
        Some((types_span, types)) => {
            let Some((exprs_span, exprs)) = parts.get(4) else {
                return Err(SpecError::new(
                    spec,
                    types_span.clone(),
                    "types without expressions: add :EXPRESSION after them",
                ));
            };
            let types: Vec<(Range<usize>, &str)> = split_top_level(types, ',')
                .into_iter()
                .map(|(at, t)| (types_span.start + at..types_span.start + at + t.len(), t))
                .collect();
            let exprs: Vec<(Range<usize>, &str)> = split_top_level(exprs, ',')
                .into_iter()
                .map(|(at, e)| (exprs_span.start + at..exprs_span.start + at + e.len(), e))
                .collect();
            if types.len() != exprs.len() {
                return Err(SpecError::new(
                    spec,
                    exprs_span.clone(),
                    format!("{} types but {} expressions", types.len(), exprs.len()),
                ));
            }
            if hist && exprs.len() > 1 {
                return Err(SpecError::new(
                    spec,
                    exprs_span.clone(),
                    "a histogram takes one expression",
                ));
            }
            let mut keys = Vec::new();
            for ((tspan, t), (espan, e)) in types.iter().zip(&exprs) {
                let Some(ty) = c_type(t) else {
                    return Err(SpecError::new(
                        spec,
                        tspan.clone(),
                        format!("unknown type `{}`", t.trim()),
                    ));
                };
                let value = probe.translate(e, espan.start)?;
                keys.push(match ty {
                    CType::Str if hist => {
                        return Err(SpecError::new(
                            spec,
                            tspan.clone(),
                            "a histogram needs an integer, not a string",
                        ))
                    }
                    CType::Str => format!("str({value})"),
                    CType::Pointer => format!("(uint64)({value})"),
                    CType::Int { .. } => format!("{}({value})", ty.cast()),
                });
            }
            let shown: Vec<String> = exprs.iter().map(|(_, e)| e.trim().to_string()).collect();
            if hist {
                let label = label.unwrap_or_else(|| shown[0].clone());
                (
                    format!("{map} = hist({});", keys[0]),
                    DistKind::Hist { label },
                )
            } else {
                (
                    format!("{map}[{}] = count();", keys.join(", ")),
                    DistKind::Counts {
                        keys: shown,
                        retval: false,
                    },
                )
            }
        }
    };
    let filter = match parts.get(5) {
        Some((span, f)) => Some(probe.translate(f, span.start)?),
        None => None,
    };
    let blocks = probe.blocks(&collect, filter.as_deref());
    Ok((
        blocks,
        Distribution {
            map,
            title,
            kind: kind_out,
        },
    ))
}

/// One specifier's names and what its return probe needs saved at entry.
struct Translation<'a> {
    spec: &'a str,
    point: &'a Point,
    params: &'a [String],
    index: usize,
    /// `$latency` is used.
    latency: bool,
    /// Parameters `$entry()` reads, by position.
    entries: Vec<usize>,
}

impl Translation<'_> {
    /// An expression at `at` of the specifier as ustrace source.
    fn translate(&mut self, text: &str, at: usize) -> Result<String, SpecError> {
        let spec = self.spec;
        cexpr::translate(spec, text, at, &mut |name, span| self.resolve(name, span))
    }

    fn resolve(&mut self, name: Name<'_>, span: Range<usize>) -> Result<String, SpecError> {
        let is_return = self.point.kind == Kind::Return;
        let spec = self.spec;
        let err = |m: String| Err(SpecError::new(spec, span.clone(), m));
        match name {
            Name::Plain(n) => {
                if let Some(i) = self.params.iter().position(|p| p == n) {
                    if is_return {
                        return err(format!("`{n}` in a return probe: use $entry({n})"));
                    }
                    return Ok(format!("arg{i}"));
                }
                match self.point.kind.bcc_arg(n) {
                    Some(Ok(arg)) => Ok(arg),
                    Some(Err(why)) => err(why),
                    None => err(format!(
                        "unknown name `{n}`: use a parameter of the signature, arg1, arg2, ..., $retval, $latency, $entry(PARAM) or $PID"
                    )),
                }
            }
            Name::Dollar("PID") => Ok("pid".into()),
            Name::Dollar(d @ ("retval" | "latency")) if !is_return => {
                err(format!("${d} is only in return probes (r:)"))
            }
            Name::Dollar("retval") => Ok("retval".into()),
            Name::Dollar("latency") => {
                self.latency = true;
                Ok(format!("(nsecs - @_lat{}[tid])", self.index))
            }
            Name::Dollar(other) => err(format!(
                "unknown `${other}`: use $retval, $latency, $entry(PARAM) or $PID"
            )),
            Name::Entry(_) if !is_return => err("$entry() is only in return probes (r:)".into()),
            Name::Entry(p) => match self.params.iter().position(|q| q == p) {
                Some(i) => {
                    if !self.entries.contains(&i) {
                        self.entries.push(i);
                    }
                    Ok(format!("@_arg{}_{i}[tid]", self.index))
                }
                None => err(format!("$entry({p}): no parameter `{p}` in the signature")),
            },
        }
    }

    /// The probe's blocks: an entry probe saving what the return probe
    /// needs, then the probe collecting `collect` when `filter` holds.
    fn blocks(&self, collect: &str, filter: Option<&str>) -> String {
        let k = self.index;
        let mut saved: Vec<String> = self
            .entries
            .iter()
            .map(|i| format!("@_arg{k}_{i}"))
            .collect();
        if self.latency {
            saved.push(format!("@_lat{k}"));
        }
        if saved.is_empty() {
            let predicate = filter.map(|f| format!(" /{f}/")).unwrap_or_default();
            return format!("{}{predicate} {{ {collect} }}\n", self.point.attach);
        }
        let mut entry = String::new();
        for i in &self.entries {
            let _ = write!(entry, "@_arg{k}_{i}[tid] = arg{i}; ");
        }
        if self.latency {
            let _ = write!(entry, "@_lat{k}[tid] = nsecs; ");
        }
        let body = match filter {
            Some(f) => format!("if ({f}) {{ {collect} }}"),
            None => collect.to_string(),
        };
        let deletes: String = saved
            .iter()
            .map(|m| format!(" delete({m}, tid);"))
            .collect();
        format!(
            "{} {{ {entry}}}\n{} /has_key({}, tid)/ {{ {body}{deletes} }}\n",
            self.point.entry_attach(),
            self.point.attach,
            saved[0]
        )
    }
}

/// A distribution's map in BCC's layout: the title, then `COUNT EVENT`
/// rows ascending (the `top` largest), or a log2 histogram.
pub fn render(dist: &Distribution, entries: &[MapEntry], top: Option<usize>) -> String {
    match &dist.kind {
        DistKind::Hist { label } => entries
            .iter()
            .map(|e| crate::tools::sink::log2_hist(&e.value, label))
            .collect(),
        DistKind::Counts { keys, retval } => {
            let mut rows: Vec<(u64, &[Value], String)> = entries
                .iter()
                .filter_map(|e| {
                    let count = match e.value {
                        ustrace::output::MapValue::Count(c) if c > 0 => c,
                        _ => return None,
                    };
                    let event = if *retval {
                        format!(
                            "retval = {}",
                            e.key.first().map(Value::to_text).unwrap_or_default()
                        )
                    } else if keys.is_empty() {
                        "total calls".to_string()
                    } else {
                        keys.iter()
                            .zip(&e.key)
                            .map(|(k, v)| format!("{k} = {}", v.to_text()))
                            .collect::<Vec<_>>()
                            .join(", ")
                    };
                    Some((count, e.key.as_slice(), event))
                })
                .collect();
            // Ascending counts as BCC; BCC leaves equal counts in hash
            // order, here they go by their values (`size = 11` before
            // `size = 104`).
            rows.sort_by(|a, b| {
                a.0.cmp(&b.0)
                    .then_with(|| ustrace::output::numeric_key_order(a.1, b.1))
            });
            if let Some(n) = top {
                rows.drain(..rows.len().saturating_sub(n));
            }
            let mut out = format!("{}\n\t{:<10} {}\n", dist.title, "COUNT", "EVENT");
            for (count, _, event) in rows {
                let _ = writeln!(out, "\t{count:<10} {event}");
            }
            out
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const OPTS: Options = Options {
        interval: 1,
        count: 0,
        string_size: 80,
    };

    fn blocks(counts: &[&str], hists: &[&str]) -> Result<Vec<String>, SpecError> {
        let c: Vec<String> = counts.iter().map(|s| s.to_string()).collect();
        let h: Vec<String> = hists.iter().map(|s| s.to_string()).collect();
        let (s, _) = script(&c, &h, &OPTS)?;
        Ok(s.lines().skip(1).map(str::to_string).collect())
    }

    #[test]
    fn specifiers_become_blocks() {
        let b = blocks(
            &[
                "p:c:malloc(size_t size):size_t:size:size>16",
                "p:c:fork()#forks",
            ],
            &["r:c:read()"],
        )
        .unwrap();
        assert_eq!(
            b[0],
            "uprobe:libc:malloc /arg0 > 16/ { @p0[(uint64)(arg0)] = count(); }"
        );
        assert_eq!(b[1], "uprobe:libc:fork { @p1 = count(); }");
        assert_eq!(b[2], "uretprobe:libc:read { @p2 = hist((int32)retval); }");
        assert_eq!(
            b[3],
            r#"interval:s:1 { time("[%H:%M:%S]\n"); print(@p0); clear(@p0); print(@p1); clear(@p1); print(@p2); clear(@p2); }"#
        );
        assert_eq!(
            b[4],
            r#"END { time("[%H:%M:%S]\n"); print(@p0); clear(@p0); print(@p1); clear(@p1); print(@p2); clear(@p2); }"#
        );
    }

    #[test]
    fn return_probes_save_what_they_need_at_entry() {
        let b = blocks(
            &[],
            &["r:/bin/app:take(unsigned long size, int fd):u64:$latency/$entry(size):$entry(fd)==1"],
        )
        .unwrap();
        assert_eq!(b[0], "uprobe:/bin/app:take { @_arg0_0[tid] = arg0; @_arg0_1[tid] = arg1; @_lat0[tid] = nsecs; }");
        assert_eq!(
            b[1],
            "uretprobe:/bin/app:take /has_key(@_arg0_0, tid)/ { if (@_arg0_1[tid] == 1) { @p0 = hist((uint64)((nsecs - @_lat0[tid]) / @_arg0_0[tid])); } delete(@_arg0_0, tid); delete(@_arg0_1, tid); delete(@_lat0, tid); }"
        );
    }

    #[test]
    fn strings_usdt_and_several_keys() {
        let b = blocks(
            &[
                "p:/bin/app:name_len(const char *name, int n):char*,int:name,n",
                "u:/bin/app:prov:item():u64:arg2",
            ],
            &[],
        )
        .unwrap();
        assert_eq!(
            b[0],
            "uprobe:/bin/app:name_len { @p0[str(arg0), (int32)(arg1)] = count(); }"
        );
        assert_eq!(
            b[1],
            "usdt:/bin/app:prov:item { @p1[(uint64)(arg1)] = count(); }"
        );
    }

    #[test]
    fn bad_specifiers_are_pointed_at() {
        let cases: &[(&str, bool, Range<usize>, &str)] = &[
            ("p:c", false, 0..3, "expected TYPE:LIBRARY"),
            ("p:c:malloc", false, 4..10, "FUNCTION(SIGNATURE)"),
            (
                "p:c:malloc(size_t size):size_t",
                false,
                24..30,
                "without expressions",
            ),
            (
                "p:c:malloc(size_t size):float:size",
                false,
                24..29,
                "unknown type `float`",
            ),
            (
                "p:c:malloc(size_t size):u64,u64:size",
                false,
                32..36,
                "2 types but 1",
            ),
            (
                "p:c:malloc(size_t size):u64:sz",
                false,
                28..30,
                "unknown name `sz`",
            ),
            (
                "p:c:malloc(size_t size):u64:$retval",
                false,
                28..35,
                "return probes",
            ),
            (
                "r:c:malloc(size_t size):u64:size",
                false,
                28..32,
                "$entry(size)",
            ),
            (
                "r:c:malloc():u64:$entry(n)",
                false,
                17..26,
                "no parameter `n`",
            ),
            ("p:c:malloc()", true, 0..12, "histogram"),
            ("p::kmalloc(size_t s):u64:s", false, 1..3, "kernel"),
            ("t:block:rq():u32:x", false, 0..1, "kernel"),
            ("p:c:f():u64:1:1:1:1", false, 16..19, "extraneous"),
            ("u:/a:p(int x):u64:arg1", false, 7..12, "no signature"),
        ];
        for (spec, hist, span, words) in cases {
            let (c, h) = if *hist {
                (&[][..], &[*spec][..])
            } else {
                (&[*spec][..], &[][..])
            };
            let e = blocks(c, h).unwrap_err();
            assert_eq!(&e.span, span, "{spec}: {e}");
            assert!(e.message.contains(words), "{spec}: {e}");
        }
    }

    #[test]
    fn counts_render_as_bcc() {
        let dist = Distribution {
            map: "@p0".into(),
            title: "p:c:malloc(size_t size):size_t:size".into(),
            kind: DistKind::Counts {
                keys: vec!["size".into()],
                retval: false,
            },
        };
        let e = |k: u64, c| MapEntry {
            key: vec![Value::UInt(k)],
            value: ustrace::output::MapValue::Count(c),
        };
        assert_eq!(
            render(&dist, &[e(32, 3), e(16, 5), e(1000, 2)], Some(2)),
            "p:c:malloc(size_t size):size_t:size\n\tCOUNT      EVENT\n\t3          size = 32\n\t5          size = 16\n"
        );
    }

    #[test]
    fn equal_counts_go_by_their_values() {
        let dist = Distribution {
            map: "@p0".into(),
            title: "t".into(),
            kind: DistKind::Counts {
                keys: vec!["size".into(), "fd".into()],
                retval: false,
            },
        };
        let e = |size: u64, fd: i64, c| MapEntry {
            key: vec![Value::UInt(size), Value::Int(fd)],
            value: ustrace::output::MapValue::Count(c),
        };
        let entries = [
            e(104, 1, 2),
            e(11, 1, 2),
            e(11, -1, 2),
            e(9, 0, 3),
            e(2, 0, 1),
        ];
        assert_eq!(
            render(&dist, &entries, None),
            "t\n\tCOUNT      EVENT\n\t1          size = 2, fd = 0\n\t2          size = 11, fd = -1\n\t2          size = 11, fd = 1\n\t2          size = 104, fd = 1\n\t3          size = 9, fd = 0\n"
        );
    }

    /// BCC reads `...#` as no label: the title is the specifier as
    /// written, a histogram's heading its expression.
    #[test]
    fn an_empty_label_is_no_label() {
        let count = "p:c:malloc(size_t size):size_t:size#";
        let hist = "p:c:malloc(size_t size):size_t:size#";
        let (_, dists) = script(&[count.into()], &[hist.into()], &OPTS).unwrap();
        assert_eq!(dists[0].title, count);
        assert!(
            matches!(&dists[1].kind, DistKind::Hist { label } if label == "size"),
            "{:?}",
            dists[1].kind
        );
        let (_, dists) = script(&[format!("{count}sizes")], &[], &OPTS).unwrap();
        assert_eq!(dists[0].title, "sizes");
    }

    proptest! {
        #[test]
        fn never_panics(spec in r#"[pru:c/a-z0-9 (),$*#=<>_é]{0,36}"#, hist in any::<bool>()) {
            let (c, h) = if hist { (vec![], vec![spec.clone()]) } else { (vec![spec.clone()], vec![]) };
            if let Err(e) = script(&c, &h, &OPTS) {
                prop_assert!(e.span.end <= spec.len());
                let _ = e.to_string();
            }
        }
    }
}
