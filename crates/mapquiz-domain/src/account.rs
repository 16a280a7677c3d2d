//! Account inputs, parsed at the edge: emails, passwords, display names, images and friend tags.

use thiserror::Error;

/// Longest display name, in characters (protocol §1.4.5).
pub const NAME_MAX_CHARS: usize = 50;
/// Shortest and longest password, in characters (protocol §1.4.5).
pub const PASSWORD_CHARS: std::ops::RangeInclusive<usize> = 8..=128;
/// Longest email address (RFC 5321 path limit).
pub const EMAIL_MAX_LEN: usize = 254;
/// Longest profile image URL we keep.
pub const IMAGE_MAX_LEN: usize = 2048;
/// The 32 symbols of friend tags: no `I`, `O`, `0` or `1` (protocol §4.1).
pub const TAG_ALPHABET: &[u8; 32] = b"ABCDEFGHJKLMNPQRSTUVWXYZ23456789";
/// Characters in a tag.
pub const TAG_LEN: usize = 8;

/// A normalised email address: trimmed, lower-cased, plausibly deliverable.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Email(String);

/// The email is not an address.
#[derive(Debug, Error, PartialEq, Eq)]
#[error("invalid email")]
pub struct InvalidEmail;

impl Email {
    /// Trims, lower-cases and checks the address shape (`local@domain.tld`).
    pub fn parse(raw: &str) -> Result<Self, InvalidEmail> {
        let email = raw.trim().to_lowercase();
        if email.len() > EMAIL_MAX_LEN {
            return Err(InvalidEmail);
        }
        let (local, domain) = email.split_once('@').ok_or(InvalidEmail)?;
        let local_ok = (1..=64).contains(&local.len())
            && !local.starts_with('.')
            && !local.ends_with('.')
            && !local.contains("..")
            && local.chars().all(|c| c.is_ascii_alphanumeric() || "!#$%&'*+/=?^_`{|}~.-".contains(c));
        let labels: Vec<&str> = domain.split('.').collect();
        let domain_ok = labels.len() >= 2
            && labels.iter().all(|l| {
                (1..=63).contains(&l.len())
                    && !l.starts_with('-')
                    && !l.ends_with('-')
                    && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
            })
            && labels.last().is_some_and(|tld| tld.len() >= 2 && tld.chars().all(|c| c.is_ascii_alphabetic()));
        if local_ok && domain_ok { Ok(Email(email)) } else { Err(InvalidEmail) }
    }

    /// The normalised address.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The part before `@`.
    pub fn local_part(&self) -> &str {
        self.0.split('@').next().unwrap_or_default()
    }
}

/// Why a password was refused.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum PasswordError {
    #[error("password too short")]
    TooShort,
    #[error("password too long")]
    TooLong,
}

/// A password whose length is within the rules (its content is the user's business).
#[derive(Clone, PartialEq, Eq)]
pub struct Password(String);

impl Password {
    /// Checks the length in characters; the password is kept exactly as typed.
    pub fn parse(raw: &str) -> Result<Self, PasswordError> {
        let chars = raw.chars().count();
        if chars < *PASSWORD_CHARS.start() {
            Err(PasswordError::TooShort)
        } else if chars > *PASSWORD_CHARS.end() {
            Err(PasswordError::TooLong)
        } else {
            Ok(Password(raw.to_owned()))
        }
    }

    /// The password, for hashing only.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Password {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Password([redacted])")
    }
}

/// A display name: trimmed, 1 to 50 characters, no control characters. HTML is kept verbatim: clients
/// escape it, the server never interprets it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DisplayName(String);

/// The name is empty, too long or has control characters.
#[derive(Debug, Error, PartialEq, Eq)]
#[error("invalid name")]
pub struct InvalidName;

impl DisplayName {
    /// Trims and checks.
    pub fn parse(raw: &str) -> Result<Self, InvalidName> {
        let name = raw.trim();
        let chars = name.chars().count();
        if chars == 0 || chars > NAME_MAX_CHARS || name.chars().any(char::is_control) {
            return Err(InvalidName);
        }
        Ok(DisplayName(name.to_owned()))
    }

    /// A name from an identity provider's claim: trimmed, control characters dropped, cut to 50
    /// characters; `None` when nothing is left.
    pub fn from_claim(raw: &str) -> Option<Self> {
        let cleaned: String = raw.chars().filter(|c| !c.is_control()).collect();
        let cut: String = cleaned.trim().chars().take(NAME_MAX_CHARS).collect();
        DisplayName::parse(&cut).ok()
    }

    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Takes the string out.
    pub fn into_string(self) -> String {
        self.0
    }
}

/// A profile image URL: http(s), at most 2048 characters, no control characters (never `javascript:`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ImageUrl(String);

/// The image value is unusable.
#[derive(Debug, Error, PartialEq, Eq)]
#[error("invalid image")]
pub struct InvalidImage;

