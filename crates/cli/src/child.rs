//! `-c CMD`: the command is forked and held before `exec` until the probes
//! are attached, so that its very first probe hits are seen.

use std::ffi::CString;

use anyhow::{bail, Context, Result};

/// A forked child blocked before exec.
pub struct Child {
    pid: libc::pid_t,
    release_fd: libc::c_int,
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

/// Finds `prog` on PATH the way execvp would, so errors come before fork.
fn find_program(prog: &str) -> Result<CString> {
    if prog.contains('/') {
        if !std::path::Path::new(prog).exists() {
            bail!("cannot run -c command: {prog}: no such file");
        }
        return Ok(CString::new(prog)?);
    }
    let path = std::env::var("PATH").unwrap_or_else(|_| "/usr/bin:/bin".into());
    for dir in path.split(':') {
        let cand = std::path::Path::new(dir).join(prog);
        if cand.is_file() {
            return Ok(CString::new(cand.to_string_lossy().as_bytes())?);
        }
    }
    bail!("cannot run -c command: {prog}: not found in PATH")
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
        let mut fds = [0 as libc::c_int; 2];
        // SAFETY: plain pipe/fork; the child only calls async-signal-safe
        // functions (read, close, execv, _exit) on memory prepared before fork.
        unsafe {
            if libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) != 0 {
                bail!("pipe: {}", std::io::Error::last_os_error());
            }
            let pid = libc::fork();
            if pid < 0 {
                bail!("fork: {}", std::io::Error::last_os_error());
            }
            if pid == 0 {
                libc::close(fds[1]);
                let mut b = 0u8;
                let n = libc::read(fds[0], &mut b as *mut u8 as *mut libc::c_void, 1);
                if n != 1 {
                    libc::_exit(127);
                }
                libc::execv(prog.as_ptr(), argv.as_ptr());
                libc::_exit(127);
            }
            libc::close(fds[0]);
            Ok(Child {
                pid,
                release_fd: fds[1],
                exited: false,
            })
        }
    }

    /// The child's pid.
    pub fn pid(&self) -> u32 {
        self.pid as u32
    }

    /// Lets the child exec.
    pub fn release(&mut self) -> Result<()> {
        let b = 1u8;
        // SAFETY: writing one byte to our pipe end, then closing it once.
        let n = unsafe { libc::write(self.release_fd, &b as *const u8 as *const libc::c_void, 1) };
        unsafe { libc::close(self.release_fd) };
        self.release_fd = -1;
        if n != 1 {
            bail!(
                "cannot start the -c command: {}",
                std::io::Error::last_os_error()
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

    /// Ends the child if it still runs (ustrace is exiting).
    pub fn terminate(&mut self) {
        if self.release_fd >= 0 {
            // SAFETY: closing our pipe end makes the waiting child exit.
            unsafe { libc::close(self.release_fd) };
            self.release_fd = -1;
        }
        if !self.has_exited() {
            // SAFETY: signalling and reaping our own child.
            unsafe {
                libc::kill(self.pid, libc::SIGTERM);
                let mut status = 0;
                libc::waitpid(self.pid, &mut status, 0);
            }
            self.exited = true;
        }
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
