//! One semaphore per probe address. The kernel keeps one uprobe per (file,
//! offset) and accepts a second consumer there only with the same
//! `ref_ctr_offset` (the USDT semaphore): a plain uprobe (no semaphore)
//! and a semaphore-guarded USDT probe at one address fail with EINVAL.
//! Within one script both are wanted, so every site at an address some
//! other site guards with a semaphore is attached with that semaphore too.
//! The semaphore then counts one more user while the script is attached
//! (the guarded probe fires anyway, since its own USDT consumer is there)
//! and drops back when it detaches.

use std::collections::HashMap;
use std::path::Path;

use ustrace_codegen::program::{CompiledScript, ProgramTarget, UprobeFile, UprobeSite};

use crate::RuntimeError;

/// A file as the kernel identifies it: (device, inode), or the path when
/// it cannot be read (the attach will then report the real problem).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum FileId {
    Inode(u64, u64),
    Path(std::path::PathBuf),
}

fn file_id(path: &Path) -> FileId {
    use std::os::unix::fs::MetadataExt;
    match std::fs::metadata(path) {
        Ok(m) => FileId::Inode(m.dev(), m.ino()),
        Err(_) => FileId::Path(path.to_path_buf()),
    }
}

/// The semaphore of every guarded (file, offset) of a script.
#[derive(Debug, Default)]
pub struct SharedSemaphores {
    by_site: HashMap<(FileId, u64), u64>,
}

impl SharedSemaphores {
    /// Collects the guarded sites of every uprobe program of `script`.
    pub fn of(script: &CompiledScript) -> Result<SharedSemaphores, RuntimeError> {
        let files = script.programs.iter().flat_map(|p| match &p.target {
            ProgramTarget::Uprobe { files, .. } => files.as_slice(),
            _ => &[],
        });
        SharedSemaphores::of_files(files)
    }

    /// Collects the guarded sites of `files`. Two different semaphores at
    /// one address cannot both attach: an error naming the file, the
    /// address and both semaphores.
    fn of_files<'a>(
        files: impl IntoIterator<Item = &'a UprobeFile>,
    ) -> Result<SharedSemaphores, RuntimeError> {
        let mut shared = SharedSemaphores::default();
        for file in files {
            let id = file_id(&file.path);
            for site in file.sites.iter().filter(|s| s.ref_ctr_offset != 0) {
                let known = shared
                    .by_site
                    .entry((id.clone(), site.offset))
                    .or_insert(site.ref_ctr_offset);
                if *known != site.ref_ctr_offset {
                    return Err(RuntimeError::SemaphoreConflict {
                        target: file.path.display().to_string(),
                        offset: site.offset,
                        first: *known,
                        second: site.ref_ctr_offset,
                    });
                }
            }
        }
        Ok(shared)
    }

    /// `sites` of `path`, each unguarded site at a guarded address given
    /// that address's semaphore.
    pub fn apply(&self, path: &Path, sites: &[UprobeSite]) -> Vec<UprobeSite> {
        if self.by_site.is_empty() {
            return sites.to_vec();
        }
        let id = file_id(path);
        sites
            .iter()
            .map(|&site| match self.by_site.get(&(id.clone(), site.offset)) {
                Some(&sem) if site.ref_ctr_offset == 0 => UprobeSite {
                    ref_ctr_offset: sem,
                    ..site
                },
                _ => site,
            })
            .collect()
    }
}

/// The file offsets of `sites` for an error: `offset 0x113b`, `offsets
/// 0x1139, 0x113b`, or the first few and how many more.
pub fn describe_sites(sites: &[UprobeSite]) -> String {
    let shown: Vec<String> = sites
        .iter()
        .take(4)
        .map(|s| format!("{:#x}", s.offset))
        .collect();
    match sites.len() {
        1 => format!("offset {}", shown.join("")),
        n if n <= 4 => format!("offsets {}", shown.join(", ")),
        n => format!("offsets {} and {} more", shown.join(", "), n - 4),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn site(offset: u64, ref_ctr_offset: u64) -> UprobeSite {
        UprobeSite {
            offset,
            ref_ctr_offset,
            cookie: 0,
        }
    }

    fn shared(sites: &[(u64, u64)]) -> SharedSemaphores {
        let mut s = SharedSemaphores::default();
        for &(offset, sem) in sites {
            s.by_site
                .insert((file_id(Path::new("/nonexistent/x")), offset), sem);
        }
        s
    }

    #[test]
    fn unguarded_sites_at_a_guarded_address_share_its_semaphore() {
        let s = shared(&[(0x113b, 0x3018)]);
        let got = s.apply(
            Path::new("/nonexistent/x"),
            &[site(0x113b, 0), site(0x1139, 0)],
        );
        assert_eq!(got, [site(0x113b, 0x3018), site(0x1139, 0)]);
        // Another file keeps its sites as they are.
        let got = s.apply(Path::new("/nonexistent/y"), &[site(0x113b, 0)]);
        assert_eq!(got, [site(0x113b, 0)]);
    }

    #[test]
    fn two_semaphores_at_one_address_are_an_error() {
        let file = |sem| UprobeFile {
            path: "/nonexistent/x".into(),
            sites: vec![site(0x10, sem)],
        };
        let e = SharedSemaphores::of_files(&[file(0x20), file(0x28)]).unwrap_err();
        assert_eq!(
            e.to_string(),
            "cannot attach to /nonexistent/x: two USDT semaphores (file offsets 0x20 and 0x28) guard probes at offset 0x10, and the kernel allows one per address"
        );
    }
}
