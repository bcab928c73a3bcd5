//! Kubernetes resource quantities (`500m`, `1.5Gi`, `2e3`), as upstream's
//! `k8s.io/apimachinery/pkg/api/resource` reads, compares and prints them. k8s-openapi
//! keeps a quantity as its text, so this is the one parser the strategies share.
//!
//! A quantity is kept exactly as `mantissa × 10^exponent` (no floating point); parsing
//! rounds away from zero to nano units as upstream does, and the canonical form upstream's
//! `String()` prints is rebuilt from the suffix family the value was written in.

use std::cmp::Ordering;
use std::fmt;

/// Upstream's message for text that is not a quantity.
pub const FORMAT_ERROR: &str =
    "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'";
/// Upstream's message for an unknown suffix.
pub const SUFFIX_ERROR: &str = "unable to parse quantity's suffix";

/// Digits a mantissa may hold (u128 holds every 38-digit number).
const MAX_DIGITS: u32 = 38;
/// Parsed values are rounded (away from zero) to nano units.
const NANO: i32 = -9;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Format {
    BinarySi,
    DecimalSi,
    DecimalExponent,
}

/// A parsed quantity.
#[derive(Clone, Debug)]
pub struct Quantity {
    negative: bool,
    /// The magnitude is `mantissa × 10^exponent`; the mantissa has no trailing zeros.
    mantissa: u128,
    exponent: i32,
    format: Format,
}

fn pow10(n: u32) -> Option<u128> {
    10u128.checked_pow(n)
}

fn digits(mut n: u128) -> i64 {
    let mut count = 0;
    while n > 0 {
        n /= 10;
        count += 1;
    }
    count
}

/// `mantissa × 10^exponent` with the trailing zeros of the mantissa moved to the exponent.
fn normalized(mut mantissa: u128, mut exponent: i32) -> (u128, i32) {
    if mantissa == 0 {
        return (0, 0);
    }
    while mantissa % 10 == 0 {
        mantissa /= 10;
        exponent = exponent.saturating_add(1);
    }
    (mantissa, exponent)
}

/// The base-10 exponent of a decimal suffix, the power of 1024 of a binary one.
fn suffix(s: &str) -> Result<(Format, i32), &'static str> {
    let decimal = match s {
        "" => Some(0),
        "n" => Some(-9),
        "u" => Some(-6),
        "m" => Some(-3),
        "k" => Some(3),
        "M" => Some(6),
        "G" => Some(9),
        "T" => Some(12),
        "P" => Some(15),
        "E" => Some(18),
        _ => None,
    };
    if let Some(e) = decimal {
        return Ok((Format::DecimalSi, e));
    }
    let binary = match s {
        "Ki" => Some(1),
        "Mi" => Some(2),
        "Gi" => Some(3),
        "Ti" => Some(4),
        "Pi" => Some(5),
        "Ei" => Some(6),
        _ => None,
    };
    if let Some(k) = binary {
        return Ok((Format::BinarySi, k));
    }
    match s.strip_prefix(['e', 'E']) {
        Some(exp) if !exp.is_empty() => exp
            .parse::<i32>()
            .map(|e| (Format::DecimalExponent, e))
            .map_err(|_| SUFFIX_ERROR),
        _ => Err(SUFFIX_ERROR),
    }
}

impl Quantity {
    /// Parses a quantity; the error is upstream's message.
    pub fn parse(text: &str) -> Result<Quantity, &'static str> {
        let (negative, rest) = match text.as_bytes().first() {
            Some(b'-') => (true, text.get(1..).unwrap_or("")),
            Some(b'+') => (false, text.get(1..).unwrap_or("")),
            Some(_) => (false, text),
            None => return Err(FORMAT_ERROR),
        };
        let whole_end = rest
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(rest.len());
        let (whole, rest) = rest.split_at(whole_end);
        let (fraction, rest) = match rest.strip_prefix('.') {
            Some(after) => {
                let end = after
                    .find(|c: char| !c.is_ascii_digit())
                    .unwrap_or(after.len());
                after.split_at(end)
            }
            None => ("", rest),
        };
        if whole.is_empty() && fraction.is_empty() {
            return Err(FORMAT_ERROR);
        }
        // The suffix: letters of the suffix alphabet, then an optional signed number.
        let letters_end = rest
            .find(|c: char| !"eEinumkKMGTP".contains(c))
            .unwrap_or(rest.len());
        let (_, tail) = rest.split_at(letters_end);
        let tail = tail.strip_prefix(['+', '-']).unwrap_or(tail);
        if !tail.chars().all(|c| c.is_ascii_digit()) {
            return Err(FORMAT_ERROR);
        }
        let (format, scale) = suffix(rest)?;

