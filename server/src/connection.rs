//! The server's default Databricks connection, from the environment the
//! official SDK reads (its "unified auth"): `DATABRICKS_HOST` with
//! `DATABRICKS_TOKEN`, or with `DATABRICKS_CLIENT_ID` and
//! `DATABRICKS_CLIENT_SECRET`; or a profile of `~/.databrickscfg` (or
//! `DATABRICKS_CONFIG_FILE`) named by `DATABRICKS_CONFIG_PROFILE`, the
//! environment overriding the profile's fields. With none of these set there
//! is no configured connection, and Mortar uses its embedded emulator.
//!
//! Only this module reads these variables; the engine is handed the result.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use engine::databricks::{Auth, Connection};
use engine::secret::Secret;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ConnectionError {
    #[error("DATABRICKS_CONFIG_PROFILE names profile [{profile}], which {file} does not have")]
    MissingProfile { profile: String, file: String },
    #[error("cannot read the Databricks config file {file}: {reason}")]
    Unreadable { file: String, reason: String },
    #[error("{0}")]
    Incomplete(String),
}

/// The fields one source gives; the environment's win over the profile's.
#[derive(Debug, Default, Clone)]
struct Fields {
    host: Option<String>,
    token: Option<String>,
    client_id: Option<String>,
    client_secret: Option<String>,
    auth_type: Option<String>,
}

/// Resolves the default connection. `env` reads a variable; `home` is the
/// user's home directory (for `~/.databrickscfg`).
pub fn resolve(
    env: impl Fn(&str) -> Option<String>,
    home: Option<&Path>,
) -> Result<Option<Connection>, ConnectionError> {
    let var = |name: &str| {
        env(name)
            .map(|v| v.trim().to_owned())
            .filter(|v| !v.is_empty())
    };
    let from_env = Fields {
        host: var("DATABRICKS_HOST"),
        token: var("DATABRICKS_TOKEN"),
        client_id: var("DATABRICKS_CLIENT_ID"),
        client_secret: var("DATABRICKS_CLIENT_SECRET"),
        auth_type: var("DATABRICKS_AUTH_TYPE"),
    };
    let mut fields = Fields::default();
    let mut source = "the environment".to_owned();
    if let Some(profile) = var("DATABRICKS_CONFIG_PROFILE") {
        let file = var("DATABRICKS_CONFIG_FILE")
            .map(PathBuf::from)
            .or_else(|| home.map(|h| h.join(".databrickscfg")))
            .ok_or_else(|| ConnectionError::Incomplete("DATABRICKS_CONFIG_PROFILE is set but there is no home directory to find ~/.databrickscfg in; set DATABRICKS_CONFIG_FILE".into()))?;
        fields = read_profile(&file, &profile)?;
        source = format!("profile [{profile}] of {}", file.display());
    }
    // The environment overrides the profile field by field, as in the SDK.
    fields.host = from_env.host.or(fields.host);
    fields.token = from_env.token.or(fields.token);
    fields.client_id = from_env.client_id.or(fields.client_id);
    fields.client_secret = from_env.client_secret.or(fields.client_secret);
    fields.auth_type = from_env.auth_type.or(fields.auth_type);

    let Some(host) = fields.host else {
        if fields.token.is_some() || fields.client_id.is_some() {
            return Err(ConnectionError::Incomplete(format!(
                "{source} has Databricks credentials but no host: set DATABRICKS_HOST (or `host` in the profile)"
            )));
        }
        return Ok(None);
    };
    // The same type a task's `host` is read with: scheme://host[:port].
    let host = engine::base_url::BaseUrl::parse(&host)
        .map_err(|e| {
            ConnectionError::Incomplete(format!(
                "{source}: DATABRICKS_HOST (or `host` in the profile): {e}"
            ))
        })?
        .to_string();
    let auth = match (
        fields.auth_type.as_deref(),
        fields.token,
        fields.client_id,
        fields.client_secret,
    ) {
        (Some("pat"), Some(token), _, _) | (None, Some(token), None, _) => {
            Auth::Token(Secret::new(token))
        }
        (Some("oauth-m2m"), _, Some(client_id), Some(secret))
        | (None, None, Some(client_id), Some(secret)) => Auth::OAuthM2M {
            client_id,
            client_secret: Secret::new(secret),
        },
        (None, Some(_), Some(_), _) => {
            return Err(ConnectionError::Incomplete(format!(
                "{source} has both a token and a client id: keep one, or choose with DATABRICKS_AUTH_TYPE=pat or oauth-m2m"
            )));
        }
        (_, _, Some(_), None) => {
            return Err(ConnectionError::Incomplete(format!(
                "{source} has DATABRICKS_CLIENT_ID but no DATABRICKS_CLIENT_SECRET: set it, or use DATABRICKS_TOKEN"
            )));
        }
        (Some(other), _, _, _) if other != "pat" && other != "oauth-m2m" => {
            return Err(ConnectionError::Incomplete(format!(
                "DATABRICKS_AUTH_TYPE={other} is not supported: use pat or oauth-m2m"
            )));
        }
        _ => {
            return Err(ConnectionError::Incomplete(format!(
                "{source} sets the host {host} but no credentials: set DATABRICKS_TOKEN, or DATABRICKS_CLIENT_ID and DATABRICKS_CLIENT_SECRET"
            )));
        }
    };
    Ok(Some(Connection { host, auth }))
}

