//! `-c CMD`: the command is forked and held before `exec` until the probes
//! are attached, so that its very first probe hits are seen.
//!
//! The child is made to end with ustrace in every case: it runs in its own
//! process group (a Ctrl-C reaches ustrace only, which then ends the child:
//! SIGTERM, SIGKILL after [`TERM_GRACE`] or at a second signal), and the
//! kernel sends it SIGKILL when ustrace dies (`PR_SET_PDEATHSIG`, set
//! before exec). It starts with default signal dispositions and an empty
//! signal mask, whatever ustrace inherited or set. Exec failures are found
//! before anything is attached where possible (the file must be a regular
//! executable file), and reported through a close-on-exec pipe otherwise.

use std::ffi::CString;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};

/// How long a child has to exit after SIGTERM before it gets SIGKILL.
pub const TERM_GRACE: Duration = Duration::from_millis(500);

/// A forked child blocked before exec.
pub struct Child {
    pid: libc::pid_t,
    release_fd: libc::c_int,
    exec_error_fd: libc::c_int,
    command: String,
    /// The program it will exec (found on PATH).
    program: std::path::PathBuf,
    exited: bool,
}
/// Splits a command line on whitespace, honouring '...' and "..." quotes
/// and backslash escapes (no other shell syntax).
pub fn split_command(cmd: &str) -> Result<Vec<String>> {
    let mut words = Vec::new();
    let mut cur = String::new();
    let mut in_word = false;
    let mut chars = cmd.chars();
    let mut quote: Option<char> = None;
    while let Some(c) = chars.next() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some('"'), '\\') | (None, '\\') => {
                if let Some(n) = chars.next() {
                    cur.push(n);
                }
                in_word = true;
            }
            (Some(_), c) => cur.push(c),
            (None, '\'') | (None, '"') => {
                quote = Some(c);
                in_word = true;
            }
            (None, c) if c.is_whitespace() => {
                if in_word {
                    words.push(std::mem::take(&mut cur));
                    in_word = false;
                }
            }
            (None, c) => {
                cur.push(c);
                in_word = true;
            }
        }
    }
    if quote.is_some() {
        bail!("unterminated quote in -c command: {cmd}");
    }
    if in_word {
        words.push(cur);
    }
    if words.is_empty() {
        bail!("-c needs a command");
    }
    Ok(words)
}

/// Finds `prog` on PATH the way execvp would, and checks that it is a
/// regular file we may execute, so errors come before fork and attach.
fn find_program(prog: &str) -> Result<CString> {
    let path = if prog.contains('/') {
        Path::new(prog).to_path_buf()
    } else {
        let search = std::env::var("PATH").unwrap_or_else(|_| "/usr/bin:/bin".into());
        let found = search
            .split(':')
            .map(|dir| Path::new(dir).join(prog))
            .find(|cand| is_executable_file(cand));
        match found {
            Some(p) => p,
            None => bail!("cannot run -c command `{prog}`: not found in PATH"),
        }
    };
    let meta =
        std::fs::metadata(&path).with_context(|| format!("cannot run -c command `{prog}`"))?;
    if meta.is_dir() {
        bail!("cannot run -c command `{prog}`: it is a directory");
    }
    if !meta.is_file() {
        bail!("cannot run -c command `{prog}`: not a regular file");
    }
    if !is_executable_file(&path) {
        bail!("cannot run -c command `{prog}`: not executable");
    }
    Ok(CString::new(path.to_string_lossy().as_bytes())?)
}

/// A regular file with an execute bit that `access(X_OK)` accepts.
fn is_executable_file(path: &Path) -> bool {
    let Ok(meta) = std::fs::metadata(path) else {
        return false;
    };
    let Ok(c) = CString::new(path.to_string_lossy().as_bytes()) else {
        return false;
    };
    // SAFETY: access on a NUL-terminated path.
    meta.is_file()
        && meta.permissions().mode() & 0o111 != 0
        && unsafe { libc::access(c.as_ptr(), libc::X_OK) } == 0
}

