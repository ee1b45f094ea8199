//! Which URLs outbound events may be sent to (the SSRF guard's rules).
//!
//! In AWS: `https` only, and never an address inside a network — private,
//! loopback, link-local (the instance metadata service 169.254.169.254 and
//! `fd00:ec2::254` included), shared, reserved or multicast. Locally the
//! loopback is allowed too (and plain `http`), so a developer can point an
//! endpoint at a listener on the same machine. The rules apply to the literal
//! host of the URL and to every address its name resolves to, at registration
//! and again at connect time (see `adapters::outbound`).

use crate::ports::outbound::TargetError;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Longest endpoint URL accepted.
pub const MAX_URL_LEN: usize = 2_048;

/// What the guard allows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TargetPolicy {
    /// Whether loopback addresses (127.0.0.0/8, ::1) may be called.
    pub allow_loopback: bool,
    /// Whether only `https` URLs are accepted.
    pub require_https: bool,
}

impl TargetPolicy {
    /// AWS: public `https` endpoints only.
    pub const AWS: Self = Self {
        allow_loopback: false,
        require_https: true,
    };

    /// The local runner: public endpoints and the loopback, `http` or `https`.
    pub const LOCAL: Self = Self {
        allow_loopback: true,
        require_https: false,
    };

    /// Parses and checks `raw`: absolute `http(s)` URL (https only when
    /// required), a host, no credentials, at most [`MAX_URL_LEN`] bytes, and a
    /// literal IP host allowed by [`TargetPolicy::allows`].
    pub fn parse(&self, raw: &str) -> Result<url::Url, TargetError> {
        if raw.len() > MAX_URL_LEN {
            return Err(TargetError::Invalid(format!(
                "the url is longer than {MAX_URL_LEN} bytes"
            )));
        }
        let url = url::Url::parse(raw)
            .map_err(|_| TargetError::Invalid("the url is not an absolute URL".into()))?;
        match url.scheme() {
            "https" => {}
            "http" if !self.require_https => {}
            _ if self.require_https => {
                return Err(TargetError::Invalid("the url must use https".into()));
            }
            _ => {
                return Err(TargetError::Invalid(
                    "the url must use http or https".into(),
                ));
            }
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(TargetError::Invalid(
                "the url must not carry credentials".into(),
            ));
        }
        match url.host() {
            None => Err(TargetError::Invalid("the url has no host".into())),
            Some(url::Host::Ipv4(ip)) if !self.allows(IpAddr::V4(ip)) => {
                Err(TargetError::Forbidden)
            }
            Some(url::Host::Ipv6(ip)) if !self.allows(IpAddr::V6(ip)) => {
                Err(TargetError::Forbidden)
            }
            Some(_) => Ok(url),
        }
    }

    /// Whether an address may be connected to.
    pub fn allows(&self, ip: IpAddr) -> bool {
        if is_loopback(ip) {
            return self.allow_loopback;
        }
        is_public(ip)
    }
}

fn is_loopback(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => v4.is_loopback(),
        IpAddr::V6(v6) => {
            v6.is_loopback() || v6.to_ipv4_mapped().is_some_and(|v4| v4.is_loopback())
        }
    }
}

/// Globally routable unicast, as far as the guard is concerned.
fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => is_public_v6(v6),
    }
}

fn is_public_v4(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    let special = ip.is_unspecified()
        || ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local() // 169.254.0.0/16: the metadata service lives here
        || ip.is_broadcast()
        || ip.is_multicast()
        || ip.is_documentation()
        || a == 0 // "this network"
        || (a == 100 && (64..128).contains(&b)) // shared address space (CGNAT)
        || (a == 192 && b == 0 && c == 0) // IETF protocol assignments
        || (a == 198 && (b == 18 || b == 19)) // benchmarking
        || a >= 240; // reserved
    !special
}

