//! Signals that end a trace (SIGINT, SIGTERM, SIGHUP) and the exit paths
//! for a closed output: ustrace stops, cleans up (the `-c` child, the
//! probes) and exits the way other Unix tools do.

use std::sync::atomic::{AtomicUsize, Ordering};

static RECEIVED: AtomicUsize = AtomicUsize::new(0);

extern "C" fn on_signal(_: libc::c_int) {
    RECEIVED.fetch_add(1, Ordering::SeqCst);
}

/// Counts SIGINT, SIGTERM and SIGHUP from now on instead of dying of them.
pub fn install() {
    for sig in [libc::SIGINT, libc::SIGTERM, libc::SIGHUP] {
        // SAFETY: installing a handler that only increments an atomic.
        unsafe { libc::signal(sig, on_signal as *const () as libc::sighandler_t) };
    }
}

/// How many stop signals have arrived: 1 = stop, 2 = stop right now.
pub fn received() -> usize {
    RECEIVED.load(Ordering::SeqCst)
}

/// True when `e` comes from writing to a closed pipe (EPIPE).
pub fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|cause| {
        cause
            .downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}

/// Ends ustrace as a tool that did not ignore SIGPIPE would: killed by
/// SIGPIPE (status 141 in a shell), silently. Call after cleaning up.
pub fn exit_by_sigpipe() -> ! {
    // SAFETY: restoring the default action and raising it on ourselves.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
        libc::raise(libc::SIGPIPE);
    }
    std::process::exit(141)
}

/// Writes one line to stderr; a closed stderr is not an error worth dying
/// noisily for (eprintln! would panic).
pub fn report(line: &str) {
    use std::io::Write;
    let _ = writeln!(std::io::stderr().lock(), "{line}");
}