impl Child {
    /// Forks `cmd`; the child waits on a pipe before exec.
    pub fn spawn_stopped(cmd: &str) -> Result<Child> {
        let words = split_command(cmd)?;
        let prog = find_program(&words[0])?;
        let args: Vec<CString> = words
            .iter()
            .map(|w| CString::new(w.as_bytes()))
            .collect::<std::result::Result<_, _>>()
            .context("-c command contains a NUL byte")?;
        let mut argv: Vec<*const libc::c_char> = args.iter().map(|a| a.as_ptr()).collect();
        argv.push(std::ptr::null());
        let mut release = [0 as libc::c_int; 2];
        let mut exec_error = [0 as libc::c_int; 2];
        // SAFETY: plain pipe/fork; the child only calls async-signal-safe
        // functions (setpgid, prctl, getppid, sigaction, sigprocmask, read,
        // write, close, execv, _exit) on memory prepared before fork.
        unsafe {
            if libc::pipe2(release.as_mut_ptr(), libc::O_CLOEXEC) != 0
                || libc::pipe2(exec_error.as_mut_ptr(), libc::O_CLOEXEC) != 0
            {
                bail!("pipe: {}", std::io::Error::last_os_error());
            }
            let parent = libc::getpid();
            let pid = libc::fork();
            if pid < 0 {
                bail!("fork: {}", std::io::Error::last_os_error());
            }
            if pid == 0 {
                libc::close(release[1]);
                libc::close(exec_error[0]);
                prepare_child(parent);
                let mut b = 0u8;
                let n = libc::read(release[0], &mut b as *mut u8 as *mut libc::c_void, 1);
                if n != 1 {
                    libc::_exit(127);
                }
                libc::execv(prog.as_ptr(), argv.as_ptr());
                let errno = *libc::__errno_location();
                libc::write(
                    exec_error[1],
                    &errno as *const i32 as *const libc::c_void,
                    std::mem::size_of::<i32>(),
                );
                libc::_exit(127);
            }
            // Also here, so the group exists before we might signal it.
            libc::setpgid(pid, pid);
            libc::close(release[0]);
            libc::close(exec_error[1]);
            Ok(Child {
                pid,
                release_fd: release[1],
                exec_error_fd: exec_error[0],
                command: words[0].clone(),
                program: std::path::PathBuf::from(prog.to_string_lossy().into_owned()),
                exited: false,
            })
        }
    }

    /// The child's pid.
    pub fn pid(&self) -> u32 {
        self.pid as u32
    }

    /// The program it will exec.
    pub fn program(&self) -> &std::path::Path {
        &self.program
    }

    /// Lets the child exec; fails, naming the command, if exec failed.
    pub fn release(&mut self) -> Result<()> {
        let b = 1u8;
        // SAFETY: writing one byte to our pipe end, then closing it once.
        // SIGPIPE is ignored in ustrace, so a dead child gives EPIPE.
        let n = unsafe { libc::write(self.release_fd, &b as *const u8 as *const libc::c_void, 1) };
        let write_error = std::io::Error::last_os_error();
        unsafe { libc::close(self.release_fd) };
        self.release_fd = -1;
        if n != 1 {
            bail!("cannot start -c command `{}`: {write_error}", self.command);
        }
        // End of file (the pipe closed on exec) means exec succeeded.
        let mut errno = 0i32;
        // SAFETY: reading at most 4 bytes into an i32 from our pipe end.
        let n = unsafe {
            libc::read(
                self.exec_error_fd,
                &mut errno as *mut i32 as *mut libc::c_void,
                std::mem::size_of::<i32>(),
            )
        };
        unsafe { libc::close(self.exec_error_fd) };
        self.exec_error_fd = -1;
        if n == std::mem::size_of::<i32>() as isize {
            bail!(
                "cannot run -c command `{}`: {}",
                self.command,
                std::io::Error::from_raw_os_error(errno)
            );
        }
        Ok(())
    }

