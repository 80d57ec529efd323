//! The bpftrace language as ustrace reads it.

pub mod ast;
pub mod printf;
