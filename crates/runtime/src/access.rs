//! Reading a session's maps from any thread: [`MapAccess`] holds its own
//! duplicates of the map file descriptors, so it needs no lock shared with
//! the event loop and stays valid after the session is dropped (the kernel
//! frees a map when its last descriptor closes).

use std::os::fd::{AsRawFd, OwnedFd, RawFd};

use crate::{sys, RuntimeError};

/// (key size, value size, per-CPU) of one map.
pub(crate) type MapShape = (usize, usize, bool);

/// A thread-safe handle for reading the maps of a [`crate::Session`]
/// (`Send + Sync`; reads are plain syscalls on its own descriptors).
#[derive(Debug)]
pub struct MapAccess {
    maps: Vec<OwnedFd>,
    shapes: Vec<MapShape>,
    stack_map: Option<usize>,
    walked_map: Option<usize>,
}

impl MapAccess {
    pub(crate) fn new(
        maps: &[OwnedFd],
        shapes: &[MapShape],
        stack_map: Option<usize>,
        walked_map: Option<usize>,
    ) -> std::io::Result<MapAccess> {
        let maps = maps
            .iter()
            .map(OwnedFd::try_clone)
            .collect::<std::io::Result<Vec<_>>>()?;
        Ok(MapAccess {
            maps,
            shapes: shapes.to_vec(),
            stack_map,
            walked_map,
        })
    }

    /// Every entry of map `index`, as [`crate::Session::read_map`] gives it.
    pub fn read_map(&self, index: usize) -> Vec<(Vec<u8>, Vec<Vec<u8>>)> {
        match (self.maps.get(index), self.shapes.get(index)) {
            (Some(fd), Some(&shape)) => read_map(fd.as_raw_fd(), shape),
            _ => Vec::new(),
        }
    }

    /// The frames of user stack `id`, as [`crate::Session::read_stack`]
    /// gives them.
    pub fn read_stack(&self, id: i64) -> Result<Vec<u64>, RuntimeError> {
        let fd = |i: Option<usize>| i.and_then(|i| self.maps.get(i)).map(|f| f.as_raw_fd());
        read_stack(fd(self.stack_map), fd(self.walked_map), id)
    }
}

/// Every entry of the map behind `fd`: key bytes and value bytes, one value
/// per possible CPU for per-CPU maps (one otherwise).
pub(crate) fn read_map(fd: RawFd, shape: MapShape) -> Vec<(Vec<u8>, Vec<Vec<u8>>)> {
    entries(fd, shape, false)
}

/// Every entry of the map behind `fd`, as [`read_map`], each deleted as it
/// is read (print then clear with no update lost between them). Entries of
/// maps that cannot delete while reading (arrays) are read, then deleted.
pub(crate) fn take_map(fd: RawFd, shape: MapShape) -> Vec<(Vec<u8>, Vec<Vec<u8>>)> {
    entries(fd, shape, true)
}

fn entries(fd: RawFd, shape: MapShape, take: bool) -> Vec<(Vec<u8>, Vec<Vec<u8>>)> {
    let (ksize, vsize, per_cpu) = shape;
    let ncpu = if per_cpu { sys::possible_cpus() } else { 1 };
    let stride = if per_cpu { (vsize + 7) & !7 } else { vsize };
    let mut out = Vec::new();
    for key in sys::map_keys(fd, ksize) {
        let mut buf = vec![0u8; stride * ncpu];
        let found = if take {
            sys::map_lookup_and_delete(fd, &key, &mut buf) || {
                let found = sys::map_lookup(fd, &key, &mut buf);
                sys::map_delete(fd, &key);
                found
            }
        } else {
            sys::map_lookup(fd, &key, &mut buf)
        };
        if found {
            let values = buf
                .chunks(stride.max(1))
                .map(|c| c[..vsize.min(c.len())].to_vec())
                .collect();
            out.push((key, values));
        }
    }
    out
}

/// The return addresses of stack `id` (innermost first, decoded by
/// `ustrace_abi::stack_frames`): from the stack-trace map behind
/// `stack_fd` for a `bpf_get_stackid` id, from the walked-stacks map behind
/// `walked_fd` for an id with [`ustrace_codegen::unwind::WALKED_ID_BIT`];
/// empty when the id is invalid (the kernel could not take the stack) or
/// was evicted.
pub(crate) fn read_stack(
    stack_fd: Option<RawFd>,
    walked_fd: Option<RawFd>,
    id: i64,
) -> Result<Vec<u64>, RuntimeError> {
    let walked = id >= 0 && (id as u64) & ustrace_codegen::unwind::WALKED_ID_BIT != 0;
    let (fd, key) = match (walked, u32::try_from(id)) {
        (true, _) => (walked_fd, id.to_ne_bytes().to_vec()),
        (false, Ok(k)) => (stack_fd, k.to_ne_bytes().to_vec()),
        (false, Err(_)) => return Ok(Vec::new()),
    };
    let Some(fd) = fd else {
        return Ok(Vec::new());
    };
    let depth = usize::from(ustrace_abi::USTACK_MAX_DEPTH);
    let mut buf = vec![0u8; depth * 8];
    if !sys::map_lookup(fd, &key, &mut buf) {
        return Ok(Vec::new());
    }
    Ok(ustrace_abi::stack_frames(&buf)?)
}