    /// True once the child has exited (reaps it).
    pub fn has_exited(&mut self) -> bool {
        if self.exited {
            return true;
        }
        let mut status = 0;
        // SAFETY: waiting on our own child without blocking.
        let r = unsafe { libc::waitpid(self.pid, &mut status, libc::WNOHANG) };
        if r == self.pid || r < 0 {
            self.exited = true;
        }
        self.exited
    }

    /// Ends the child if it still runs (ustrace is exiting): SIGTERM to its
    /// process group, then SIGKILL after [`TERM_GRACE`], or as soon as
    /// `hurry()` turns true (a second Ctrl-C).
    pub fn terminate(&mut self, hurry: impl Fn() -> bool) {
        for fd in [&mut self.release_fd, &mut self.exec_error_fd] {
            if *fd >= 0 {
                // SAFETY: closing our pipe end once; a held child then exits.
                unsafe { libc::close(*fd) };
                *fd = -1;
            }
        }
        if self.has_exited() {
            return;
        }
        // SAFETY: signalling our own child's process group (and the child
        // itself, in case it left the group).
        unsafe {
            libc::kill(-self.pid, libc::SIGTERM);
            libc::kill(self.pid, libc::SIGTERM);
        }
        let deadline = Instant::now() + TERM_GRACE;
        while Instant::now() < deadline && !hurry() {
            if self.has_exited() {
                return;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        // SAFETY: as above; then reaping our own child.
        unsafe {
            libc::kill(-self.pid, libc::SIGKILL);
            libc::kill(self.pid, libc::SIGKILL);
            let mut status = 0;
            libc::waitpid(self.pid, &mut status, 0);
        }
        self.exited = true;
    }
}

impl Drop for Child {
    /// A child is never left behind, whatever path ustrace leaves by.
    fn drop(&mut self) {
        self.terminate(|| false);
    }
}

/// In the forked child, before exec: own process group, death signal tied
/// to ustrace, default signal dispositions and an empty mask.
///
/// # Safety
/// Only async-signal-safe calls; meant to run between fork and exec.
unsafe fn prepare_child(parent: libc::pid_t) {
    // SAFETY: async-signal-safe calls on our own process.
    unsafe {
        libc::setpgid(0, 0);
        libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL as libc::c_ulong);
        if libc::getppid() != parent {
            // ustrace died before the death signal was armed.
            libc::_exit(127);
        }
        // The raw system call: glibc's sigaction refuses the signals it
        // keeps for itself (32, 33), which a parent may still have ignored.
        // The kernel's struct: handler (SIG_DFL = 0), flags, restorer, mask.
        let action = [0u64; 4];
        // Every signal number Linux has (1..=64).
        for sig in 1..=64 {
            if sig != libc::SIGKILL && sig != libc::SIGSTOP {
                libc::syscall(
                    libc::SYS_rt_sigaction,
                    sig,
                    action.as_ptr(),
                    std::ptr::null_mut::<u64>(),
                    8usize,
                );
            }
        }
        let mut empty: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut empty);
        libc::sigprocmask(libc::SIG_SETMASK, &empty, std::ptr::null_mut());
    }
}

#[cfg(test)]
mod tests {
    use super::split_command;

    #[test]
    fn splits_words_and_quotes() {
        assert_eq!(split_command("a b  c").unwrap(), ["a", "b", "c"]);
        assert_eq!(
            split_command("python3 -c 'print(1 + 2)'").unwrap(),
            ["python3", "-c", "print(1 + 2)"]
        );
        assert_eq!(
            split_command(r#"x "a \"b\"" c\ d"#).unwrap(),
            ["x", "a \"b\"", "c d"]
        );
        assert!(split_command("x 'open").is_err());
        assert!(split_command("   ").is_err());
    }
}
