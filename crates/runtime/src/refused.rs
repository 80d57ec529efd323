//! Sites the kernel refuses a uprobe on. The kernel decodes the first
//! instruction of every site and refuses some (`pthread_spin_lock` in
//! glibc starts with one): error 524, ENOTSUPP. One refused site fails a
//! whole uprobe_multi link, so a wildcard would fail because of one
//! function. Instead the sites are split in halves until the refused ones
//! stand alone: the accepted halves stay attached (each its own link), and
//! the refused sites are returned, for one warning naming them.
//!
//! (Before this, a refusal fell back to perf-event uprobes, one per site,
//! which failed at the same site and then detached the hundreds already
//! attached, each detach waiting for an RCU grace period: 28 s for
//! `uprobe:libc:p*`.)

use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};

use crate::sys;
use crate::RuntimeError;
use crate::UprobeSite;

/// The kernel's ENOTSUPP (not in libc: a kernel-internal errno that
/// reaches user space from uprobe registration).
pub const ENOTSUPP: i32 = 524;

/// A site the kernel would not place a uprobe on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefusedSite {
    /// The file (as attached: host view).
    pub path: PathBuf,
    /// The file offset of the site.
    pub offset: u64,
    /// Its attach cookie.
    pub cookie: u64,
}

/// True when `e` is the kernel refusing a particular site (not uprobes or
/// uprobe_multi as a whole).
pub fn is_site_refusal(e: &RuntimeError) -> bool {
    matches!(e, RuntimeError::Attach { source, .. } if source.raw_os_error() == Some(ENOTSUPP))
}

/// Attaches `sites` of `path` with uprobe_multi links, splitting around
/// refused sites. Returns the links and the refused sites; any other
/// error ends it.
pub fn attach_multi_around_refusals(
    prog: &OwnedFd,
    path: &Path,
    sites: &[UprobeSite],
    pid: u32,
    is_return: bool,
) -> Result<(Vec<OwnedFd>, Vec<RefusedSite>), RuntimeError> {
    let mut links = Vec::new();
    let mut refused = Vec::new();
    // An explicit stack of slices still to attach.
    let mut todo: Vec<&[UprobeSite]> = vec![sites];
    while let Some(part) = todo.pop() {
        if part.is_empty() {
            continue;
        }
        match sys::attach_uprobe_multi(prog, path, part, pid, is_return) {
            Ok(link) => links.push(link),
            Err(e) if is_site_refusal(&e) => {
                if let [site] = part {
                    refused.push(RefusedSite {
                        path: path.to_path_buf(),
                        offset: site.offset,
                        cookie: site.cookie,
                    });
                } else {
                    let (a, b) = part.split_at(part.len() / 2);
                    todo.push(b);
                    todo.push(a);
                }
            }
            Err(e) => return Err(e),
        }
    }
    Ok((links, refused))
}
