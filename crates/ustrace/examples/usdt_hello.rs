//! BCC's classic USDT example, in Rust with no C source and no compiler at
//! run time: attach to the seed `test-server`'s `test_grp:test_idx` probe in
//! process PID and print each hit's first argument.
//!
//! ```text
//! cargo run --example usdt_hello -- PID
//! test_idx=2958 tracepoint caught
//! ```

use std::process::ExitCode;

fn main() -> ExitCode {
    let Some(pid) = std::env::args().nth(1).and_then(|a| a.parse::<u32>().ok()) else {
        eprintln!("usage: usdt_hello PID");
        return ExitCode::from(2);
    };
    match run(pid) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("ERROR: {}", e.render());
            ExitCode::FAILURE
        }
    }
}

fn run(pid: u32) -> Result<(), ustrace::Error> {
    // BCC: u = USDT(pid=pid); u.enable_probe(probe="test_idx", ...)
    let usdt = ustrace::Usdt::for_pid(pid).enable_probe("test_grp:test_idx")?;
    let script = usdt.compile()?;
    let mut tracer = script.start()?;
    // Stop when the process is gone.
    while std::path::Path::new(&format!("/proc/{pid}")).exists() {
        for hit in tracer.poll(std::time::Duration::from_millis(200))? {
            let idx = hit.args.first().copied().unwrap_or_default() as i64;
            println!("test_idx={idx} tracepoint caught");
        }
    }
    Ok(())
}
