//! Splitting an amount over weighted parts in whole minor units.

/// Splits `total` over `weights` pro rata, each share rounded toward zero, and gives what is
/// left (the last cents) to the largest weight (the first of equals). The shares always sum to
/// `total`. With no weights, or weights summing to zero, everything goes to the first (or
/// nothing is returned when there is no part at all).
pub fn pro_rata(total: i64, weights: &[i64]) -> Vec<i64> {
    if weights.is_empty() {
        return Vec::new();
    }
    let sum: i128 = weights.iter().map(|&w| i128::from(w)).sum();
    let largest = weights
        .iter()
        .enumerate()
        .max_by(|(i, a), (j, b)| a.unsigned_abs().cmp(&b.unsigned_abs()).then(j.cmp(i)))
        .map_or(0, |(i, _)| i);
    let mut shares: Vec<i64> = if sum == 0 {
        vec![0; weights.len()]
    } else {
        weights
            .iter()
            .map(|&w| {
                // |share| ≤ |total| because |w| ≤ |sum| is not guaranteed with mixed signs;
                // clamp so a pathological mix cannot overflow.
                let s = i128::from(total) * i128::from(w) / sum;
                s.clamp(i128::from(i64::MIN), i128::from(i64::MAX)) as i64
            })
            .collect()
    };
    let allocated: i128 = shares.iter().map(|&s| i128::from(s)).sum();
    let rest = i128::from(total) - allocated;
    shares[largest] = (i128::from(shares[largest]) + rest)
        .clamp(i128::from(i64::MIN), i128::from(i64::MAX)) as i64;
    shares
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn examples() {
        assert_eq!(pro_rata(100, &[1, 1, 1]), vec![34, 33, 33]);
        assert_eq!(pro_rata(100, &[100, 300]), vec![25, 75]);
        assert_eq!(pro_rata(10, &[333, 333, 334]), vec![3, 3, 4]);
        assert_eq!(pro_rata(1, &[500, 499]), vec![1, 0]);
        assert_eq!(pro_rata(7, &[]), Vec::<i64>::new());
        assert_eq!(pro_rata(7, &[0, 0]), vec![7, 0]);
        assert_eq!(pro_rata(-100, &[-1, -3]), vec![-25, -75]);
    }

    proptest! {
        #[test]
        fn shares_sum_to_the_total(total in -1_000_000i64..1_000_000, weights in proptest::collection::vec(0i64..100_000, 1..12)) {
            let shares = pro_rata(total, &weights);
            prop_assert_eq!(shares.iter().sum::<i64>(), total);
        }

        #[test]
        fn each_share_is_within_a_cent_per_part_of_exact(total in 0i64..1_000_000, weights in proptest::collection::vec(1i64..100_000, 1..12)) {
            let shares = pro_rata(total, &weights);
            let sum: i128 = weights.iter().map(|&w| i128::from(w)).sum();
            for (s, w) in shares.iter().zip(&weights) {
                let exact = i128::from(total) * i128::from(*w);
                let lo = i128::from(*s) * sum;
                // Every share is at most `parts` cents off its exact value.
                prop_assert!((lo - exact).abs() <= sum * weights.len() as i128);
            }
        }
    }
}
