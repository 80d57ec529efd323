//! The one error type of the runtime: what the kernel refused, and why.

/// Errors from talking to the kernel.
#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    /// A map could not be created.
    #[error("cannot create BPF map {name}: {source}")]
    MapCreate {
        /// Map name.
        name: String,
        /// The kernel's answer.
        source: std::io::Error,
    },
    /// The verifier (or the kernel) refused a program.
    #[error("the kernel refused BPF program {name}: {source}")]
    ProgramLoad {
        /// Program name.
        name: String,
        /// The kernel's answer.
        source: std::io::Error,
        /// The verifier log.
        log: String,
    },
    /// Attaching failed.
    #[error("cannot attach to {target}: {source}")]
    Attach {
        /// What we tried to attach to.
        target: String,
        /// The kernel's answer.
        source: std::io::Error,
    },
    /// The kernel refused a uprobe on every site of a file (error 524,
    /// ENOTSUPP: it cannot handle the instruction there).
    #[error("cannot attach to {target}: the kernel cannot place a uprobe on {what} (error 524 ENOTSUPP: instruction not supported)")]
    Refused {
        /// The file.
        target: String,
        /// Which sites ("offset 0x1234", "any of the 3 sites").
        what: String,
    },
    /// The kernel answered EINVAL to a uprobe: at one of the addresses it
    /// already has a uprobe with another semaphore (see
    /// [`crate::shared_semaphores`]), most often another tracer's.
    #[error("cannot attach to {target} at {sites}: Invalid argument (os error 22); the kernel allows one USDT semaphore (ref_ctr_offset) per probe address, so another tracer probably has a uprobe or USDT probe at one of these addresses with a different semaphore (or none)")]
    SemaphoreMismatch {
        /// The file.
        target: String,
        /// The file offsets tried (`offset 0x113b`, `3 offsets from 0x1139`).
        sites: String,
    },
    /// Two semaphores guard probes at one address of a file.
    #[error("cannot attach to {target}: two USDT semaphores (file offsets {first:#x} and {second:#x}) guard probes at offset {offset:#x}, and the kernel allows one per address")]
    SemaphoreConflict {
        /// The file.
        target: String,
        /// The file offset of the probe address.
        offset: u64,
        /// The semaphore seen first.
        first: u64,
        /// The other one.
        second: u64,
    },
    /// The ring buffer could not be set up or read.
    #[error("ring buffer: {0}")]
    RingBuffer(std::io::Error),
    /// Bytes read from a map do not match their layout.
    #[error(transparent)]
    Decode(#[from] ustrace_abi::DecodeError),
    /// A BEGIN, END or interval program could not be run.
    #[error("cannot run BPF program {name}: {source}")]
    Run {
        /// Program name.
        name: String,
        /// The kernel's answer.
        source: std::io::Error,
    },
}
