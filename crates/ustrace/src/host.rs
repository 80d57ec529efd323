//! What records ask of the host: wall-clock times for `strftime()` and
//! `time()`, running `system()` commands, reading `cat()` files, user
//! names for `username`, and the source locations of `errorf()`/`warnf()`.

/// `strftime(fmt, ns)`: `ns` on the clock of `nsecs` (CLOCK_MONOTONIC),
/// turned into wall-clock time and formatted in the local time zone.
pub(crate) fn wall_time(format: &str, ns: u64) -> String {
    let wall_ns = clock_ns(libc::CLOCK_REALTIME) - clock_ns(libc::CLOCK_MONOTONIC) + ns as i128;
    let micros = (wall_ns.rem_euclid(1_000_000_000) / 1000) as u32;
    let format = with_microseconds(format, micros);
    strftime_at(&format, (wall_ns.div_euclid(1_000_000_000)) as libc::time_t)
}

/// Nanoseconds of `clock` now.
fn clock_ns(clock: libc::clockid_t) -> i128 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes one timespec we own.
    unsafe { libc::clock_gettime(clock, &mut ts) };
    i128::from(ts.tv_sec) * 1_000_000_000 + i128::from(ts.tv_nsec)
}

/// How this host shows TAI times (a `tseries()` map's intervals): the
/// offset of CLOCK_REALTIME from CLOCK_TAI and the local time zone's
/// offset from UTC now.
pub(crate) fn wall_clock() -> ustrace_abi::WallClock {
    // The offset is whole seconds (0 or the leap seconds, 37 in 2026):
    // round away the nanoseconds between the two reads.
    let raw = clock_ns(libc::CLOCK_REALTIME) - clock_ns(libc::CLOCK_TAI);
    let unix_offset_ns = (raw as f64 / 1e9).round() as i64 * 1_000_000_000;
    // SAFETY: time() with a null pointer only returns the time;
    // localtime_r writes only into the tm we own.
    let local_offset_s = unsafe {
        let t = libc::time(std::ptr::null_mut());
        let mut tm: libc::tm = std::mem::zeroed();
        if libc::localtime_r(&t, &mut tm).is_null() {
            0
        } else {
            tm.tm_gmtoff
        }
    };
    ustrace_abi::WallClock {
        unix_offset_ns,
        local_offset_s,
    }
}

/// `format` with bpftrace's `%f` (microseconds, 6 digits) filled in;
/// `%%` stays for strftime.
fn with_microseconds(format: &str, micros: u32) -> String {
    let mut out = String::with_capacity(format.len());
    let mut chars = format.chars();
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('f') => out.push_str(&format!("{micros:06}")),
            Some(other) => {
                out.push('%');
                out.push(other);
            }
            None => out.push('%'),
        }
    }
    out
}

/// The local time now, formatted by the C library's strftime (`time()`).
pub(crate) fn local_time(format: &str) -> String {
    // SAFETY: time() with a null pointer only returns the time.
    strftime_at(format, unsafe { libc::time(std::ptr::null_mut()) })
}

/// Formats `when` (seconds since the epoch) with the C library's strftime.
fn strftime_at(format: &str, when: libc::time_t) -> String {
    let Ok(cfmt) = std::ffi::CString::new(format) else {
        return String::new();
    };
    // SAFETY: localtime_r/strftime write only into the buffers given; the
    // buffer length is passed.
    unsafe {
        let now = when;
        let mut tm: libc::tm = std::mem::zeroed();
        if libc::localtime_r(&now, &mut tm).is_null() {
            return String::new();
        }
        let mut buf = vec![0u8; 256 + format.len() * 4];
        let n = libc::strftime(
            buf.as_mut_ptr() as *mut libc::c_char,
            buf.len(),
            cfmt.as_ptr(),
            &tm,
        );
        buf.truncate(n);
        String::from_utf8_lossy(&buf).into_owned()
    }
}

/// `system()`: runs `command` with `/bin/sh -c` (stdin closed) and returns
/// what it wrote to stdout; its stderr goes to ours.
pub(crate) fn run_system(command: &str) -> String {
    match std::process::Command::new("/bin/sh")
        .arg("-c")
        .arg(command)
        .stdin(std::process::Stdio::null())
        .stderr(std::process::Stdio::inherit())
        .output()
    {
        Ok(out) => String::from_utf8_lossy(&out.stdout).into_owned(),
        Err(e) => format!("system(): cannot run /bin/sh: {e}\n"),
    }
}

