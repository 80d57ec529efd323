//! A semaphore declared by hand (`declare_semaphore!`), for probes guarded
//! by a semaphore of the program's own.

use core::fmt;
use core::sync::atomic::{AtomicU16, Ordering};

/// A USDT semaphore: a 16-bit counter that tracers make non-zero while they
/// are attached to a probe that records its address.
///
/// Declare one with [`declare_semaphore!`](crate::declare_semaphore!) (which puts it in the `.probes`
/// section, as `<sys/sdt.h>` does), use it with
/// `probe_guarded!(semaphore = NAME, ...)`, and test it with
/// [`is_enabled`](Semaphore::is_enabled). [`probe_guarded!`](crate::probe_guarded!) without
/// `semaphore =` does not use this type: it uses the semaphore of its
/// `provider:name`, defined by the assembler and read with [`enabled!`](crate::enabled!).
///
/// The counter is written from outside the program (by the kernel, or by a
/// tracer through `/proc/PID/mem`), so it is read with an atomic load: the
/// compiler never assumes it is still 0.
#[repr(transparent)]
pub struct Semaphore(AtomicU16);

impl Semaphore {
    /// A semaphore with count 0 (no tracer attached).
    pub const fn new() -> Semaphore {
        Semaphore(AtomicU16::new(0))
    }

    /// Whether a tracer is attached to a probe using this semaphore.
    #[inline(always)]
    pub fn is_enabled(&self) -> bool {
        self.count() != 0
    }

    /// The current count: the number of attached probe users, as counted by
    /// whoever attaches (the kernel adds one per uprobe it creates).
    #[inline(always)]
    pub fn count(&self) -> u16 {
        self.0.load(Ordering::Relaxed)
    }

    /// The counter's address, the one recorded in probe notes. A tracer that
    /// attaches without kernel help increments the `u16` there; a test can
    /// do the same to force guarded probes on.
    pub fn as_ptr(&self) -> *mut u16 {
        self.0.as_ptr()
    }
}

impl Default for Semaphore {
    fn default() -> Semaphore {
        Semaphore::new()
    }
}

impl fmt::Debug for Semaphore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Semaphore")
            .field("count", &self.count())
            .finish()
    }
}
