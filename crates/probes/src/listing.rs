//! The text `-l` and `-lv` print for USDT probes.

use crate::notes::attach_offset;
use crate::pattern::FoundProbe;

/// The one-line name of a probe: `usdt:/usr/bin/python3.11:python:function__entry`.
pub fn probe_line(found: &FoundProbe) -> String {
    format!(
        "usdt:{}:{}:{}",
        found.display_path, found.probe.provider, found.probe.name
    )
}

/// One [`probe_line`] per probe, sorted by path, provider and name, without
/// duplicates.
pub fn list_lines(found: &[FoundProbe]) -> Vec<String> {
    let mut keys: Vec<(&str, &str, &str)> = found
        .iter()
        .map(|f| {
            (
                f.display_path.as_str(),
                f.probe.provider.as_str(),
                f.probe.name.as_str(),
            )
        })
        .collect();
    keys.sort();
    keys.dedup();
    keys.into_iter()
        .map(|(p, prov, name)| format!("usdt:{p}:{prov}:{name}"))
        .collect()
}

/// The `-lv` description of a probe: its [`probe_line`], then per location
/// the attach offset, semaphore, instruction and each argument:
///
/// ```text
/// usdt:/usr/bin/python3.11:python:function__entry
///     1 location
///     location 0: offset 0x12345 (nop), semaphore offset 0x3a4276
///         arg0: u64 %rbx
///         arg1: s32 -4(%rbp)
///         arg2: <unreadable: unsupported register `%xmm0` in argument spec `8@%xmm0`: ...>
/// ```
pub fn describe_probe(found: &FoundProbe) -> Vec<String> {
    let mut out = vec![probe_line(found)];
    let locs = &found.probe.locations;
    out.push(format!(
        "    {} location{}",
        locs.len(),
        if locs.len() == 1 { "" } else { "s" }
    ));
    for (i, loc) in locs.iter().enumerate() {
        let sem = match loc.semaphore_offset {
            Some(o) => format!("semaphore offset {o:#x}"),
            None => "no semaphore".to_string(),
        };
        out.push(format!(
            "    location {i}: offset {:#x} ({}), {sem}",
            attach_offset(loc),
            loc.nop.describe()
        ));
        if loc.args.is_empty() {
            out.push("        no arguments".to_string());
        }
        for (n, arg) in loc.args.iter().enumerate() {
            match arg {
                Ok(spec) => out.push(format!("        arg{n}: {spec}")),
                Err(e) => out.push(format!("        arg{n}: <unreadable: {e}>")),
            }
        }
    }
    out
}