/// `cat(path)`: the file's contents, or the error line bpftrace prints
/// when it cannot be read.
pub(crate) fn read_cat_file(path: &str) -> Result<String, String> {
    std::fs::read(path)
        .map(|bytes| String::from_utf8_lossy(&bytes).into_owned())
        .map_err(|e| {
            let reason = match e.raw_os_error() {
                // strerror's text, as bpftrace prints it (no "(os error N)").
                Some(code) => std::io::Error::from_raw_os_error(code)
                    .to_string()
                    .split(" (os error")
                    .next()
                    .unwrap_or_default()
                    .to_string(),
                None => e.to_string(),
            };
            format!("ERROR: failed to open file '{path}': {reason}\n")
        })
}

/// bpftrace's location of a span in a message: `NAME:LINE:COL-ENDCOL`
/// (columns 1-based, the end one past the last character), or
/// `NAME:LINE:COL-ENDLINE:ENDCOL` when the span crosses lines.
pub(crate) fn source_location(name: &str, source: &str, start: usize, end: usize) -> String {
    let (line, col) = ustrace_lang::diag::line_col(source, start);
    let (end_line, end_col) = ustrace_lang::diag::line_col(source, end.max(start));
    if end_line == line {
        format!("{name}:{line}:{col}-{end_col}")
    } else {
        format!("{name}:{line}:{col}-{end_line}:{end_col}")
    }
}

/// A warning for each declared map no probe uses, worded as bpftrace's
/// (`Unused map: @m`), located at the declaration.
pub(crate) fn unused_map_decls(
    script: &ustrace_lang::ast::Script,
    name: &str,
    source: &str,
) -> Vec<String> {
    ustrace_lang::ast::unused_map_decls(script)
        .into_iter()
        .map(|d| {
            format!(
                "{}: Unused map: @{}",
                source_location(name, source, d.span.start, d.span.end),
                d.name
            )
        })
        .collect()
}

/// The compiler's warnings (e.g. bpftrace's "Return value discarded."),
/// each located as bpftrace locates it (`NAME:LINE:COL-ENDCOL: text`)
/// and followed by the source line with carets under the place.
pub(crate) fn compile_warnings(
    compiled: &ustrace_codegen::program::CompiledScript,
    name: &str,
    source: &str,
) -> Vec<String> {
    compiled
        .warnings
        .iter()
        .map(|(span, message)| {
            let rendered =
                ustrace_lang::Diagnostic::error(*span, message.as_str()).render(name, source);
            let snippet = rendered.split_once('\n').map_or("", |(_, rest)| rest);
            format!(
                "{}: {message}\n{}",
                source_location(name, source, span.start, span.end),
                snippet.trim_end_matches('\n')
            )
        })
        .collect()
}

/// A warning for each use of `cpid` in a script run without `-c` (where
/// it is 0), as bpftrace warns.
pub(crate) fn cpid_without_child(
    script: &ustrace_lang::ast::Script,
    name: &str,
    source: &str,
) -> Vec<String> {
    use ustrace_lang::ast::ExprKind;
    let mut out = Vec::new();
    ustrace_lang::ast::visit_exprs(script, &mut |e| {
        let is_cpid = match &e.kind {
            ExprKind::Builtin(n) => n == "cpid",
            ExprKind::Call { name, args, .. } => name == "cpid" && args.is_empty(),
            _ => false,
        };
        if is_cpid {
            out.push(format!(
                "{}: cpid is 0: no child process was started with -c (test has_cpid first)",
                source_location(name, source, e.span.start, e.span.end)
            ));
        }
    });
    out
}

/// The device and inode of ustrace's own pid namespace, which
/// `pid(curr_ns)` and `tid(curr_ns)` give ids in (as bpftrace does).
pub(crate) fn pid_namespace() -> Result<(u64, u64), String> {
    use std::os::unix::fs::MetadataExt;
    let path = "/proc/self/ns/pid";
    std::fs::metadata(path)
        .map(|m| (m.dev(), m.ino()))
        .map_err(|e| format!("cannot read {path}: {e}"))
}

