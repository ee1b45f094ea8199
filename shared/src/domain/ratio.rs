//! Exact fractions of minor units: every MRR amount is one until the single final
//! rounding (`docs/scoring.md`, "Rounding rule").

use serde::{Deserialize, Serialize};
use std::fmt;
use std::ops::{Add, Mul, Sub};

/// An exact non-integral amount of minor units (or a plain fraction), always reduced,
/// denominator positive. Serialized as `"n"` or `"n/d"` so JSON keeps it exact.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Ratio {
    num: i128,
    den: i128,
}

/// A string that is not `n`, `n/d` or a decimal number.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid exact amount {0:?}")]
pub struct RatioError(pub String);

fn gcd(mut a: i128, mut b: i128) -> i128 {
    a = a.abs();
    b = b.abs();
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a
}

impl Ratio {
    /// Zero.
    pub const ZERO: Ratio = Ratio { num: 0, den: 1 };

    /// `num / den`, reduced. A zero denominator yields zero (never constructed by us).
    pub fn new(num: i128, den: i128) -> Self {
        if den == 0 {
            return Self::ZERO;
        }
        let sign = if den < 0 { -1 } else { 1 };
        let g = gcd(num, den).max(1);
        Self {
            num: sign * num / g,
            den: sign * den / g,
        }
    }

    /// A whole number.
    pub const fn int(n: i64) -> Self {
        Self {
            num: n as i128,
            den: 1,
        }
    }

    /// Parses `n`, `n/d` or a decimal such as `12.5` or `-0.125` exactly.
    pub fn parse(raw: &str) -> Result<Self, RatioError> {
        let err = || RatioError(raw.to_owned());
        let s = raw.trim();
        if let Some((n, d)) = s.split_once('/') {
            let n: i128 = n.parse().map_err(|_| err())?;
            let d: i128 = d.parse().map_err(|_| err())?;
            if d == 0 {
                return Err(err());
            }
            return Ok(Self::new(n, d));
        }
        let (neg, body) = match s.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, s),
        };
        let (int_part, frac_part) = body.split_once('.').unwrap_or((body, ""));
        if int_part.is_empty() && frac_part.is_empty()
            || !int_part.bytes().all(|b| b.is_ascii_digit())
            || !frac_part.bytes().all(|b| b.is_ascii_digit())
            || frac_part.len() > 18
        {
            return Err(err());
        }
        let digits = format!("{int_part}{frac_part}");
        let n: i128 = digits.parse().map_err(|_| err())?;
        let d = 10i128.pow(frac_part.len() as u32);
        Ok(Self::new(if neg { -n } else { n }, d))
    }

    /// From a float such as Stripe's `percent_off`, via its shortest decimal form (exact
    /// for every value Stripe accepts, which has at most a few decimals).
    pub fn from_f64(x: f64) -> Option<Self> {
        if !x.is_finite() {
            return None;
        }
        Self::parse(&format!("{x}")).ok()
    }

    /// Multiplies by `n / d`.
    pub fn scale(self, n: i128, d: i128) -> Ratio {
        self.mul(Ratio::new(n, d))
    }

    /// `1 / self` (zero for zero).
    pub fn recip(self) -> Ratio {
        Ratio::new(self.den, self.num)
    }

    /// Compares the values (the derived `Ord` orders the representation, not the value).
    pub fn cmp_value(self, other: Ratio) -> std::cmp::Ordering {
        self.num
            .saturating_mul(other.den)
            .cmp(&other.num.saturating_mul(self.den))
    }

    /// True when strictly below zero.
    pub fn is_negative(self) -> bool {
        self.num < 0
    }

    /// The larger of `self` and zero.
    pub fn at_least_zero(self) -> Ratio {
        if self.is_negative() {
            Ratio::ZERO
        } else {
            self
        }
    }

    /// Rounds to the nearest integer, ties to the even neighbour (banker's rounding),
    /// clamped into `i64`. This is the only rounding step in MRR.
    pub fn round_half_even(self) -> i64 {
        let q = self.num.div_euclid(self.den);
        let r = self.num.rem_euclid(self.den);
        let twice = r.saturating_mul(2);
        let rounded = match twice.cmp(&self.den) {
            std::cmp::Ordering::Less => q,
            std::cmp::Ordering::Greater => q + 1,
            std::cmp::Ordering::Equal => q + (q & 1),
        };
        rounded.clamp(i64::MIN as i128, i64::MAX as i128) as i64
    }
}

impl Add for Ratio {
    type Output = Ratio;
    /// Sum (saturating on absurd overflow rather than panicking).
    fn add(self, o: Ratio) -> Ratio {
        let g = gcd(self.den, o.den).max(1);
        let den = (self.den / g).saturating_mul(o.den);
        let num = self
            .num
            .saturating_mul(o.den / g)
            .saturating_add(o.num.saturating_mul(self.den / g));
        Ratio::new(num, den)
    }
}

impl Sub for Ratio {
    type Output = Ratio;
    fn sub(self, o: Ratio) -> Ratio {
        self.add(Ratio {
            num: -o.num,
            den: o.den,
        })
    }
}

impl Mul for Ratio {
    type Output = Ratio;
    fn mul(self, o: Ratio) -> Ratio {
        let g1 = gcd(self.num, o.den).max(1);
        let g2 = gcd(o.num, self.den).max(1);
        Ratio::new(
            (self.num / g1).saturating_mul(o.num / g2),
            (self.den / g2).saturating_mul(o.den / g1),
        )
    }
}

impl fmt::Display for Ratio {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.den == 1 {
            write!(f, "{}", self.num)
        } else {
            write!(f, "{}/{}", self.num, self.den)
        }
    }
}

impl TryFrom<String> for Ratio {
    type Error = RatioError;
    fn try_from(raw: String) -> Result<Self, RatioError> {
        Self::parse(&raw)
    }
}

impl From<Ratio> for String {
    fn from(r: Ratio) -> String {
        r.to_string()
    }
}
