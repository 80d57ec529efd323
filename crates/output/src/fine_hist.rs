//! `hist(x, k)` with `k >= 1`: `2^k` buckets per power of two.
//!
//! Bucket 0 holds negative values. With `n = 2^k`, buckets `1..=2n` hold
//! one value each (`i - 1`). Above that, bucket `i` starts at
//! `start(i - 1)`, where `start(j) = 2^((j >> k) - 1) * (n + (j & (n - 1)))`:
//! each power of two `[2^p, 2^(p+1))` is cut into `n` equal parts. Labels
//! are bpftrace's: the start value shifted down by whole powers of 1024
//! with a `K`/`M`/`G`/`T`/`P`/`E` suffix, exactly as bpftrace prints them:
//! `[1024, 1536)`, then `[1024K, 1536K)` a power of 1024 higher.

use crate::map::hist_line;
#[cfg(test)]
use ustrace_abi::FINE_HIST_MAX_BITS;

/// The bucket of `v` in `hist(v, bits)` (the BPF code computes the same).
pub fn fine_hist_bucket(v: i64, bits: u8) -> u64 {
    let k = u32::from(bits);
    let n = 1u64 << k;
    if v < 0 {
        return 0;
    }
    let v = v as u64;
    if v < 2 * n {
        return v + 1;
    }
    let p = (63 - v.leading_zeros()) - k;
    let interval = (v >> p) - n;
    ((u64::from(p) + 1) << k) + interval + 1
}

/// The first value of the range that bucket `j + 1` covers (`j >= n`).
fn start(j: u64, bits: u8) -> i128 {
    let n = 1u64 << bits;
    let power = (j >> bits).saturating_sub(1);
    (1i128 << power.min(126)) * i128::from(n + (j & (n - 1)))
}

/// The inclusive value range of bucket `i` (`None`: unbounded below).
pub fn fine_hist_range(i: u64, bits: u8) -> (Option<i128>, i128) {
    let n = 1u64 << bits;
    match i {
        0 => (None, -1),
        i if i <= 2 * n => (Some(i128::from(i - 1)), i128::from(i - 1)),
        i => (Some(start(i - 1, bits)), start(i, bits) - 1),
    }
}

/// bpftrace's label of a range start: `start(j)` with the power reduced by
/// whole tens and a suffix.
fn label(j: u64, bits: u8) -> String {
    let n = 1u64 << bits;
    let mut power = (j >> bits).saturating_sub(1);
    let decade = (power / 10).min(6);
    power -= 10 * decade;
    let value = (1u128 << power) * u128::from(n + (j & (n - 1)));
    let suffix = ["", "K", "M", "G", "T", "P", "E"][decade as usize];
    format!("{value}{suffix}")
}

/// The text lines of a `hist(x, k)` value (each ending in a newline);
/// nothing when all buckets are empty.
pub(crate) fn render_fine_hist(out: &mut String, bits: u8, buckets: &[(u64, u64)]) {
    let mut counts = std::collections::BTreeMap::<u64, u64>::new();
    for &(i, c) in buckets {
        if c > 0 {
            let slot = counts.entry(i).or_insert(0);
            *slot = slot.saturating_add(c);
        }
    }
    let (Some((&first, _)), Some((&last, _))) = (counts.first_key_value(), counts.last_key_value())
    else {
        return;
    };
    let max = counts.values().copied().max().unwrap_or(0);
    let n = 1u64 << bits;
    for i in first..=last {
        let header = match i {
            0 => "(..., 0)".to_string(),
            i if i <= 2 * n => format!("[{}]", i - 1),
            i => format!("[{}, {})", label(i - 1, bits), label(i, bits)),
        };
        hist_line(out, &header, counts.get(&i).copied().unwrap_or(0), max);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_split_each_power_of_two_in_2_to_the_k_parts() {
        // k = 2: values 0..8 one per bucket, then quarters of each power.
        assert_eq!(fine_hist_bucket(-5, 2), 0);
        assert_eq!(fine_hist_bucket(0, 2), 1);
        assert_eq!(fine_hist_bucket(7, 2), 8);
        assert_eq!(fine_hist_bucket(8, 2), 9);
        assert_eq!(fine_hist_bucket(9, 2), 9);
        assert_eq!(fine_hist_bucket(10, 2), 10);
        assert_eq!(fine_hist_bucket(15, 2), 12);
        assert_eq!(fine_hist_bucket(16, 2), 13);
        // bpftrace's worked example: index 27 starts at 224 (k = 2).
        assert_eq!(fine_hist_range(28, 2), (Some(224), 255));
        assert_eq!(fine_hist_bucket(224, 2), 28);
        assert_eq!(fine_hist_bucket(i64::MAX, 5), (64 - 5) << 5);
    }

    #[test]
    fn every_value_falls_in_its_buckets_range() {
        for bits in 1..=FINE_HIST_MAX_BITS {
            for v in (0..5000i64).chain([i64::MAX, 1 << 40, (1 << 40) - 1]) {
                let (lo, hi) = fine_hist_range(fine_hist_bucket(v, bits), bits);
                assert!(lo.is_some_and(|lo| lo <= i128::from(v)), "{v} k={bits}");
                assert!(i128::from(v) <= hi, "{v} k={bits}");
            }
        }
    }

    #[test]
    fn labels_are_bpftraces() {
        let mut out = String::new();
        let b = |v| (fine_hist_bucket(v, 1), 1);
        render_fine_hist(&mut out, 1, &[b(-1), b(3), b(5), b(1500), b(1 << 20)]);
        let line = |label: &str| format!("{label:<16}{:>8} |{}|\n", 1, "@".repeat(52));
        assert!(out.starts_with(&line("(..., 0)")), "{out}");
        for label in ["[3]", "[1024, 1536)", "[1024K, 1536K)"] {
            assert!(out.contains(&line(label)), "{label}: {out}");
        }
        assert!(
            out.contains(&format!("{:<16}{:>8} |", "[4, 6)", 1)),
            "{out}"
        );
        assert!(out.ends_with(&line("[1024K, 1536K)")), "{out}");
    }
}
