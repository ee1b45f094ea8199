//! Word lists for realistic customer names, companies and email addresses.

/// First names.
pub const FIRST: [&str; 40] = [
    "Emma", "Liam", "Olivia", "Noah", "Ava", "Lucas", "Mia", "Leon", "Sofia", "Elias", "Hannah",
    "Mateo", "Chloe", "Finn", "Lea", "Jonas", "Zoe", "Felix", "Clara", "Hugo", "Alice", "Oscar",
    "Maya", "Theo", "Nora", "Arthur", "Ella", "Louis", "Ines", "Jakob", "Amelia", "Paul", "Lina",
    "Adam", "Isla", "Max", "Grace", "Ben", "Julia", "Samir",
];

/// Last names.
pub const LAST: [&str; 40] = [
    "Smith", "Müller", "Garcia", "Martin", "Rossi", "Nowak", "Jones", "Schmidt", "Dubois", "Silva",
    "Brown", "Fischer", "Lopez", "Bernard", "Russo", "Kowalski", "Taylor", "Weber", "Moreau",
    "Santos", "Wilson", "Wagner", "Perez", "Laurent", "Ferrari", "Novak", "Evans", "Becker",
    "Roux", "Costa", "Walker", "Hoffmann", "Sanchez", "Lefebvre", "Romano", "Horvat", "Clarke",
    "Koch", "Fontaine", "Okafor",
];

/// Company name stems.
pub const COMPANY: [&str; 30] = [
    "acme",
    "globex",
    "initech",
    "umbrella",
    "hooli",
    "vandelay",
    "stark",
    "wayne",
    "wonka",
    "tyrell",
    "cyberdyne",
    "soylent",
    "gringotts",
    "oscorp",
    "massive",
    "nakatomi",
    "aperture",
    "blackmesa",
    "monarch",
    "pied",
    "dunder",
    "prestige",
    "sterling",
    "bluth",
    "krusty",
    "duff",
    "vehement",
    "hyperion",
    "zorg",
    "octan",
];

/// Company name suffixes.
pub const SUFFIX: [&str; 8] = [
    "labs",
    "analytics",
    "systems",
    "cloud",
    "works",
    "ai",
    "data",
    "studio",
];

/// Top-level domains.
pub const TLD: [&str; 6] = ["com", "io", "co", "de", "co.uk", "fr"];

/// Personal email providers (never a company domain).
pub const PERSONAL: [&str; 8] = [
    "gmail.com",
    "yahoo.com",
    "hotmail.com",
    "outlook.com",
    "icloud.com",
    "proton.me",
    "gmx.de",
    "web.de",
];

/// The company's display name and domain for company index `c`.
pub fn company(c: u32) -> (String, String) {
    let c = c as usize;
    let stem = COMPANY[c % COMPANY.len()];
    let suffix = SUFFIX[(c / COMPANY.len()) % SUFFIX.len()];
    let tld = TLD[(c / (COMPANY.len() * SUFFIX.len())) % TLD.len()];
    let round = c / (COMPANY.len() * SUFFIX.len() * TLD.len());
    let base = if round == 0 {
        format!("{stem}{suffix}")
    } else {
        format!("{stem}{suffix}{round}")
    };
    let mut display = String::new();
    let mut chars = stem.chars();
    if let Some(f) = chars.next() {
        display.extend(f.to_uppercase());
        display.push_str(chars.as_str());
    }
    display.push(' ');
    let mut chars = suffix.chars();
    if let Some(f) = chars.next() {
        display.extend(f.to_uppercase());
        display.push_str(chars.as_str());
    }
    (display, format!("{base}.{tld}"))
}

/// Lowercase ASCII form of a name for an email local part.
pub fn ascii_lower(name: &str) -> String {
    name.chars()
        .map(|c| match c {
            'ü' | 'Ü' => 'u',
            'ö' => 'o',
            'ä' => 'a',
            c => c.to_ascii_lowercase(),
        })
        .collect()
}