        let all_digits = format!("{whole}{fraction}");
        let significant = all_digits.trim_start_matches('0');
        let significant = significant.trim_end_matches('0');
        let trailing_zeros = all_digits
            .trim_start_matches('0')
            .len()
            .saturating_sub(significant.len());
        if significant.len() > MAX_DIGITS as usize {
            return Err(FORMAT_ERROR);
        }
        let mantissa: u128 = if significant.is_empty() {
            0
        } else {
            significant.parse().map_err(|_| FORMAT_ERROR)?
        };
        let mut exponent = i32::try_from(trailing_zeros)
            .ok()
            .and_then(|z| z.checked_sub(i32::try_from(fraction.len()).ok()?))
            .ok_or(FORMAT_ERROR)?;
        let mut mantissa = mantissa;
        match format {
            Format::BinarySi => {
                let factor = 1024u128.checked_pow(scale as u32).ok_or(FORMAT_ERROR)?;
                mantissa = mantissa.checked_mul(factor).ok_or(FORMAT_ERROR)?;
            }
            _ => exponent = exponent.checked_add(scale).ok_or(FORMAT_ERROR)?,
        }
        let (mut mantissa, mut exponent) = normalized(mantissa, exponent);
        if mantissa != 0 && exponent < NANO {
            // Round away from zero to whole nano units.
            let shift = u32::try_from(i64::from(NANO).saturating_sub(i64::from(exponent)))
                .unwrap_or(u32::MAX);
            mantissa = match pow10(shift) {
                Some(divisor) => {
                    let whole = mantissa / divisor;
                    if mantissa % divisor == 0 {
                        whole
                    } else {
                        whole.saturating_add(1)
                    }
                }
                None => 1,
            };
            (mantissa, exponent) = normalized(mantissa, NANO);
        }
        let mut q = Quantity {
            negative: negative && mantissa != 0,
            mantissa,
            exponent,
            format,
        };
        if q.format == Format::BinarySi {
            // Upstream caps binary quantities at the largest int64.
            let max = Quantity::from_u128(i64::MAX as u128, Format::BinarySi);
            if q.cmp_magnitude(&max) == Ordering::Greater {
                q.mantissa = max.mantissa;
                q.exponent = max.exponent;
            }
            if q.mantissa != 0 && q.exponent < 0 {
                // Below one (and not zero): shown as a decimal.
                if q.cmp_magnitude(&Quantity::from_u128(1, Format::DecimalSi)) == Ordering::Less {
                    q.format = Format::DecimalSi;
                }
            }
        }
        Ok(q)
    }

    fn from_u128(value: u128, format: Format) -> Quantity {
        let (mantissa, exponent) = normalized(value, 0);
        Quantity {
            negative: false,
            mantissa,
            exponent,
            format,
        }
    }

    pub fn is_negative(&self) -> bool {
        self.negative
    }

    fn cmp_magnitude(&self, other: &Quantity) -> Ordering {
        match (self.mantissa, other.mantissa) {
            (0, 0) => return Ordering::Equal,
            (0, _) => return Ordering::Less,
            (_, 0) => return Ordering::Greater,
            _ => {}
        }
        // The position of the leading digit decides, then the digits themselves.
        let lead_a = digits(self.mantissa).saturating_add(i64::from(self.exponent));
        let lead_b = digits(other.mantissa).saturating_add(i64::from(other.exponent));
        if lead_a != lead_b {
            return lead_a.cmp(&lead_b);
        }
        // Same leading position: align to the smaller exponent; both then have the same
        // number of digits, at most MAX_DIGITS, so neither overflows.
        let low = self.exponent.min(other.exponent);
        let scale = |q: &Quantity| {
            u32::try_from(i64::from(q.exponent).saturating_sub(i64::from(low)))
                .ok()
                .and_then(pow10)
                .and_then(|f| q.mantissa.checked_mul(f))
        };
        match (scale(self), scale(other)) {
            (Some(a), Some(b)) => a.cmp(&b),
            _ => Ordering::Equal,
        }
    }

    /// The magnitude in units of `10^-scale`, rounded away from zero, when it fits.
    fn scaled_magnitude(&self, scale: i32) -> Option<u128> {
        let exponent = i64::from(self.exponent).saturating_add(i64::from(scale));
        if exponent >= 0 {
            let factor = pow10(u32::try_from(exponent).ok()?)?;
            self.mantissa.checked_mul(factor)
        } else {
            // A divisor beyond u128 leaves a fraction of one unit: it rounds up to one.
            let Some(divisor) = u32::try_from(-exponent).ok().and_then(pow10) else {
                return Some(u128::from(self.mantissa != 0));
            };
            let whole = self.mantissa / divisor;
            Some(if self.mantissa % divisor == 0 {
                whole
            } else {
                whole.saturating_add(1)
            })
        }
    }

    /// The value in thousandths, rounded away from zero (upstream's `MilliValue`), when it
    /// fits.
    fn milli_magnitude(&self) -> Option<u128> {
        self.scaled_magnitude(3)
    }

    /// The magnitude with its sign, when it fits an `i64`.
    fn signed(&self, magnitude: Option<u128>) -> Option<i64> {
        let magnitude = i64::try_from(magnitude?).ok()?;
        Some(if self.negative { -magnitude } else { magnitude })
    }

    /// The value in thousandths, rounded away from zero, as upstream's `MilliValue` reads a
    /// CPU quantity (`250m` is 250, `0.1` is 100, `1` is 1000); `None` when it does not fit
    /// an `i64`.
    pub fn milli_value(&self) -> Option<i64> {
        self.signed(self.milli_magnitude())
    }

    /// The value as a whole number, rounded away from zero, as upstream's `Value` reads a
    /// memory or count quantity (`1Ki` is 1024, `1k` is 1000, `1500m` is 2); `None` when it
    /// does not fit an `i64`.
    pub fn value(&self) -> Option<i64> {
        self.signed(self.scaled_magnitude(0))
    }

    /// Whether `MilliValue() % 1000 == 0`, upstream's test for integer resources.
    pub fn is_whole(&self) -> bool {
        self.milli_magnitude().is_none_or(|m| m % 1000 == 0)
    }

    /// The magnitude as an integer, when it is one and fits.
    fn whole_magnitude(&self) -> Option<u128> {
        let factor = pow10(u32::try_from(self.exponent).ok()?)?;
        self.mantissa.checked_mul(factor)
    }
}