impl ImageUrl {
    /// Checks scheme, length and characters; the value is otherwise opaque (clients render it as an image).
    pub fn parse(raw: &str) -> Result<Self, InvalidImage> {
        let image = raw.trim();
        let scheme_ok = ["https://", "http://"]
            .iter()
            .any(|p| image.get(..p.len()).is_some_and(|head| head.eq_ignore_ascii_case(p)) && image.len() > p.len());
        if !scheme_ok || image.len() > IMAGE_MAX_LEN || image.chars().any(|c| c.is_control() || c.is_whitespace()) {
            return Err(InvalidImage);
        }
        Ok(ImageUrl(image.to_owned()))
    }

    /// The value.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A friend tag: 8 characters of [`TAG_ALPHABET`].
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Tag(String);

/// The text cannot be a tag.
#[derive(Debug, Error, PartialEq, Eq)]
#[error("invalid tag")]
pub struct InvalidTag;

impl Tag {
    /// Trims and upper-cases the input (the client upper-cases only through CSS), then checks it.
    pub fn parse(raw: &str) -> Result<Self, InvalidTag> {
        let tag = raw.trim().to_ascii_uppercase();
        if tag.len() == TAG_LEN && tag.bytes().all(|b| TAG_ALPHABET.contains(&b)) {
            Ok(Tag(tag))
        } else {
            Err(InvalidTag)
        }
    }

    /// The tag drawn by `random` (eight uniformly random bytes from a CSPRNG): 256 is a multiple of 32, so
    /// taking each byte modulo 32 keeps every symbol equally likely.
    pub fn from_random(random: [u8; TAG_LEN]) -> Self {
        Tag(random.iter().map(|b| char::from(TAG_ALPHABET[usize::from(b % 32)])).collect())
    }

    /// The tag.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn emails_are_normalised_and_checked() {
        assert_eq!(Email::parse("  Alice.B+q@Example.COM ").unwrap().as_str(), "alice.b+q@example.com");
        for bad in [
            "",
            "alice",
            "@example.com",
            "alice@",
            "alice@example",
            "a@b.c",
            "a b@example.com",
            "a@@example.com",
            ".a@example.com",
            "a..b@example.com",
            "a@-x.com",
            "a@example.c0m",
        ] {
            assert_eq!(Email::parse(bad), Err(InvalidEmail), "{bad:?}");
        }
        assert_eq!(Email::parse(&format!("{}@example.com", "a".repeat(65))), Err(InvalidEmail));
        assert_eq!(Email::parse("bob@example.com").unwrap().local_part(), "bob");
    }

    #[test]
    fn password_length_counts_characters() {
        assert_eq!(Password::parse("1234567"), Err(PasswordError::TooShort));
        assert!(Password::parse("12345678").is_ok());
        assert!(Password::parse(&"é".repeat(128)).is_ok(), "128 characters, 256 bytes");
        assert_eq!(Password::parse(&"x".repeat(129)), Err(PasswordError::TooLong));
        assert!(!format!("{:?}", Password::parse("secret-password").unwrap()).contains("secret"));
    }

    #[test]
    fn names_are_trimmed_bounded_and_free_of_control_characters() {
        assert_eq!(DisplayName::parse("  Zoé  ").unwrap().as_str(), "Zoé");
        assert_eq!(DisplayName::parse("<b>x</b>").unwrap().as_str(), "<b>x</b>", "HTML kept verbatim");
        assert_eq!(DisplayName::parse("   "), Err(InvalidName));
        assert_eq!(DisplayName::parse("a\u{0007}b"), Err(InvalidName));
        assert_eq!(DisplayName::parse("line\nbreak"), Err(InvalidName));
        assert!(DisplayName::parse(&"é".repeat(50)).is_ok());
        assert_eq!(DisplayName::parse(&"é".repeat(51)), Err(InvalidName));
        assert_eq!(DisplayName::from_claim(&"x".repeat(80)).unwrap().as_str().len(), 50);
        assert_eq!(DisplayName::from_claim(" \u{0000} "), None);
    }

    #[test]
    fn images_are_web_urls() {
        assert!(ImageUrl::parse("https://lh3.example/a.png").is_ok());
        assert!(ImageUrl::parse("HTTP://x.example/a").is_ok());
        for bad in ["javascript:alert(1)", "data:image/png;base64,AA", "https://", "/relative.png", "https://a b"] {
            assert_eq!(ImageUrl::parse(bad), Err(InvalidImage), "{bad}");
        }
    }

    #[test]
    fn tags_parse_case_insensitively() {
        assert_eq!(Tag::parse(" abcd2345 ").unwrap().as_str(), "ABCD2345");
        assert_eq!(Tag::parse("ABCD234O"), Err(InvalidTag), "O is not in the alphabet");
        assert_eq!(Tag::parse("ABC"), Err(InvalidTag));
    }

    proptest! {
        #[test]
        fn random_tags_are_valid(bytes in any::<[u8; 8]>()) {
            let tag = Tag::from_random(bytes);
            prop_assert_eq!(Tag::parse(tag.as_str()), Ok(tag.clone()));
        }
    }

    #[test]
    fn every_symbol_is_reachable() {
        let all: std::collections::HashSet<char> =
            (0u8..=255).map(|b| Tag::from_random([b; 8]).as_str().chars().next().unwrap()).collect();
        assert_eq!(all.len(), 32);
    }
}
