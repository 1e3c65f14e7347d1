//! Secrets for `secret('NAME')`: environment variables `SECRET_<NAME>`
//! holding the value in base64, as Kestra's open-source edition reads them.
//! Read once at start; a variable that is not base64 is skipped with a
//! warning that names it, never its value.

use std::collections::HashMap;
use std::sync::Arc;

use base64::Engine as _;
use engine::executor::SecretSource;

pub fn from_env(vars: impl Iterator<Item = (String, String)>) -> SecretSource {
    let mut secrets = HashMap::new();
    for (name, value) in vars {
        let Some(secret) = name.strip_prefix("SECRET_").filter(|s| !s.is_empty()) else { continue };
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(value.trim())
            .or_else(|_| base64::engine::general_purpose::STANDARD_NO_PAD.decode(value.trim()));
        match decoded.ok().and_then(|bytes| String::from_utf8(bytes).ok()) {
            Some(text) => {
                secrets.insert(secret.to_owned(), text);
            }
            None => tracing::warn!(variable = %name, "skipped: its value is not base64 of UTF-8 text"),
        }
    }
    Arc::new(move |name: &str| secrets.get(name).cloned())
}

#[cfg(test)]
mod tests {
    #[test]
    fn reads_base64_secret_variables_only() {
        let source = super::from_env(
            [
                ("SECRET_TOKEN".to_owned(), "ZGFwaS0xMjM=".to_owned()),
                ("SECRET_BROKEN".to_owned(), "not base64!".to_owned()),
                ("PATH".to_owned(), "/usr/bin".to_owned()),
            ]
            .into_iter(),
        );
        assert_eq!(source("TOKEN").as_deref(), Some("dapi-123"));
        assert_eq!(source("BROKEN"), None);
        assert_eq!(source("PATH"), None);
    }
}
