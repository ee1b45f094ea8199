//! Stripe-looking object ids that encode their index, so the simulator stores no id strings.
//!
//! An id is `<prefix>_<11 base62 chars><3 check chars>`: the 11 characters are a keyed
//! bijection of `(account, index)`, so ids look random, differ per seed, decode back without a
//! lookup table, and an id from another account (or a typo) fails the check and is a 404.

const ALPHABET: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
const BODY: usize = 11;
const CHECK: usize = 3;
const MUL: u64 = 0x9E37_79B9_7F4A_7C15;

/// The kinds of object the simulator names, each with Stripe's id prefix.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    /// `acct_`
    Account,
    /// `cus_`
    Customer,
    /// `sub_`
    Subscription,
    /// `si_`
    SubscriptionItem,
    /// `price_`
    Price,
    /// `prod_`
    Product,
    /// `in_`
    Invoice,
    /// `il_`
    InvoiceLine,
    /// `ch_`
    Charge,
    /// `dp_`
    Dispute,
    /// `evt_`
    Event,
    /// `di_`
    Discount,
    /// `inpay_`
    InvoicePayment,
}

impl Kind {
    /// Stripe's prefix for this kind, without the underscore.
    pub const fn prefix(self) -> &'static str {
        match self {
            Kind::Account => "acct",
            Kind::Customer => "cus",
            Kind::Subscription => "sub",
            Kind::SubscriptionItem => "si",
            Kind::Price => "price",
            Kind::Product => "prod",
            Kind::Invoice => "in",
            Kind::InvoiceLine => "il",
            Kind::Charge => "ch",
            Kind::Dispute => "dp",
            Kind::Event => "evt",
            Kind::Discount => "di",
            Kind::InvoicePayment => "inpay",
        }
    }

    const fn salt(self) -> u64 {
        match self {
            Kind::Account => 1,
            Kind::Customer => 2,
            Kind::Subscription => 3,
            Kind::SubscriptionItem => 4,
            Kind::Price => 5,
            Kind::Product => 6,
            Kind::Invoice => 7,
            Kind::InvoiceLine => 8,
            Kind::Charge => 9,
            Kind::Dispute => 10,
            Kind::Event => 11,
            Kind::Discount => 12,
            Kind::InvoicePayment => 13,
        }
    }
}

/// Encodes and decodes ids for one simulator seed.
#[derive(Debug, Clone, Copy)]
pub struct IdCodec {
    key: u64,
}

fn mix(mut x: u64) -> u64 {
    x ^= x >> 33;
    x = x.wrapping_mul(0xff51_afd7_ed55_8ccd);
    x ^= x >> 33;
    x = x.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    x ^ (x >> 33)
}

fn inverse(m: u64) -> u64 {
    // Newton's iteration doubles the correct low bits each step; 6 steps cover 64 bits.
    let mut inv = m;
    for _ in 0..6 {
        inv = inv.wrapping_mul(2u64.wrapping_sub(m.wrapping_mul(inv)));
    }
    inv
}

impl IdCodec {
    /// A codec keyed by the simulator seed.
    pub fn new(seed: u64) -> Self {
        Self {
            key: mix(seed ^ 0x5EED_5EED),
        }
    }

    fn kind_key(&self, kind: Kind) -> u64 {
        mix(self.key ^ kind.salt())
    }

    /// The id of object `index` of `kind` in account `account`.
    pub fn encode(&self, kind: Kind, account: u32, index: u32) -> String {
        let k = self.kind_key(kind);
        let raw = (u64::from(account) << 32) | u64::from(index);
        let scrambled = (raw ^ k).wrapping_mul(MUL).rotate_left(29) ^ k.rotate_left(7);
        let mut out = String::with_capacity(kind.prefix().len() + 1 + BODY + CHECK);
        out.push_str(kind.prefix());
        out.push('_');
        let mut digits = [0u8; BODY];
        let mut v = scrambled;
        for d in digits.iter_mut().rev() {
            *d = ALPHABET[(v % 62) as usize];
            v /= 62;
        }
        let check = mix(scrambled ^ k);
        for &d in &digits {
            out.push(char::from(d));
        }
        let mut c = check;
        for _ in 0..CHECK {
            out.push(char::from(ALPHABET[(c % 62) as usize]));
            c /= 62;
        }
        out
    }

    /// `(account, index)` of an id of `kind`, or `None` if it is not one of ours.
    pub fn decode(&self, kind: Kind, id: &str) -> Option<(u32, u32)> {
        let rest = id.strip_prefix(kind.prefix())?.strip_prefix('_')?;
        let bytes = rest.as_bytes();
        if bytes.len() != BODY + CHECK {
            return None;
        }
        let mut v: u64 = 0;
        for &b in &bytes[..BODY] {
            let d = ALPHABET.iter().position(|&a| a == b)? as u64;
            v = v.checked_mul(62)?.checked_add(d)?;
        }
        let k = self.kind_key(kind);
        let mut c = mix(v ^ k);
        for &b in &bytes[BODY..] {
            if ALPHABET[(c % 62) as usize] != b {
                return None;
            }
            c /= 62;
        }
        let raw = ((v ^ k.rotate_left(7)).rotate_right(29)).wrapping_mul(inverse(MUL)) ^ k;
        Some(((raw >> 32) as u32, raw as u32))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_round_trip_and_reject_foreign_ids() {
        let codec = IdCodec::new(42);
        for (acct, idx) in [(0, 0), (1, 7), (3, 9_999), (u32::MAX, u32::MAX)] {
            let id = codec.encode(Kind::Customer, acct, idx);
            assert!(id.starts_with("cus_") && id.len() == 4 + 14, "{id}");
            assert_eq!(codec.decode(Kind::Customer, &id), Some((acct, idx)));
            assert_eq!(codec.decode(Kind::Subscription, &id), None);
            assert_eq!(IdCodec::new(43).decode(Kind::Customer, &id), None);
        }
        let id = codec.encode(Kind::Charge, 1, 5);
        let mut tampered = id.clone().into_bytes();
        let last = tampered.len() - 5;
        tampered[last] = if tampered[last] == b'a' { b'b' } else { b'a' };
        let tampered = String::from_utf8(tampered).unwrap_or_default();
        assert_eq!(codec.decode(Kind::Charge, &tampered), None);
        assert_ne!(
            codec.encode(Kind::Customer, 0, 1),
            codec.encode(Kind::Customer, 0, 2)
        );
    }
}
