use serde::{Deserialize, Serialize};
use std::fmt;

/// A normalised e-mail address: trimmed and lower-cased, with one `@` between a non-empty local
/// part and a domain that contains a dot. Members are matched across channels on this value.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Email(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not a usable e-mail address: expected name@domain.tld")]
pub struct InvalidEmail(pub String);

impl Email {
    pub fn parse(raw: &str) -> Result<Self, InvalidEmail> {
        let normalised = raw.trim().to_lowercase();
        let valid = match normalised.split_once('@') {
            Some((local, domain)) => {
                !local.is_empty()
                    && !domain.contains('@')
                    && domain.contains('.')
                    && !domain.starts_with('.')
                    && !domain.ends_with('.')
                    && !normalised.chars().any(char::is_whitespace)
            }
            None => false,
        };
        if valid {
            Ok(Email(normalised))
        } else {
            Err(InvalidEmail(raw.to_owned()))
        }
    }

    /// Parses an optional provider field, treating blanks and unusable values as absent.
    pub fn parse_lenient(raw: Option<&str>) -> Option<Self> {
        raw.and_then(|r| Email::parse(r).ok())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<String> for Email {
    type Error = InvalidEmail;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Email::parse(&value)
    }
}

impl From<Email> for String {
    fn from(value: Email) -> Self {
        value.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalises_case_and_whitespace() {
        assert_eq!(
            Email::parse("  Anna@Example.COM ").unwrap().as_str(),
            "anna@example.com"
        );
    }

    #[test]
    fn rejects_unusable_addresses() {
        for raw in [
            "",
            "anna",
            "@example.com",
            "anna@",
            "anna@example",
            "a@b@c.com",
            "a b@c.com",
        ] {
            assert!(Email::parse(raw).is_err(), "{raw:?} should be rejected");
        }
        assert_eq!(Email::parse_lenient(Some("  ")), None);
    }
}
