//! Probe discovery for ustrace: everything about *where* a probe is, read from
//! files and `/proc`, with no kernel involvement.
//!
//! (The long explanation of USDT notes, argument specs, semaphores and file
//! offsets lives at the top of [`notes`].)

pub mod spec;

pub use spec::{ArgLocation, ArgSpec, ArgSpecError, Register, RegisterOperand};
