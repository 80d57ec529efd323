//! What goes wrong when bytes do not match their layout.

/// Bytes the kernel sent that do not match their layout.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// A field runs past the end of the bytes.
    #[error("{source_name}: {field} needs {needed} bytes at offset {offset}, but it has {len}")]
    Short {
        /// What was being decoded (`printf record 3`, `map @x key`...).
        source_name: String,
        /// The field that did not fit.
        field: &'static str,
        /// Where the field starts.
        offset: usize,
        /// Its size.
        needed: usize,
        /// How many bytes there were in all.
        len: usize,
    },
    /// A record's tag is neither a printf id nor a known action.
    #[error(
        "ring buffer record with unknown tag {tag:#x} (the script has {printfs} printf layouts)"
    )]
    UnknownTag {
        /// The tag.
        tag: u64,
        /// How many printf layouts the script has.
        printfs: usize,
    },
    /// A tuple header with fewer fields after it than it has elements, or
    /// a tuple value that is not a tuple of plain values.
    #[error("{source_name}: malformed tuple layout")]
    TupleLayout {
        /// What was being decoded.
        source_name: String,
    },
    /// A probe id that the script does not have.
    #[error("{source_name}: probe id {id}, but the script has {count} probes")]
    UnknownProbe {
        /// What was being decoded.
        source_name: String,
        /// The id.
        id: u64,
        /// How many probes the script has.
        count: usize,
    },
    /// A `buf()` length larger than the buffer.
    #[error("{source_name}: buffer length {len} exceeds its capacity {capacity}")]
    BufferLength {
        /// What was being decoded.
        source_name: String,
        /// The length read.
        len: u64,
        /// The buffer's capacity.
        capacity: usize,
    },
    /// A map entry without any value.
    #[error("map {map}: an entry has no value")]
    NoValue {
        /// The map's name.
        map: String,
    },
    /// Bytes that must be whole 8-byte words are not.
    #[error("{source_name}: {len} bytes is not a whole number of 8-byte words")]
    NotWords {
        /// What was being decoded.
        source_name: String,
        /// How many bytes there were.
        len: usize,
    },
}