fn is_public_v6(ip: Ipv6Addr) -> bool {
    if let Some(v4) = ip.to_ipv4_mapped() {
        return is_public_v4(v4);
    }
    let seg = ip.segments();
    // Addresses that embed an IPv4 address reach that address: judge it.
    let embedded = |hi: u16, lo: u16| Ipv4Addr::from((u32::from(hi) << 16) | u32::from(lo));
    if seg[0] == 0x64 && seg[1] == 0xff9b && seg[2..6] == [0; 4] {
        return is_public_v4(embedded(seg[6], seg[7])); // NAT64 64:ff9b::/96
    }
    if seg[0] == 0x2002 {
        return is_public_v4(embedded(seg[1], seg[2])); // 6to4
    }
    let special = ip.is_unspecified()
        || ip.is_loopback()
        || ip.is_multicast()
        || ip.is_unique_local() // fc00::/7: fd00:ec2::254 (metadata) lives here
        || ip.is_unicast_link_local() // fe80::/10
        || seg[0..6] == [0; 6] // IPv4-compatible and other ::/96 forms
        || (seg[0] == 0x2001 && seg[1] == 0x0db8) // documentation
        || (seg[0] == 0x0100 && seg[1..4] == [0; 3]) // discard-only
        || (seg[0] & 0xffc0) == 0xfec0; // deprecated site-local
    !special
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn aws_refuses_private_loopback_link_local_and_metadata_addresses() {
        for a in [
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "127.0.0.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "255.255.255.255",
            "224.0.0.1",
            "::1",
            "::",
            "fd00:ec2::254",
            "fe80::1",
            "::ffff:169.254.169.254",
            "::ffff:10.0.0.1",
            "64:ff9b::a9fe:a9fe",
            "2002:a9fe:a9fe::1",
        ] {
            assert!(!TargetPolicy::AWS.allows(ip(a)), "{a}");
        }
        for a in ["93.184.216.34", "2606:4700::1111", "::ffff:93.184.216.34"] {
            assert!(TargetPolicy::AWS.allows(ip(a)), "{a}");
        }
    }

    #[test]
    fn local_allows_the_loopback_but_still_not_private_or_metadata_addresses() {
        assert!(TargetPolicy::LOCAL.allows(ip("127.0.0.1")));
        assert!(TargetPolicy::LOCAL.allows(ip("::1")));
        assert!(!TargetPolicy::LOCAL.allows(ip("169.254.169.254")));
        assert!(!TargetPolicy::LOCAL.allows(ip("10.0.0.1")));
        assert!(!TargetPolicy::LOCAL.allows(ip("fd00:ec2::254")));
    }

    #[test]
    fn aws_takes_only_https_urls_without_credentials() {
        let p = TargetPolicy::AWS;
        assert!(p.parse("https://hooks.example.com/kustiq").is_ok());
        assert!(matches!(
            p.parse("http://hooks.example.com/"),
            Err(TargetError::Invalid(_))
        ));
        assert!(matches!(
            p.parse("https://user:pw@hooks.example.com/"),
            Err(TargetError::Invalid(_))
        ));
        assert!(matches!(p.parse("ftp://x/"), Err(TargetError::Invalid(_))));
        assert!(matches!(p.parse("/relative"), Err(TargetError::Invalid(_))));
        assert_eq!(
            p.parse("https://169.254.169.254/latest/meta-data/"),
            Err(TargetError::Forbidden)
        );
        assert_eq!(
            p.parse("https://[fd00:ec2::254]/"),
            Err(TargetError::Forbidden)
        );
        let long = format!("https://a.example/{}", "x".repeat(MAX_URL_LEN));
        assert!(matches!(p.parse(&long), Err(TargetError::Invalid(_))));
    }

    #[test]
    fn local_takes_plain_http_to_the_loopback() {
        assert!(TargetPolicy::LOCAL.parse("http://127.0.0.1:9/hook").is_ok());
        assert_eq!(
            TargetPolicy::LOCAL.parse("http://10.0.0.1/"),
            Err(TargetError::Forbidden)
        );
    }
}
