//! Money is integer fen (1/100 yuan) everywhere; floats never touch a price.

use serde::{Deserialize, Serialize};

/// "¥12.50" for 1250 fen; "¥3" for 300 fen (whole yuan without decimals, as Chinese shops print them).
pub fn format_yuan(fen: i64) -> String {
    let sign = if fen < 0 { "-" } else { "" };
    let abs = fen.unsigned_abs();
    let (yuan, rest) = (abs / 100, abs % 100);
    if rest == 0 {
        format!("{sign}¥{yuan}")
    } else {
        format!("{sign}¥{yuan}.{rest:02}")
    }
}

/// One distance tier: deliveries farther than `beyond_m` metres pay `extra_fen` on top of the base fee.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct FeeTier {
    pub beyond_m: u32,
    pub extra_fen: i64,
}

/// A store's delivery fee: base fee plus the highest distance tier reached, free at or above a threshold.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FeeRules {
    pub base_fen: i64,
    pub tiers: Vec<FeeTier>,
    /// Orders whose item total reaches this pay no delivery fee. `None`: never free.
    pub free_above_fen: Option<i64>,
}

impl FeeRules {
    /// The fee for delivering `items_fen` worth of goods over a straight-line distance of `distance_m`.
    pub fn fee_fen(&self, distance_m: u32, items_fen: i64) -> i64 {
        if self.free_above_fen.is_some_and(|t| items_fen >= t) {
            return 0;
        }
        let extra = self
            .tiers
            .iter()
            .filter(|t| distance_m > t.beyond_m)
            .map(|t| t.extra_fen)
            .max()
            .unwrap_or(0);
        self.base_fen + extra
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn yuan_is_printed_without_float_rounding() {
        assert_eq!(format_yuan(1250), "¥12.50");
        assert_eq!(format_yuan(1205), "¥12.05");
        assert_eq!(format_yuan(300), "¥3");
        assert_eq!(format_yuan(0), "¥0");
        assert_eq!(format_yuan(-99), "-¥0.99");
        assert_eq!(format_yuan(199_999_999), "¥1999999.99");
    }

    #[test]
    fn the_fee_grows_by_distance_tier_and_is_free_above_the_threshold() {
        let rules = FeeRules {
            base_fen: 400,
            tiers: vec![
                FeeTier {
                    beyond_m: 3_000,
                    extra_fen: 100,
                },
                FeeTier {
                    beyond_m: 5_000,
                    extra_fen: 300,
                },
            ],
            free_above_fen: Some(5_900),
        };
        assert_eq!(rules.fee_fen(1_000, 0), 400);
        assert_eq!(
            rules.fee_fen(3_000, 0),
            400,
            "the tier starts beyond its distance"
        );
        assert_eq!(rules.fee_fen(3_001, 0), 500);
        assert_eq!(rules.fee_fen(5_500, 5_899), 700);
        assert_eq!(rules.fee_fen(5_500, 5_900), 0);
    }
}
