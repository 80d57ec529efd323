//! Names for the sites the kernel refused a uprobe on (see
//! `ustrace_runtime::refused`): the function at that file offset, else
//! the file and offset.

use std::collections::HashMap;
use std::path::PathBuf;

use ustrace_runtime::RefusedSite;

/// One name per refused site, in order: `pthread_spin_lock`, or
/// `/path/lib.so+0x1234` when no function starts there.
pub(crate) fn names(sites: &[RefusedSite]) -> Vec<String> {
    let mut functions: HashMap<PathBuf, HashMap<u64, String>> = HashMap::new();
    sites
        .iter()
        .map(|site| {
            let by_offset = functions.entry(site.path.clone()).or_insert_with(|| {
                ustrace_probes::find_functions(&site.path, "*")
                    .unwrap_or_default()
                    .into_iter()
                    .map(|f| (f.file_offset, f.name))
                    .collect()
            });
            by_offset
                .get(&site.offset)
                .cloned()
                .unwrap_or_else(|| format!("{}+{:#x}", site.path.display(), site.offset))
        })
        .collect()
}
