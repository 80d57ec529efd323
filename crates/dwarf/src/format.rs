//! Values of the program's types as text, in bpftrace's `print()` style:
//! `{ .id = 7, .name = first, .hdr = { .len = 42 }, .matrix = [[0,0,0],[0,0,12]] }`.
//!
//! The bytes are what a probe copied from the traced process (a struct,
//! an array, a scalar); this is the user-space half of printing a typed
//! value. Rules: integers in decimal by their signedness, `bool` as
//! `true`/`false`, pointers in hex (`0x7ffd5c1e0a40`, `0x0`), enums by
//! enumerator name (the number when none matches), `char` arrays as the
//! text up to the first NUL (other bytes escaped `\xNN`), other arrays as
//! `[a,b]`, records and unions as `{ .member = value, ... }` with bitfields
//! extracted, Rust enums with data as their active variant. Types without
//! a layout show as `<TYPE>`. Missing bytes (a short copy) read as zero.

use crate::types::{Encoding, Member, Record, Type, TypeId, TypeTable};

/// Records and arrays nest deeper than this only in pathological types.
const MAX_DEPTH: u32 = 16;

/// Array elements shown before `...`.
const MAX_ELEMENTS: u64 = 256;

/// Text longer than this ends in `...` (a corrupt file could describe a
/// record whose printing never ends).
const MAX_TEXT: usize = 64 * 1024;

impl TypeTable {
    /// `bytes` (a value of type `ty`, starting at its first byte) as text.
    pub fn format_value(&self, ty: TypeId, bytes: &[u8]) -> String {
        let mut out = String::new();
        self.format_into(ty, bytes, 0, &mut out);
        out
    }

    fn format_into(&self, ty: TypeId, bytes: &[u8], depth: u32, out: &mut String) {
        if depth > MAX_DEPTH || out.len() > MAX_TEXT {
            if !out.ends_with("...") {
                out.push_str("...");
            }
            return;
        }
        let resolved = self.resolve(ty);
        match self.get(resolved) {
            Type::Base { size, encoding, .. } => {
                out.push_str(&format_base(*encoding, *size, bytes));
            }
            Type::Pointer { .. } | Type::Reference { .. } => {
                out.push_str(&format!("{:#x}", read_uint(bytes, 0, 8)));
            }
            Type::Enum(e) => {
                let raw = read_uint(bytes, 0, e.size);
                let value = if e.signed {
                    sign_extend(raw, e.size.saturating_mul(8)) as i128
                } else {
                    raw as i128
                };
                match e.enumerators.iter().find(|en| en.value == value) {
                    Some(en) => out.push_str(&en.name),
                    None => out.push_str(&value.to_string()),
                }
            }
            Type::Array { element, count } => {
                self.format_array(*element, *count, bytes, depth, out)
            }
            Type::Record(r) => self.format_record(r, bytes, depth, out),
            Type::Void | Type::Function { .. } | Type::Unsupported { .. } => {
                out.push_str(&format!("<{}>", self.name(ty)));
            }
            Type::Typedef { .. } | Type::Qualified { .. } => out.push_str("..."),
        }
    }

    fn format_array(
        &self,
        element: TypeId,
        count: Option<u64>,
        bytes: &[u8],
        depth: u32,
        out: &mut String,
    ) {
        let count = count.unwrap_or(0);
        let elem_size = self.size_of(element).unwrap_or(0);
        if let Type::Base {
            size: 1,
            encoding: Encoding::SignedChar | Encoding::UnsignedChar,
            ..
        } = self.get(self.resolve(element))
        {
            let end = (count as usize).min(bytes.len());
            let text = &bytes[..end];
            let text = &text[..text.iter().position(|&b| b == 0).unwrap_or(text.len())];
            for &b in text {
                if b.is_ascii_graphic() || b == b' ' {
                    out.push(b as char);
                } else {
                    out.push_str(&format!("\\x{b:02x}"));
                }
            }
            return;
        }
        out.push('[');
        for i in 0..count.min(MAX_ELEMENTS) {
            if out.len() > MAX_TEXT {
                break;
            }
            if i > 0 {
                out.push(',');
            }
            let start = usize::try_from(i.saturating_mul(elem_size)).unwrap_or(usize::MAX);
            self.format_into(
                element,
                bytes.get(start..).unwrap_or_default(),
                depth + 1,
                out,
            );
        }
        if count > MAX_ELEMENTS {
            out.push_str(",...");
        }
        out.push(']');
    }

