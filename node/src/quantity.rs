//! Resource quantities (`500m`, `1.5Gi`, `2e3`) as exact amounts of nano-units: enough to
//! check flag values and to sum and compare requests and limits for a pod's QoS class.
//! (The API server has the full parser with upstream's canonical printing; a shared one in
//! `keelson-apis` would serve both.)

/// A quantity in nano-units (`1` is `1000000000`, `1m` is `1000000`), rounded up as upstream
/// rounds sub-nano amounts.
pub type Nanos = i128;

/// Text that is not a quantity.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("{0:?} is not a quantity such as 500m, 2, 1.5Gi or 1e3")]
pub struct BadQuantity(pub String);

/// Parses `text` into nano-units.
pub fn parse(text: &str) -> Result<Nanos, BadQuantity> {
    let bad = || BadQuantity(text.to_string());
    let (negative, unsigned) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text.strip_prefix('+').unwrap_or(text)),
    };
    let split = unsigned
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(unsigned.len());
    let (number, suffix) = unsigned.split_at(split);
    let (whole, fraction) = number.split_once('.').unwrap_or((number, ""));
    if whole.is_empty() && fraction.is_empty() || fraction.contains('.') {
        return Err(bad());
    }
    let (binary_power, decimal_exponent) = multiplier(suffix).ok_or_else(bad)?;
    let mut digits: u128 = 0;
    for d in whole.chars().chain(fraction.chars()) {
        let value = u128::from(d.to_digit(10).ok_or_else(bad)?);
        digits = digits
            .checked_mul(10)
            .and_then(|n| n.checked_add(value))
            .ok_or_else(bad)?;
    }
    let fraction_len = i32::try_from(fraction.len()).map_err(|_| bad())?;
    let numerator = digits
        .checked_mul(1u128.checked_shl(binary_power).ok_or_else(bad)?)
        .ok_or_else(bad)?;
    // nanos = numerator × 10^(exponent + 9 - fraction digits), rounded up.
    let exponent = decimal_exponent
        .checked_add(9)
        .and_then(|e| e.checked_sub(fraction_len))
        .ok_or_else(bad)?;
    let magnitude = if exponent >= 0 {
        let scale = 10u128
            .checked_pow(u32::try_from(exponent).map_err(|_| bad())?)
            .ok_or_else(bad)?;
        numerator.checked_mul(scale).ok_or_else(bad)?
    } else {
        match 10u128.checked_pow(exponent.unsigned_abs()) {
            Some(scale) => numerator.div_ceil(scale),
            // Smaller than a nano-unit: rounds up to one (or stays zero).
            None => u128::from(numerator > 0),
        }
    };
    let magnitude = i128::try_from(magnitude).map_err(|_| bad())?;
    Ok(if negative { -magnitude } else { magnitude })
}

/// The suffix's power of two (`Ki` = 10) and power of ten (`m` = -3, `e3` = 3).
fn multiplier(suffix: &str) -> Option<(u32, i32)> {
    Some(match suffix {
        "" => (0, 0),
        "Ki" => (10, 0),
        "Mi" => (20, 0),
        "Gi" => (30, 0),
        "Ti" => (40, 0),
        "Pi" => (50, 0),
        "Ei" => (60, 0),
        "n" => (0, -9),
        "u" => (0, -6),
        "m" => (0, -3),
        "k" => (0, 3),
        "M" => (0, 6),
        "G" => (0, 9),
        "T" => (0, 12),
        "P" => (0, 15),
        "E" => (0, 18),
        _ => {
            let exponent = suffix
                .strip_prefix('e')
                .or_else(|| suffix.strip_prefix('E'))?;
            let digits = exponent.strip_prefix(['+', '-']).unwrap_or(exponent);
            if digits.is_empty() || !digits.chars().all(|c| c.is_ascii_digit()) {
                return None;
            }
            (0, exponent.parse().ok()?)
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantities_are_read_exactly() {
        assert_eq!(parse("1"), Ok(1_000_000_000));
        assert_eq!(parse("500m"), Ok(500_000_000));
        assert_eq!(parse("0.5"), Ok(500_000_000));
        assert_eq!(parse(".5"), Ok(500_000_000));
        assert_eq!(parse("1.5Gi"), Ok(1_610_612_736 * 1_000_000_000));
        assert_eq!(parse("256Gi"), Ok(274_877_906_944 * 1_000_000_000));
        assert_eq!(parse("2e3"), Ok(2_000 * 1_000_000_000));
        assert_eq!(parse("1E-3"), Ok(1_000_000));
        assert_eq!(parse("1k"), parse("1000"));
        assert_eq!(parse("1n"), Ok(1));
        assert_eq!(parse("0.1n"), Ok(1), "sub-nano amounts round up");
        assert_eq!(parse("-1"), Ok(-1_000_000_000));
        assert_eq!(parse("+2"), Ok(2_000_000_000));
        for bad in ["", "m", "1x", "1.2.3", "Gi", "1e", "1e+", "abc", "1 Gi"] {
            assert!(parse(bad).is_err(), "{bad:?} was accepted");
        }
        assert!(parse("999999999999999999999999999999999999Ei").is_err());
    }
}
