//! Names bpftrace knows that ustrace does not (yet) compile, each with the
//! reason, in one line. The compiler's "unknown function" error and
//! docs/language.md's table of bpftrace's manual both come from
//! [`UNSUPPORTED`]: implementing one of these is adding its entry to a
//! family file and removing its row here.

/// One name of bpftrace's standard library that ustrace refuses.
pub struct Unsupported {
    /// The name as written (`len`, `ppid`, ...).
    pub name: &'static str,
    /// Why ustrace refuses it, one line (lowercase start, no period).
    pub reason: &'static str,
}

const KERNEL: &str = "reads kernel objects: ustrace traces user space and reads no kernel types";

/// The names, alphabetically (one row each: a table to read).
#[rustfmt::skip]
pub const UNSUPPORTED: &[Unsupported] = &[
    Unsupported { name: "cgroup", reason: "cgroup ids are not part of ustrace's user-space model; not implemented" },
    Unsupported { name: "cgroup_path", reason: "cgroup ids are not part of ustrace's user-space model; not implemented" },
    Unsupported { name: "cgroupid", reason: "cgroup ids are not part of ustrace's user-space model; not implemented" },
    Unsupported { name: "curtask", reason: KERNEL },
    Unsupported { name: "getopt", reason: "named parameters (`-- --name=value`) are not read by ustrace's command line" },
    Unsupported { name: "jiffies", reason: "a kernel clock; use nsecs" },
    Unsupported { name: "kaddr", reason: KERNEL },
    Unsupported { name: "kfunc_allowed", reason: "kernel functions (kfuncs) of BPF programs attached to the kernel: ustrace's probes are uprobes, USDT and profile" },
    Unsupported { name: "kfunc_exist", reason: "kernel functions (kfuncs) of BPF programs attached to the kernel: ustrace's probes are uprobes, USDT and profile" },
    Unsupported { name: "kptr", reason: KERNEL },
    Unsupported { name: "kstack", reason: "kernel stacks: ustrace traces user space (use ustack)" },
    Unsupported { name: "ksym", reason: "kernel symbols: ustrace traces user space (use usym)" },
    Unsupported { name: "override", reason: "kprobe only: ustrace traces user space" },
    Unsupported { name: "path", reason: KERNEL },
    Unsupported { name: "pcomm", reason: KERNEL },
    Unsupported { name: "percpu_kaddr", reason: KERNEL },
    Unsupported { name: "skboutput", reason: KERNEL },
    Unsupported { name: "socket_cookie", reason: KERNEL },
    Unsupported { name: "unwatch", reason: "watchpoints are not supported by ustrace" },
    Unsupported { name: "uptr", reason: "every pointer ustrace reads is a user pointer already" },
];

/// The entry of `name`, when bpftrace knows it and ustrace refuses it.
pub fn lookup(name: &str) -> Option<&'static Unsupported> {
    UNSUPPORTED.iter().find(|u| u.name == name)
}

/// The message for a use of `name`: "`len` is a bpftrace function that
/// ustrace does not support: REASON".
pub fn message(entry: &Unsupported) -> String {
    format!(
        "`{}` is known in bpftrace but not supported by ustrace: {}",
        entry.name, entry.reason
    )
}

/// The table of docs/language.md: one row per refused name.
pub fn markdown_table() -> String {
    let mut s = String::from("| Name | Why ustrace does not support it |\n|---|---|\n");
    for u in UNSUPPORTED {
        s += &format!("| `{}` | {} |\n", u.name, u.reason);
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_sorted_unique_and_not_builtins() {
        let names: Vec<_> = UNSUPPORTED.iter().map(|u| u.name).collect();
        let mut sorted = names.clone();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(names, sorted, "keep UNSUPPORTED sorted and without repeats");
        for n in names {
            assert!(
                super::super::all().all(|b| b.name != n),
                "`{n}` is a builtin now: remove its UNSUPPORTED entry"
            );
        }
    }
}
