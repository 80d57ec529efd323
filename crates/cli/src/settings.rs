//! Settings from the environment (bpftrace's names and ours). A value out
//! of range or not a number is an error naming the variable and the value,
//! never silently adjusted.

use anyhow::{bail, Result};

/// Default `str()` length.
pub const DEFAULT_STR_LEN: usize = 64;
/// Longest `str()` length (strings live on the 512-byte BPF stack).
pub const MAX_STR_LEN: usize = 200;
/// Largest `max_map_keys` accepted (the kernel may still refuse the memory).
pub const MAX_MAP_KEYS: u64 = 1 << 24;

/// The `str()` length from `USTRACE_STRLEN`, `BPFTRACE_STRLEN` or
/// `BPFTRACE_MAX_STRLEN` (the first set), 1 to [`MAX_STR_LEN`].
pub fn str_len() -> Result<usize> {
    let value = first_set(&["USTRACE_STRLEN", "BPFTRACE_STRLEN", "BPFTRACE_MAX_STRLEN"]);
    match value {
        None => Ok(DEFAULT_STR_LEN),
        Some((name, v)) => Ok(number_in(&name, &v, 1, MAX_STR_LEN as u64)? as usize),
    }
}

/// The key limit of maps from `USTRACE_MAX_MAP_KEYS` or
/// `BPFTRACE_MAX_MAP_KEYS`, 1 to [`MAX_MAP_KEYS`].
pub fn max_map_keys() -> Result<u32> {
    match first_set(&["USTRACE_MAX_MAP_KEYS", "BPFTRACE_MAX_MAP_KEYS"]) {
        None => Ok(ustrace::DEFAULT_MAX_MAP_KEYS),
        Some((name, v)) => Ok(number_in(&name, &v, 1, MAX_MAP_KEYS)? as u32),
    }
}

fn first_set(names: &[&str]) -> Option<(String, String)> {
    names
        .iter()
        .find_map(|n| std::env::var(n).ok().map(|v| (n.to_string(), v)))
}

/// Parses `value` of variable `name` as an integer in `min..=max`.
fn number_in(name: &str, value: &str, min: u64, max: u64) -> Result<u64> {
    match value.trim().parse::<u64>() {
        Ok(n) if (min..=max).contains(&n) => Ok(n),
        _ => bail!("{name}={value:?} is invalid: expected a whole number from {min} to {max}"),
    }
}

#[cfg(test)]
mod tests {
    use super::number_in;

    #[test]
    fn numbers_out_of_range_or_not_numbers_are_errors_naming_the_value() {
        assert_eq!(number_in("X", "64", 1, 200).unwrap(), 64);
        assert_eq!(number_in("X", " 200 ", 1, 200).unwrap(), 200);
        for bad in ["-5", "abc", "0", "201", "4294967296", "", "1e3"] {
            let e = number_in("USTRACE_STRLEN", bad, 1, 200)
                .unwrap_err()
                .to_string();
            assert!(e.contains(&format!("USTRACE_STRLEN={bad:?}")), "{e}");
            assert!(e.contains("from 1 to 200"), "{e}");
        }
    }
}