    fn format_record(&self, r: &Record, bytes: &[u8], depth: u32, out: &mut String) {
        if let Some(part) = &r.variant_part {
            // A Rust enum: the variant its discriminant selects.
            let discriminant = part
                .discriminant
                .as_ref()
                .map(|d| read_uint(bytes, d.offset, self.size_of(d.ty).unwrap_or(0)));
            let variant = part
                .variants
                .iter()
                .find(|v| v.discriminant.is_some() && v.discriminant == discriminant)
                .or_else(|| part.variants.iter().find(|v| v.discriminant.is_none()));
            match variant {
                Some(v) => self.format_members(&v.members, bytes, depth, out),
                None => out.push_str("{ }"),
            }
            return;
        }
        self.format_members(&r.members, bytes, depth, out);
    }

    fn format_members(&self, members: &[Member], bytes: &[u8], depth: u32, out: &mut String) {
        if members.is_empty() {
            out.push_str("{ }");
            return;
        }
        out.push_str("{ ");
        for (i, m) in members.iter().enumerate() {
            if out.len() > MAX_TEXT {
                break;
            }
            if i > 0 {
                out.push_str(", ");
            }
            if !m.name.is_empty() {
                out.push('.');
                out.push_str(&m.name);
                out.push_str(" = ");
            }
            match m.bitfield {
                Some(b) => {
                    let value = read_bits(bytes, b.bit_offset, b.bit_size);
                    let signed = matches!(
                        self.get(self.resolve(m.ty)),
                        Type::Base {
                            encoding: Encoding::Signed | Encoding::SignedChar,
                            ..
                        }
                    );
                    if signed {
                        out.push_str(&sign_extend(value, b.bit_size).to_string());
                    } else {
                        out.push_str(&value.to_string());
                    }
                }
                None => {
                    let start = usize::try_from(m.offset).unwrap_or(usize::MAX);
                    self.format_into(m.ty, bytes.get(start..).unwrap_or_default(), depth + 1, out)
                }
            }
        }
        out.push_str(" }");
    }
}

fn format_base(encoding: Encoding, size: u64, bytes: &[u8]) -> String {
    let raw = read_uint(bytes, 0, size);
    match encoding {
        Encoding::Bool => (raw != 0).to_string(),
        Encoding::Signed | Encoding::SignedChar => {
            sign_extend(raw, size.saturating_mul(8)).to_string()
        }
        // Debug formatting: exponents for tiny and huge values.
        Encoding::Float if size == 4 => format!("{:?}", f32::from_bits(raw as u32)),
        Encoding::Float if size == 8 => format!("{:?}", f64::from_bits(raw)),
        Encoding::Utf => char::from_u32(raw as u32)
            .map(|c| c.to_string())
            .unwrap_or_else(|| raw.to_string()),
        _ => raw.to_string(),
    }
}

/// Little-endian unsigned value of `size` (at most 8) bytes at `offset`;
/// missing bytes are zero.
fn read_uint(bytes: &[u8], offset: u64, size: u64) -> u64 {
    let mut value = 0u64;
    for i in 0..size.min(8) {
        let byte = offset
            .checked_add(i)
            .and_then(|at| usize::try_from(at).ok())
            .and_then(|at| bytes.get(at))
            .copied()
            .unwrap_or(0);
        value |= (byte as u64) << (8 * i);
    }
    value
}

/// `bit_size` bits from bit `bit_offset` (least significant first).
fn read_bits(bytes: &[u8], bit_offset: u64, bit_size: u64) -> u64 {
    let mut value = 0u64;
    for i in 0..bit_size.min(64) {
        let Some(bit) = bit_offset.checked_add(i) else {
            break;
        };
        let byte = usize::try_from(bit / 8)
            .ok()
            .and_then(|at| bytes.get(at))
            .copied()
            .unwrap_or(0);
        value |= (((byte >> (bit % 8)) & 1) as u64) << i;
    }
    value
}

fn sign_extend(value: u64, bits: u64) -> i64 {
    if bits == 0 || bits >= 64 {
        return value as i64;
    }
    let shift = 64 - bits;
    ((value << shift) as i64) >> shift
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bits_and_signs() {
        assert_eq!(read_bits(&[0b1010_0000, 0b0000_0001], 5, 4), 0b1101);
        assert_eq!(sign_extend(0b111, 3), -1);
        assert_eq!(sign_extend(0xff, 8), -1);
        assert_eq!(sign_extend(5, 64), 5);
        assert_eq!(read_uint(&[1, 2], 0, 4), 0x0201);
        assert_eq!(read_uint(&[], u64::MAX, 8), 0);
        assert_eq!(format_base(Encoding::Bool, 1, &[1]), "true");
        assert_eq!(
            format_base(Encoding::Float, 8, &2.5f64.to_le_bytes()),
            "2.5"
        );
    }
}