impl PartialEq for Quantity {
    fn eq(&self, other: &Quantity) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for Quantity {}

impl PartialOrd for Quantity {
    fn partial_cmp(&self, other: &Quantity) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Quantity {
    fn cmp(&self, other: &Quantity) -> Ordering {
        match (self.negative, other.negative) {
            (false, true) => Ordering::Greater,
            (true, false) => Ordering::Less,
            (false, false) => self.cmp_magnitude(other),
            (true, true) => other.cmp_magnitude(self),
        }
    }
}

/// Upstream's canonical form (`Quantity.String()`).
impl fmt::Display for Quantity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.mantissa == 0 {
            return f.write_str("0");
        }
        let sign = if self.negative { "-" } else { "" };
        if self.format == Format::BinarySi {
            let small =
                self.cmp_magnitude(&Quantity::from_u128(1024, Format::DecimalSi)) == Ordering::Less;
            if let Some(mut whole) = self.whole_magnitude().filter(|_| !small) {
                let mut power = 0;
                while power < 6 && whole % 1024 == 0 {
                    whole /= 1024;
                    power += 1;
                }
                let suffix = ["", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei"]
                    .get(power)
                    .copied()
                    .unwrap_or("");
                return write!(f, "{sign}{whole}{suffix}");
            }
        }
        // A mantissa and an exponent that is a multiple of three.
        let mut mantissa = self.mantissa;
        let mut exponent = self.exponent;
        let adjust = exponent.rem_euclid(3);
        if adjust != 0 {
            if let Some(m) = pow10(adjust as u32).and_then(|p| mantissa.checked_mul(p)) {
                mantissa = m;
                exponent = exponent.saturating_sub(adjust);
            }
        }
        let si = match exponent {
            -9 => Some("n"),
            -6 => Some("u"),
            -3 => Some("m"),
            0 => Some(""),
            3 => Some("k"),
            6 => Some("M"),
            9 => Some("G"),
            12 => Some("T"),
            15 => Some("P"),
            18 => Some("E"),
            _ => None,
        };
        match (self.format, si) {
            (Format::DecimalSi | Format::BinarySi, Some(s)) => write!(f, "{sign}{mantissa}{s}"),
            (_, _) if exponent == 0 => write!(f, "{sign}{mantissa}"),
            _ => write!(f, "{sign}{mantissa}e{exponent}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(s: &str) -> Quantity {
        match Quantity::parse(s) {
            Ok(q) => q,
            Err(e) => panic!("{s}: {e}"),
        }
    }

    #[test]
    fn canonical_forms() {
        for (input, shown) in [
            ("0", "0"),
            ("0.0", "0"),
            ("1", "1"),
            ("1000", "1k"),
            ("1500", "1500"),
            ("0.5", "500m"),
            ("2000m", "2"),
            ("100m", "100m"),
            ("1Gi", "1Gi"),
            ("1024Mi", "1Gi"),
            ("1.5Gi", "1536Mi"),
            ("1000Mi", "1000Mi"),
            ("512", "512"),
            ("0.5Gi", "512Mi"),
            ("0.5Ki", "512"),
            ("1e3", "1e3"),
            ("1E", "1E"),
            ("-1", "-1"),
            ("-500m", "-500m"),
            ("+2", "2"),
            ("1.0000000001", "1000000001n"),
            ("0.0000000001", "1n"),
            ("12e-3", "12e-3"),
            ("1.", "1"),
            (".5", "500m"),
        ] {
            assert_eq!(q(input).to_string(), shown, "{input}");
        }
    }

    #[test]
    fn bad_text() {
        for bad in ["", "abc", "1x", "1Gb", "1e", "1.2.3", "--1", "1 ", "-"] {
            assert!(Quantity::parse(bad).is_err(), "{bad}");
        }
        assert_eq!(Quantity::parse("1Gb").err(), Some(FORMAT_ERROR));
        assert_eq!(Quantity::parse("1ki").err(), Some(SUFFIX_ERROR));
        assert_eq!(Quantity::parse("abc").err(), Some(FORMAT_ERROR));
        assert!(Quantity::parse(&"9".repeat(39)).is_err());
    }

    #[test]
    fn comparisons() {
        assert!(q("1") > q("999m"));
        assert!(q("1Gi") > q("1G"));
        assert!(q("1000Mi") < q("1Gi"));
        assert_eq!(q("1k"), q("1000"));
        assert_eq!(q("0.5"), q("500m"));
        assert!(q("-1") < q("0"));
        assert!(q("-2") < q("-1"));
        assert!(q("1e30") > q("8Ei"));
        assert!(q("-1").is_negative());
        assert!(!q("0").is_negative());
        assert!(!q("-0").is_negative());
    }

    #[test]
    fn integer_values() {
        for (input, milli, whole) in [
            ("0", 0, 0),
            ("250m", 250, 1),
            ("0.1", 100, 1),
            ("1", 1000, 1),
            ("2", 2000, 2),
            ("1500m", 1500, 2),
            ("100u", 1, 1),
            ("1n", 1, 1),
            ("1k", 1_000_000, 1000),
            ("1Ki", 1_024_000, 1024),
            ("1Mi", 1_048_576_000, 1_048_576),
            ("1.5Gi", 1_610_612_736_000, 1_610_612_736),
            ("1M", 1_000_000_000, 1_000_000),
            ("1G", 1_000_000_000_000, 1_000_000_000),
            ("1e3", 1_000_000, 1000),
            ("12e-3", 12, 1),
            ("1E", i64::MAX, 1_000_000_000_000_000_000),
            ("1Ti", 1_099_511_627_776_000, 1_099_511_627_776),
            ("1Pi", 1_125_899_906_842_624_000, 1_125_899_906_842_624),
            ("-1", -1000, -1),
            ("-250m", -250, -1),
        ] {
            let q = q(input);
            assert_eq!(q.value(), Some(whole), "{input}");
            if milli == i64::MAX {
                assert_eq!(q.milli_value(), None, "{input}");
            } else {
                assert_eq!(q.milli_value(), Some(milli), "{input}");
            }
        }
        assert_eq!(q("1Ei").value(), Some(1_152_921_504_606_846_976));
        assert_eq!(
            q("16Ei").value(),
            Some(i64::MAX),
            "binary quantities are capped"
        );
        assert_eq!(q("1e30").value(), None);
        assert_eq!(q("1e-30").value(), Some(1));
        assert_eq!(q("1e-30").milli_value(), Some(1));
    }

    #[test]
    fn whole_values() {
        assert!(q("2").is_whole());
        assert!(q("2000m").is_whole());
        assert!(!q("1500m").is_whole());
        assert!(!q("1.0001").is_whole());
    }
}
