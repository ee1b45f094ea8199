//! Personal email providers: a domain here says nothing about the customer's company,
//! so domain matching skips it.
//!
//! A documented list rather than a crate: the Rust crates that ship one
//! (`email_provider_validator`) download their list from the network at build time,
//! which a reproducible, offline Lambda build cannot allow. The list covers the large
//! webmail providers of the regions Kustiq serves (US and EU), their country domains,
//! and the big ISP mailboxes. Matching is conservative either way: a personal domain
//! missing here is shared by many profiles, and a domain shared by two profiles goes
//! to review, never to a guess.

/// Domains of personal (consumer) mailboxes, lower-case, sorted.
pub const PERSONAL_EMAIL_DOMAINS: &[&str] = &[
    "126.com",
    "163.com",
    "aim.com",
    "alice.it",
    "aol.com",
    "aol.de",
    "arcor.de",
    "att.net",
    "bigpond.com",
    "bluewin.ch",
    "btinternet.com",
    "comcast.net",
    "cox.net",
    "email.com",
    "fastmail.com",
    "fastmail.fm",
    "free.fr",
    "freenet.de",
    "gmail.com",
    "gmx.at",
    "gmx.ch",
    "gmx.com",
    "gmx.de",
    "gmx.net",
    "googlemail.com",
    "hey.com",
    "hotmail.co.uk",
    "hotmail.com",
    "hotmail.de",
    "hotmail.es",
    "hotmail.fr",
    "hotmail.it",
    "hushmail.com",
    "icloud.com",
    "laposte.net",
    "libero.it",
    "live.co.uk",
    "live.com",
    "live.de",
    "live.fr",
    "mac.com",
    "mail.com",
    "mail.ru",
    "me.com",
    "msn.com",
    "naver.com",
    "orange.fr",
    "outlook.com",
    "outlook.de",
    "outlook.es",
    "outlook.fr",
    "pm.me",
    "posteo.de",
    "proton.me",
    "protonmail.ch",
    "protonmail.com",
    "qq.com",
    "rediffmail.com",
    "sbcglobal.net",
    "seznam.cz",
    "sfr.fr",
    "t-online.de",
    "tiscali.it",
    "tuta.io",
    "tutanota.com",
    "tutanota.de",
    "verizon.net",
    "virgilio.it",
    "wanadoo.fr",
    "web.de",
    "wp.pl",
    "yahoo.co.uk",
    "yahoo.com",
    "yahoo.de",
    "yahoo.es",
    "yahoo.fr",
    "yahoo.it",
    "yandex.com",
    "yandex.ru",
    "ymail.com",
    "zoho.com",
];

/// Whether `domain` (lower-case) is a personal mailbox provider's.
pub fn is_personal(domain: &str) -> bool {
    PERSONAL_EMAIL_DOMAINS.binary_search(&domain).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_list_is_sorted_unique_lower_case_and_long_enough() {
        assert!(PERSONAL_EMAIL_DOMAINS.len() >= 50);
        assert!(PERSONAL_EMAIL_DOMAINS.windows(2).all(|w| w[0] < w[1]));
        assert!(
            PERSONAL_EMAIL_DOMAINS
                .iter()
                .all(|d| *d == d.to_ascii_lowercase())
        );
    }

    #[test]
    fn the_providers_the_spec_names_are_personal() {
        for d in [
            "gmail.com",
            "yahoo.com",
            "outlook.com",
            "hotmail.com",
            "icloud.com",
            "proton.me",
            "gmx.de",
            "web.de",
            "yandex.ru",
            "qq.com",
        ] {
            assert!(is_personal(d), "{d}");
        }
        assert!(!is_personal("acme.io"));
    }
}