/// The `task_struct` offsets `ppid` needs, read from the kernel's BTF only
/// when the script uses `ppid`.
pub(crate) fn task_parent_offsets(
    script: &ustrace_lang::ast::Script,
) -> Result<ustrace_codegen::TaskParentOffsets, String> {
    use ustrace_lang::ast::ExprKind;
    let mut uses_ppid = false;
    ustrace_lang::ast::visit_exprs(script, &mut |e| {
        uses_ppid |= match &e.kind {
            ExprKind::Builtin(n) => n == "ppid",
            ExprKind::Call { name, .. } => name == "ppid",
            _ => false,
        };
    });
    if !uses_ppid {
        return Err("the script does not use ppid".to_string());
    }
    ustrace_runtime::kernel_types::task_parent_offsets().map_err(|e| e.to_string())
}

/// The kernel's mapping offsets the `ustack` walker needs to find a code
/// address's file by itself, and `usym` to log an address's mapping
/// (`bpf_find_vma`), read from the kernel's BTF only when the script walks
/// user stacks by tables or uses `usym`.
pub(crate) fn vma_offsets(
    script: &ustrace_lang::ast::Script,
    walk: crate::StackWalk,
) -> Result<ustrace_codegen::VmaOffsets, String> {
    use ustrace_lang::ast::ExprKind;
    let (mut uses_ustack, mut uses_usym) = (false, false);
    ustrace_lang::ast::visit_exprs(script, &mut |e| {
        let name = match &e.kind {
            ExprKind::Builtin(n) => n.as_str(),
            ExprKind::Call { name, .. } => name.as_str(),
            _ => "",
        };
        uses_ustack |= name == "ustack";
        uses_usym |= name == "usym";
    });
    if !uses_usym && (!uses_ustack || walk == crate::StackWalk::FramePointer) {
        return Err("the script walks no user stacks by tables and has no usym".to_string());
    }
    ustrace_runtime::kernel_types::vma_offsets().map_err(|e| e.to_string())
}

/// `username`: the name the password database gives `uid`, or the number
/// when it has none.
pub(crate) fn user_name(uid: u32) -> String {
    let mut pwd: libc::passwd = unsafe { std::mem::zeroed() };
    let mut buf = vec![0u8; 4096];
    let mut found: *mut libc::passwd = std::ptr::null_mut();
    // SAFETY: getpwuid_r writes into `pwd` and `buf` (its length given) and
    // sets `found` to `&pwd` or null; the name points into `buf`.
    let rc = unsafe {
        libc::getpwuid_r(
            uid,
            &mut pwd,
            buf.as_mut_ptr() as *mut libc::c_char,
            buf.len(),
            &mut found,
        )
    };
    if rc != 0 || found.is_null() || pwd.pw_name.is_null() {
        return uid.to_string();
    }
    // SAFETY: pw_name is a NUL-terminated string inside `buf`, alive here.
    unsafe { std::ffi::CStr::from_ptr(pwd.pw_name) }
        .to_string_lossy()
        .into_owned()
}

/// The C library's text for the error number `errno` (`strerror()`):
/// `Operation not permitted`, or `Unknown error N` as glibc words it.
pub(crate) fn error_text(errno: i32) -> String {
    let mut buf = [0u8; 256];
    // SAFETY: strerror_r (the XSI one libc binds) writes at most
    // `buf.len()` bytes, NUL included, into `buf`.
    let rc = unsafe { libc::strerror_r(errno, buf.as_mut_ptr() as *mut libc::c_char, buf.len()) };
    match std::ffi::CStr::from_bytes_until_nul(&buf) {
        Ok(text) if rc == 0 && !text.is_empty() => text.to_string_lossy().into_owned(),
        _ => format!("Unknown error {errno}"),
    }
}

#[cfg(test)]
mod microsecond_tests {
    #[test]
    fn percent_f_is_microseconds_and_percent_percent_stays() {
        assert_eq!(
            super::with_microseconds("%H:%M:%S.%f %%f", 42),
            "%H:%M:%S.000042 %%f"
        );
    }
}
