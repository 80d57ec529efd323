//! The event ring buffer: collecting raw records from the kernel (decoded
//! by `ustrace_abi::Decoder`).

use std::collections::VecDeque;
use std::os::raw::{c_int, c_void};

use crate::RuntimeError;
use libbpf_sys as sys;

/// Records collected by the libbpf callback before they are handed out.
struct Queue {
    records: VecDeque<Vec<u8>>,
}

unsafe extern "C" fn on_record(ctx: *mut c_void, data: *mut c_void, size: sys::size_t) -> c_int {
    if ctx.is_null() || data.is_null() {
        return 0;
    }
    // SAFETY: ctx is the Box<Queue> owned by Ring, alive while the ring is
    // polled; data/size describe the record libbpf hands us.
    let queue = unsafe { &mut *(ctx as *mut Queue) };
    let bytes = unsafe { std::slice::from_raw_parts(data as *const u8, size as usize) };
    queue.records.push_back(bytes.to_vec());
    0
}

/// A libbpf ring buffer consumer.
pub struct Ring {
    rb: *mut sys::ring_buffer,
    queue: Box<Queue>,
}

impl Ring {
    /// Opens the consumer side of the ring buffer map `fd`.
    pub fn new(fd: i32) -> Result<Ring, RuntimeError> {
        let mut queue = Box::new(Queue {
            records: VecDeque::new(),
        });
        let ctx = &mut *queue as *mut Queue as *mut c_void;
        // SAFETY: fd is a ring buffer map; the callback and ctx stay valid for
        // the life of `Ring` (the Box does not move its contents).
        let rb = unsafe { sys::ring_buffer__new(fd, Some(on_record), ctx, std::ptr::null()) };
        if rb.is_null() {
            return Err(RuntimeError::RingBuffer(std::io::Error::last_os_error()));
        }
        Ok(Ring { rb, queue })
    }

    /// Waits up to `timeout_ms` and returns the records received.
    pub fn poll(&mut self, timeout_ms: i32) -> Result<Vec<Vec<u8>>, RuntimeError> {
        // SAFETY: rb is live.
        let r = unsafe { sys::ring_buffer__poll(self.rb, timeout_ms) };
        if r < 0 && r != -libc::EINTR {
            return Err(RuntimeError::RingBuffer(std::io::Error::from_raw_os_error(
                -r,
            )));
        }
        Ok(self.queue.records.drain(..).collect())
    }
}

impl Drop for Ring {
    fn drop(&mut self) {
        // SAFETY: rb came from ring_buffer__new and is freed once.
        unsafe { sys::ring_buffer__free(self.rb) };
    }
}
