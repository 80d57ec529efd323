//! The trigger function that BEGIN, END and interval programs are attached
//! to, and how to find its file offset in our own executable.

use std::path::PathBuf;

use crate::RuntimeError;

/// Calling this fires the trigger program whose id is `id`. It does nothing
/// itself; the uprobe on its first instruction is the point.
#[no_mangle]
#[inline(never)]
pub extern "C" fn ustrace_trigger(id: u64) {
    std::hint::black_box(id);
}

/// Where the trigger function lives on disk.
pub struct TriggerLocation {
    /// Our executable.
    pub path: PathBuf,
    /// File offset of the function's first instruction.
    pub offset: u64,
}

/// Finds the trigger's file offset through /proc/self/maps.
pub fn locate() -> Result<TriggerLocation, RuntimeError> {
    let addr = ustrace_trigger as *const () as usize as u64;
    let maps = std::fs::read_to_string("/proc/self/maps")
        .map_err(|e| RuntimeError::Trigger(format!("/proc/self/maps: {e}")))?;
    for line in maps.lines() {
        let mut it = line.split_whitespace();
        let (Some(range), Some(_perms), Some(off), Some(_dev), Some(_inode)) =
            (it.next(), it.next(), it.next(), it.next(), it.next())
        else {
            continue;
        };
        let path: String = it.collect::<Vec<_>>().join(" ");
        let Some((lo, hi)) = range.split_once('-') else {
            continue;
        };
        let (Ok(lo), Ok(hi), Ok(off)) = (
            u64::from_str_radix(lo, 16),
            u64::from_str_radix(hi, 16),
            u64::from_str_radix(off, 16),
        ) else {
            continue;
        };
        if addr >= lo && addr < hi && path.starts_with('/') {
            return Ok(TriggerLocation {
                path: PathBuf::from(path),
                offset: addr - lo + off,
            });
        }
    }
    Err(RuntimeError::Trigger(format!(
        "address {addr:#x} is not in a file mapping"
    )))
}
