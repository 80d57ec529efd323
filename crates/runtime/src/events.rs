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

    /// Waits up to `timeout_ms` for records and returns at most
    /// [`MAX_RECORDS_PER_POLL`] of them. The bound keeps user-space memory
    /// small under overload: records the kernel cannot place while we are
    /// behind are dropped there and counted as lost, instead of piling up
    /// here (libbpf's `ring_buffer__poll` consumes for as long as
    /// producers keep up).
    pub fn poll(&mut self, timeout_ms: i32) -> Result<Vec<Vec<u8>>, RuntimeError> {
        self.consume()?;
        if self.queue.records.is_empty() && timeout_ms != 0 {
            // SAFETY: rb is live; its epoll fd stays owned by libbpf.
            let epfd = unsafe { sys::ring_buffer__epoll_fd(self.rb) };
            let mut event = libc::epoll_event { events: 0, u64: 0 };
            // SAFETY: waiting on a valid epoll fd with room for one event.
            let r = unsafe { libc::epoll_wait(epfd, &mut event, 1, timeout_ms) };
            if r < 0 {
                let e = std::io::Error::last_os_error();
                if e.raw_os_error() != Some(libc::EINTR) {
                    return Err(RuntimeError::RingBuffer(e));
                }
            }
            self.consume()?;
        }
        Ok(self.queue.records.drain(..).collect())
    }

    /// Moves up to [`MAX_RECORDS_PER_POLL`] records into the queue.
    fn consume(&mut self) -> Result<(), RuntimeError> {
        let room = MAX_RECORDS_PER_POLL.saturating_sub(self.queue.records.len());
        // SAFETY: rb is live; the callback appends to our queue.
        let r = unsafe { sys::ring_buffer__consume_n(self.rb, room as sys::size_t) };
        if r < 0 && r != -libc::EINTR {
            return Err(RuntimeError::RingBuffer(std::io::Error::from_raw_os_error(
                -r,
            )));
        }
        Ok(())
    }
}

/// Most records one `Session::poll` returns.
pub const MAX_RECORDS_PER_POLL: usize = 4096;

impl Drop for Ring {
    fn drop(&mut self) {
        // SAFETY: rb came from ring_buffer__new and is freed once.
        unsafe { sys::ring_buffer__free(self.rb) };
    }
}