/// Reads one `[profile]` of an INI-style `.databrickscfg`.
fn read_profile(file: &Path, profile: &str) -> Result<Fields, ConnectionError> {
    let text = std::fs::read_to_string(file).map_err(|e| ConnectionError::Unreadable {
        file: file.display().to_string(),
        reason: e.to_string(),
    })?;
    let mut sections: HashMap<String, HashMap<String, String>> = HashMap::new();
    let mut current: Option<String> = None;
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
            continue;
        }
        if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            current = Some(name.trim().to_owned());
            sections.entry(name.trim().to_owned()).or_default();
        } else if let (Some(section), Some((key, value))) = (&current, line.split_once('=')) {
            sections
                .entry(section.clone())
                .or_default()
                .insert(key.trim().to_owned(), value.trim().to_owned());
        }
    }
    let section = sections
        .remove(profile)
        .ok_or_else(|| ConnectionError::MissingProfile {
            profile: profile.to_owned(),
            file: file.display().to_string(),
        })?;
    let get = |key: &str| section.get(key).filter(|v| !v.is_empty()).cloned();
    Ok(Fields {
        host: get("host"),
        token: get("token"),
        client_id: get("client_id"),
        client_secret: get("client_secret"),
        auth_type: get("auth_type"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        move |name| map.get(name).cloned()
    }

    fn describe(result: Result<Option<Connection>, ConnectionError>) -> String {
        match result {
            Ok(None) => "emulator".to_owned(),
            Ok(Some(Connection {
                host,
                auth: Auth::Token(t),
            })) => format!("{host} pat {}", t.expose()),
            Ok(Some(Connection {
                host,
                auth:
                    Auth::OAuthM2M {
                        client_id,
                        client_secret,
                    },
            })) => {
                format!("{host} m2m {client_id} {}", client_secret.expose())
            }
            Err(e) => format!("error: {e}"),
        }
    }

    #[test]
    fn nothing_set_means_the_emulator() {
        assert_eq!(describe(resolve(env(&[]), None)), "emulator");
        assert_eq!(
            describe(resolve(env(&[("DATABRICKS_HOST", " ")]), None)),
            "emulator"
        );
    }

    #[test]
    fn the_environment_gives_pat_or_m2m() {
        assert_eq!(
            describe(resolve(
                env(&[("DATABRICKS_HOST", "h"), ("DATABRICKS_TOKEN", "t")]),
                None
            )),
            "https://h pat t"
        );
        assert_eq!(
            describe(resolve(
                env(&[
                    ("DATABRICKS_HOST", "h"),
                    ("DATABRICKS_CLIENT_ID", "c"),
                    ("DATABRICKS_CLIENT_SECRET", "s")
                ]),
                None
            )),
            "https://h m2m c s"
        );
        assert_eq!(
            describe(resolve(
                env(&[
                    ("DATABRICKS_HOST", "h"),
                    ("DATABRICKS_TOKEN", "t"),
                    ("DATABRICKS_CLIENT_ID", "c"),
                    ("DATABRICKS_CLIENT_SECRET", "s"),
                    ("DATABRICKS_AUTH_TYPE", "oauth-m2m")
                ]),
                None
            )),
            "https://h m2m c s"
        );
    }

    #[test]
    fn incomplete_or_ambiguous_settings_say_what_to_set() {
        let only_host = describe(resolve(env(&[("DATABRICKS_HOST", "h")]), None));
        assert!(only_host.contains("set DATABRICKS_TOKEN"), "{only_host}");
        let both = describe(resolve(
            env(&[
                ("DATABRICKS_HOST", "h"),
                ("DATABRICKS_TOKEN", "t"),
                ("DATABRICKS_CLIENT_ID", "c"),
            ]),
            None,
        ));
        assert!(both.contains("DATABRICKS_AUTH_TYPE"), "{both}");
        let no_secret = describe(resolve(
            env(&[("DATABRICKS_HOST", "h"), ("DATABRICKS_CLIENT_ID", "c")]),
            None,
        ));
        assert!(
            no_secret.contains("DATABRICKS_CLIENT_SECRET"),
            "{no_secret}"
        );
        let with_path = describe(resolve(
            env(&[
                ("DATABRICKS_HOST", "http://h/internal#"),
                ("DATABRICKS_TOKEN", "t"),
            ]),
            None,
        ));
        assert!(
            with_path.contains("DATABRICKS_HOST")
                && with_path.contains("without the path \"/internal\""),
            "{with_path}"
        );
        let no_host = describe(resolve(env(&[("DATABRICKS_TOKEN", "t")]), None));
        assert!(no_host.contains("no host"), "{no_host}");
        // No error message repeats a credential.
        for text in [only_host, both, no_secret, no_host] {
            assert!(!text.contains(" t ") && !text.ends_with(" t"), "{text}");
        }
    }

    #[test]
    fn a_named_profile_is_read_and_the_environment_overrides_it() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join(".databrickscfg"),
            "; comment\n[DEFAULT]\nhost = https://default\ntoken = d\n\n[staging]\nhost = https://staging.cloud.databricks.com\nclient_id = sp\nclient_secret = shh\n",
        )
        .unwrap();
        let home = Some(dir.path());
        assert_eq!(
            describe(resolve(
                env(&[("DATABRICKS_CONFIG_PROFILE", "staging")]),
                home
            )),
            "https://staging.cloud.databricks.com m2m sp shh"
        );
        assert_eq!(
            describe(resolve(
                env(&[
                    ("DATABRICKS_CONFIG_PROFILE", "DEFAULT"),
                    ("DATABRICKS_HOST", "https://override")
                ]),
                home
            )),
            "https://override pat d"
        );
        let missing = describe(resolve(env(&[("DATABRICKS_CONFIG_PROFILE", "prod")]), home));
        assert!(missing.contains("[prod]"), "{missing}");
        // Without a profile named, ~/.databrickscfg is not read: the emulator it is.
        assert_eq!(describe(resolve(env(&[]), home)), "emulator");
    }
}
