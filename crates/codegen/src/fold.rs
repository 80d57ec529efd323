//! Constant folding with the same rules as the generated code.

use ustrace_lang::ast::{BinaryOp, IntType};

/// True for the operators giving 1 or 0.
pub(crate) fn is_comparison(op: BinaryOp) -> bool {
    matches!(
        op,
        BinaryOp::Eq | BinaryOp::Ne | BinaryOp::Lt | BinaryOp::Le | BinaryOp::Gt | BinaryOp::Ge
    )
}

/// Constant folding with the same semantics as the generated code.
pub(crate) fn fold(op: BinaryOp, a: i64, b: i64, signed: bool) -> Option<i64> {
    let (ua, ub) = (a as u64, b as u64);
    Some(match op {
        BinaryOp::Add => a.wrapping_add(b),
        BinaryOp::Sub => a.wrapping_sub(b),
        BinaryOp::Mul => a.wrapping_mul(b),
        BinaryOp::Div => {
            if b == 0 {
                0
            } else if signed {
                a.wrapping_div(b)
            } else {
                (ua / ub) as i64
            }
        }
        BinaryOp::Mod => {
            if b == 0 {
                0
            } else if signed {
                a.wrapping_rem(b)
            } else {
                (ua % ub) as i64
            }
        }
        BinaryOp::BitAnd => a & b,
        BinaryOp::BitOr => a | b,
        BinaryOp::BitXor => a ^ b,
        BinaryOp::Shl => ua.wrapping_shl(ub as u32 & 63) as i64,
        BinaryOp::Shr => {
            if signed {
                a.wrapping_shr(ub as u32 & 63)
            } else {
                ua.wrapping_shr(ub as u32 & 63) as i64
            }
        }
        BinaryOp::Eq => (a == b) as i64,
        BinaryOp::Ne => (a != b) as i64,
        BinaryOp::Lt => (if signed { a < b } else { ua < ub }) as i64,
        BinaryOp::Le => (if signed { a <= b } else { ua <= ub }) as i64,
        BinaryOp::Gt => (if signed { a > b } else { ua > ub }) as i64,
        BinaryOp::Ge => (if signed { a >= b } else { ua >= ub }) as i64,
        BinaryOp::And | BinaryOp::Or => return None,
    })
}

/// Parses a positional parameter as an integer (decimal or 0x hex).
pub(crate) fn parse_int(s: &str) -> Option<i64> {
    let t = s.trim();
    if let Some(h) = t.strip_prefix("0x") {
        return u64::from_str_radix(h, 16).ok().map(|v| v as i64);
    }
    t.parse::<i64>().ok()
}

/// A constant cast to `ty`: truncated, then sign- or zero-extended.
pub(crate) fn fold_cast(c: i64, ty: IntType) -> i64 {
    let bits = ty.size as u32 * 8;
    if bits >= 64 {
        c
    } else if ty.signed {
        (c << (64 - bits)) >> (64 - bits)
    } else {
        ((c as u64) & ((1u64 << bits) - 1)) as i64
    }
}
