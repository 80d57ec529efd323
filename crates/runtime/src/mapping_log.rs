//! Reading the mapping log (crates/codegen/src/unwind.rs,
//! `mapping_log_def`): the file-backed code mappings `bpf_find_vma` found
//! while walking a stack or for `usym`, keyed by (pid, start). They name
//! the addresses of a process that exited before user space read its
//! `/proc/PID/maps`.

use std::os::fd::{AsRawFd, OwnedFd};
use std::path::PathBuf;

use ustrace_codegen::unwind::{LOG_KEY_SIZE, LOG_VALUE_SIZE};

use crate::{sys, Mapping};

/// A handle on a session's mapping log (its own descriptor: it can
/// outlive the borrow of the session).
#[derive(Debug)]
pub struct MappingLog {
    fd: OwnedFd,
}

impl MappingLog {
    pub(crate) fn new(fd: OwnedFd) -> MappingLog {
        MappingLog { fd }
    }

    /// The mappings logged for `pid`, by start address. Their `path` is
    /// empty (the kernel gives the file's device and inode only) and their
    /// `dev` is major << 32 | minor, as in [`crate::parse_exec_mappings`].
    pub fn mappings_of(&self, pid: u32) -> Vec<Mapping> {
        let fd = self.fd.as_raw_fd();
        let mut out: Vec<Mapping> = sys::map_keys(fd, LOG_KEY_SIZE as usize)
            .into_iter()
            .filter_map(|key| {
                let mut value = [0u8; LOG_VALUE_SIZE as usize];
                if !sys::map_lookup(fd, &key, &mut value) {
                    return None;
                }
                logged_mapping(&key, &value).filter(|(p, _)| *p == pid)
            })
            .map(|(_, m)| m)
            .collect();
        out.sort_by_key(|m| m.start);
        out
    }
}

/// One log entry: key (pid u32, 4 zero bytes, start u64), value (kernel
/// device u32, 4 zero bytes, inode, page offset, end), as (pid, mapping).
fn logged_mapping(key: &[u8], value: &[u8]) -> Option<(u32, Mapping)> {
    let word = |b: &[u8], at: usize| -> Option<u64> {
        Some(u64::from_ne_bytes(b.get(at..at + 8)?.try_into().ok()?))
    };
    let pid = u32::try_from(word(key, 0)?).ok()?;
    let start = word(key, 8)?;
    let kernel_dev = word(value, 0)?;
    let (inode, pgoff, end) = (word(value, 8)?, word(value, 16)?, word(value, 24)?);
    Some((
        pid,
        Mapping {
            start,
            end,
            offset: pgoff.checked_mul(4096)?,
            dev: (kernel_dev >> 20) << 32 | (kernel_dev & 0xf_ffff),
            inode,
            path: PathBuf::new(),
        },
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_entry_is_read_back_with_the_maps_device_numbering() {
        let mut key = Vec::new();
        key.extend_from_slice(&4242u64.to_ne_bytes());
        key.extend_from_slice(&0x7f00_0000_1000u64.to_ne_bytes());
        let mut value = Vec::new();
        value.extend_from_slice(&((0xfeu64 << 20) | 1).to_ne_bytes());
        value.extend_from_slice(&1234u64.to_ne_bytes());
        value.extend_from_slice(&1u64.to_ne_bytes());
        value.extend_from_slice(&0x7f00_0000_5000u64.to_ne_bytes());
        let (pid, m) = logged_mapping(&key, &value).expect("an entry");
        assert_eq!(pid, 4242);
        assert_eq!(
            m,
            Mapping {
                start: 0x7f00_0000_1000,
                end: 0x7f00_0000_5000,
                offset: 0x1000,
                dev: 0xfe << 32 | 1,
                inode: 1234,
                path: PathBuf::new(),
            }
        );
        assert!(logged_mapping(&key[..8], &value).is_none(), "short key");
    }
}
