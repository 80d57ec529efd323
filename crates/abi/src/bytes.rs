//! Bounds-checked reads of untrusted bytes.

use crate::DecodeError;

/// A bounds-checked view of untrusted bytes, named for error messages.
#[derive(Debug, Clone, Copy)]
pub struct Bytes<'a> {
    data: &'a [u8],
    name: &'a str,
}

impl<'a> Bytes<'a> {
    /// A view of `data`, called `name` in errors.
    pub fn new(data: &'a [u8], name: &'a str) -> Bytes<'a> {
        Bytes { data, name }
    }

    /// How many bytes there are.
    pub fn len(&self) -> usize {
        self.data.len()
    }

    /// True when there are no bytes.
    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }

    /// The `size` bytes at `offset`, or an error naming `field`.
    pub fn slice(
        &self,
        offset: usize,
        size: usize,
        field: &'static str,
    ) -> Result<&'a [u8], DecodeError> {
        offset
            .checked_add(size)
            .and_then(|end| self.data.get(offset..end))
            .ok_or_else(|| DecodeError::Short {
                source_name: self.name.to_string(),
                field,
                offset,
                needed: size,
                len: self.data.len(),
            })
    }

    /// The native-endian 8-byte word at `offset`, or an error naming `field`.
    pub fn u64_at(&self, offset: usize, field: &'static str) -> Result<u64, DecodeError> {
        let word = self.slice(offset, 8, field)?;
        let mut b = [0u8; 8];
        b.copy_from_slice(word);
        Ok(u64::from_ne_bytes(b))
    }

    pub(crate) fn error_name(&self) -> String {
        self.name.to_string()
    }
}
