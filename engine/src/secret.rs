//! A value that must never be shown: `Debug` and `Display` print `******`.

use std::fmt;

#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The value itself, for the one place that must send it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

/// For clap: a flag or environment variable read straight into a `Secret`,
/// so that `Debug` of the configuration never shows it.
impl std::str::FromStr for Secret {
    type Err = std::convert::Infallible;

    fn from_str(value: &str) -> Result<Self, Self::Err> {
        Ok(Self::new(value))
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("******")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("******")
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn never_printed() {
        let secret = super::Secret::new("dapi-123");
        assert_eq!(format!("{secret} {secret:?}"), "****** ******");
        assert_eq!(secret.expose(), "dapi-123");
    }
}
