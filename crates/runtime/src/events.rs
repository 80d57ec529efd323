//! The event ring buffer: collecting raw records from the kernel and
//! decoding them with the layouts the code generator recorded.

use std::collections::VecDeque;
use std::os::raw::{c_int, c_void};

use libbpf_sys as sys;
use ustrace_codegen::program::{
    CompiledScript, FieldKind, TAG_CLEAR_MAP, TAG_EXIT, TAG_PRINTF_LIMIT, TAG_PRINT_MAP,
    TAG_ZERO_MAP,
};

use crate::RuntimeError;

/// One decoded printf argument.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Arg {
    /// An integer and whether it is signed.
    Int(i64, bool),
    /// String bytes, up to (not including) the first NUL.
    Str(Vec<u8>),
    /// The name of a probe.
    Probe(String),
    /// `usym(addr)`: an address in process `pid`.
    USym {
        /// The address.
        addr: u64,
        /// The process it belongs to.
        pid: u32,
    },
    /// `buf()` bytes (as many as were read).
    Bytes(Vec<u8>),
    /// `strftime()`: `CLOCK_MONOTONIC` nanoseconds and the index of the
    /// format in `CompiledScript::strftime_formats`.
    Strftime {
        /// Format index.
        format: usize,
        /// Nanoseconds (the clock of `nsecs`).
        ns: u64,
    },
    /// A user stack: its id in the stack map (negative when the kernel
    /// could not take it), the pid its addresses belong to, and how to
    /// print it. Read the frames with `Session::read_stack`.
    UStack {
        /// Stack id from `bpf_get_stackid`.
        id: i64,
        /// Process the addresses belong to.
        pid: u32,
        /// Printing mode.
        mode: ustrace_codegen::program::StackMode,
    },
}

/// One event from the kernel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// A printf call: the id of its format and its arguments.
    Printf {
        /// Index into [`CompiledScript::printfs`].
        id: usize,
        /// The arguments.
        args: Vec<Arg>,
    },
    /// `print(@map, top, div)`: print the map now.
    PrintMap {
        /// Index into the script's maps.
        map: usize,
        /// Only the top N entries (0 = all).
        top: u64,
        /// Divide values by this (0 = 1).
        div: u64,
    },
    /// `clear(@map)`.
    ClearMap {
        /// Index into the script's maps.
        map: usize,
    },
    /// `zero(@map)`.
    ZeroMap {
        /// Index into the script's maps.
        map: usize,
    },
    /// `exit(code)` was called.
    Exit {
        /// The exit code.
        code: i64,
    },
}

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

/// Most records one [`Ring::poll`] returns.
pub const MAX_RECORDS_PER_POLL: usize = 4096;

impl Drop for Ring {
    fn drop(&mut self) {
        // SAFETY: rb came from ring_buffer__new and is freed once.
        unsafe { sys::ring_buffer__free(self.rb) };
    }
}

fn read_u64(b: &[u8], at: usize) -> Option<u64> {
    b.get(at..at + 8)
        .and_then(|s| s.try_into().ok())
        .map(u64::from_ne_bytes)
}

/// Decodes one record.
pub fn decode(script: &CompiledScript, rec: &[u8]) -> Option<Event> {
    let tag = read_u64(rec, 0)?;
    if tag == TAG_EXIT {
        return Some(Event::Exit {
            code: read_u64(rec, 8).unwrap_or(0) as i64,
        });
    }
    if tag == TAG_PRINT_MAP {
        return Some(Event::PrintMap {
            map: read_u64(rec, 8)? as usize,
            top: read_u64(rec, 16)?,
            div: read_u64(rec, 24)?,
        });
    }
    if tag == TAG_CLEAR_MAP {
        return Some(Event::ClearMap {
            map: read_u64(rec, 8)? as usize,
        });
    }
    if tag == TAG_ZERO_MAP {
        return Some(Event::ZeroMap {
            map: read_u64(rec, 8)? as usize,
        });
    }
    if tag >= TAG_PRINTF_LIMIT {
        return None;
    }
    let def = script.printfs.get(tag as usize)?;
    let mut off = 8;
    let mut args = Vec::with_capacity(def.args.len());
    for f in &def.args {
        match f {
            FieldKind::Int { signed } => args.push(Arg::Int(read_u64(rec, off)? as i64, *signed)),
            FieldKind::Str(n) => {
                let bytes = rec.get(off..off + n)?;
                let end = bytes.iter().position(|&b| b == 0).unwrap_or(bytes.len());
                args.push(Arg::Str(bytes[..end].to_vec()));
            }
            FieldKind::ProbeName => {
                let id = read_u64(rec, off)? as usize;
                args.push(Arg::Probe(
                    script.probe_names.get(id).cloned().unwrap_or_default(),
                ));
            }
            FieldKind::USym => args.push(Arg::USym {
                addr: read_u64(rec, off)?,
                pid: read_u64(rec, off + 8)? as u32,
            }),
            FieldKind::Buffer(cap) => {
                let len = (read_u64(rec, off)? as usize).min(*cap);
                args.push(Arg::Bytes(rec.get(off + 8..off + 8 + len)?.to_vec()));
            }
            FieldKind::Strftime(format) => args.push(Arg::Strftime {
                format: *format,
                ns: read_u64(rec, off)?,
            }),
            FieldKind::UStack(mode) => args.push(Arg::UStack {
                id: read_u64(rec, off)? as i64,
                pid: read_u64(rec, off + 8)? as u32,
                mode: *mode,
            }),
        }
        off += f.size();
    }
    Some(Event::Printf {
        id: tag as usize,
        args,
    })
}
