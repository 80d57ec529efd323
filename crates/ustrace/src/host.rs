//! What records ask of the host: wall-clock times for `strftime()` and
//! `time()`, and running `system()` commands.

/// `strftime(fmt, ns)`: `ns` on the clock of `nsecs` (CLOCK_MONOTONIC),
/// turned into wall-clock time and formatted in the local time zone.
pub(crate) fn wall_time(format: &str, ns: u64) -> String {
    let now = |clock| {
        let mut ts = libc::timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        // SAFETY: clock_gettime writes one timespec we own.
        unsafe { libc::clock_gettime(clock, &mut ts) };
        ts.tv_sec as i128 * 1_000_000_000 + ts.tv_nsec as i128
    };
    let wall_ns = now(libc::CLOCK_REALTIME) - now(libc::CLOCK_MONOTONIC) + ns as i128;
    strftime_at(format, (wall_ns.div_euclid(1_000_000_000)) as libc::time_t)
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
