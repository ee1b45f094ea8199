//! Shapes shared by every Stripe object: lists, expandable references, and
//! string enums that never fail on a value Stripe adds later.

use serde::de::{self, IgnoredAny};
use serde::{Deserialize, Deserializer, Serialize};
use std::fmt;

/// Declares a Stripe string enum: known values as variants, anything else kept
/// in `Other(String)` so a value Stripe adds tomorrow never fails a parse.
macro_rules! string_enum {
    (
        $(#[$meta:meta])*
        pub enum $name:ident {
            $( $(#[$vmeta:meta])* $variant:ident = $wire:literal, )*
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash)]
        pub enum $name {
            $( $(#[$vmeta])* $variant, )*
            /// A value this version does not know, kept verbatim.
            Other(String),
        }

        impl $name {
            /// The value as Stripe spells it.
            pub fn as_str(&self) -> &str {
                match self {
                    $( Self::$variant => $wire, )*
                    Self::Other(raw) => raw,
                }
            }

            /// Maps Stripe's spelling to a variant; unknown values become `Other`.
            pub fn from_wire(raw: &str) -> Self {
                match raw {
                    $( $wire => Self::$variant, )*
                    other => Self::Other(other.to_owned()),
                }
            }
        }

        impl ::std::fmt::Display for $name {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl ::serde::Serialize for $name {
            fn serialize<S: ::serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }

        impl<'de> ::serde::Deserialize<'de> for $name {
            fn deserialize<D: ::serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                d.deserialize_str($crate::stripe::models::common::WireStr(Self::from_wire))
            }
        }
    };
}
pub(crate) use string_enum;

/// A string visitor that maps borrowed or owned strings through `from_wire`
/// without allocating for known values.
#[doc(hidden)]
pub struct WireStr<T>(pub fn(&str) -> T);

impl<T> de::Visitor<'_> for WireStr<T> {
    type Value = T;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a string")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<T, E> {
        Ok((self.0)(v))
    }
}

/// A page of a Stripe list: `{"object": "list", "data": [...], "has_more", "url"}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(bound(deserialize = "T: Deserialize<'de>"))]
pub struct List<T> {
    /// The items of this page.
    #[serde(default = "Vec::new", deserialize_with = "null_as_default")]
    pub data: Vec<T>,
    /// Whether more items follow this page.
    #[serde(default)]
    pub has_more: bool,
    /// The list's path, e.g. `/v1/customers`.
    #[serde(default, deserialize_with = "null_as_default")]
    pub url: String,
}

impl<T> Default for List<T> {
    fn default() -> Self {
        Self {
            data: Vec::new(),
            has_more: false,
            url: String::new(),
        }
    }
}

/// A Stripe object that has an id, so that an [`Expandable`] reference to it
/// can always answer with the id.
pub trait StripeObject {
    /// The object's id type.
    type Id;
    /// The object's id.
    fn id(&self) -> &Self::Id;
}

/// A reference Stripe sends either as an id string or, when expanded, as the
/// whole object (e.g. `subscription.customer`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
#[serde(bound(
    serialize = "T: Serialize, T::Id: Serialize",
    deserialize = "T: Deserialize<'de>, T::Id: Deserialize<'de>"
))]
pub enum Expandable<T: StripeObject> {
    /// Only the id.
    Id(T::Id),
    /// The expanded object.
    Object(Box<T>),
}

impl<T: StripeObject> Expandable<T> {
    /// The referenced object's id, whichever form was sent.
    pub fn id(&self) -> &T::Id {
        match self {
            Self::Id(id) => id,
            Self::Object(obj) => obj.id(),
        }
    }

    /// The expanded object, if Stripe sent it.
    pub fn object(&self) -> Option<&T> {
        match self {
            Self::Id(_) => None,
            Self::Object(obj) => Some(obj),
        }
    }
}

/// Treats an explicit JSON `null` like an absent field.
pub(crate) fn null_as_default<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de> + Default,
{
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

/// Reads whether a reference field is set, without keeping its value. Used for
/// `default_payment_method`: we need to know that one exists, never which.
pub(crate) fn presence<'de, D: Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
    d.deserialize_any(Presence)
}

struct Presence;

impl<'de> de::Visitor<'de> for Presence {
    type Value = bool;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("null, a boolean, an id or an object")
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<bool, E> {
        Ok(v)
    }
    fn visit_unit<E: de::Error>(self) -> Result<bool, E> {
        Ok(false)
    }
    fn visit_none<E: de::Error>(self) -> Result<bool, E> {
        Ok(false)
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<bool, D::Error> {
        d.deserialize_any(Presence)
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<bool, E> {
        Ok(!v.is_empty())
    }
    fn visit_i64<E: de::Error>(self, _: i64) -> Result<bool, E> {
        Ok(true)
    }
    fn visit_u64<E: de::Error>(self, _: u64) -> Result<bool, E> {
        Ok(true)
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<bool, E> {
        Ok(true)
    }
    fn visit_seq<A: de::SeqAccess<'de>>(self, mut seq: A) -> Result<bool, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(true)
    }
    fn visit_map<A: de::MapAccess<'de>>(self, mut map: A) -> Result<bool, A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(true)
    }
}

/// An integer Stripe may send as a number, a numeric string (form-encoded
/// values echoed back), `"inf"` (unbounded tier) or `null`.
pub(crate) fn lenient_int<'de, D, T>(d: D) -> Result<Option<T>, D::Error>
where
    D: Deserializer<'de>,
    T: TryFrom<i64>,
{
    match d.deserialize_any(LenientInt)? {
        None => Ok(None),
        Some(v) => T::try_from(v)
            .map(Some)
            .map_err(|_| de::Error::custom("integer out of range")),
    }
}

struct LenientInt;

impl<'de> de::Visitor<'de> for LenientInt {
    type Value = Option<i64>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an integer, a numeric string, \"inf\" or null")
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
        Ok(Some(v))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
        i64::try_from(v)
            .map(Some)
            .map_err(|_| E::custom("integer out of range"))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        if v == "inf" || v.is_empty() {
            return Ok(None);
        }
        v.parse().map(Some).map_err(|_| E::custom("not an integer"))
    }
    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_any(LenientInt)
    }
}
