//! Secrets for `secret('NAME')`: the namespace secrets of the data dir
//! (encrypted in its database, see `engine::store::Store::set_secret`),
//! then environment variables `SECRET_<NAME>` holding the value in base64,
//! as Kestra's open-source edition reads them. The variables are read once
//! at start; one that is not base64 is skipped with a warning that names
//! it, never its value.
//!
//! Also the `mortar secrets` commands, for scripts. They open the data dir's
//! database as the server does, so they work beside a running server (SQLite
//! WAL); the server sees their changes through the secrets' generation.

use std::collections::HashMap;
use std::io::Read as _;
use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;

use base64::Engine as _;
use engine::executor::SecretSource;
use engine::ids::{Namespace, SecretName};
use engine::secret::Secret;
use engine::store::{MAX_SECRET_VALUE, Store, StoreError};

use crate::config::{KeyArgs, SecretsCommand, config_error};

/// Opens the store of `data_dir` with the key `key` says. What the user
/// can fix (the data dir, the key) is one line and exit status 2.
pub async fn open_store(data_dir: &Path, key: &KeyArgs) -> Result<Store, ExitCode> {
    let choice = key.choice().map_err(config_error)?;
    let database = key.database().map_err(config_error)?;
    match Store::open_database(&database, data_dir, choice).await {
        Ok(store) => Ok(store),
        Err(error @ StoreError::DataDir { .. }) => {
            Err(config_error(format_args!("--data-dir: {error}")))
        }
        Err(error @ (StoreError::Key(_) | StoreError::Invalid(_) | StoreError::Url(_))) => {
            Err(config_error(error))
        }
        Err(error) => {
            match database {
                engine::store::Database::Sqlite(None) => eprintln!(
                    "mortar: cannot open the store in {}: {error}",
                    data_dir.display()
                ),
                other => eprintln!(
                    "mortar: cannot open the store {}: {error}",
                    other.describe()
                ),
            }
            Err(ExitCode::FAILURE)
        }
    }
}

/// `mortar secrets …`.
pub async fn secrets_main(command: SecretsCommand) -> anyhow::Result<ExitCode> {
    match command {
        SecretsCommand::Set {
            namespace,
            name,
            value_stdin,
            store,
        } => {
            if !value_stdin {
                return Ok(config_error(
                    "secrets set reads the value from standard input: add --value-stdin (a value on the command line would show in `ps`)",
                ));
            }
            let (namespace, name) = match checked(&namespace, &name) {
                Ok(checked) => checked,
                Err(code) => return Ok(code),
            };
            let value = match read_value(std::io::stdin().lock()) {
                Ok(value) => value,
                Err(message) => return Ok(config_error(message)),
            };
            let store = match open_store(&store.data_dir, &store.key).await {
                Ok(store) => store,
                Err(code) => return Ok(code),
            };
            store.set_secret(&namespace, &name, &value, &user()).await?;
            store.close().await;
            eprintln!("secret {name} set in {namespace}");
            Ok(ExitCode::SUCCESS)
        }
        SecretsCommand::List { namespace, store } => {
            if let Err(problem) = engine::ids::check_namespace(&namespace) {
                return Ok(config_error(problem));
            }
            let store = match open_store(&store.data_dir, &store.key).await {
                Ok(store) => store,
                Err(code) => return Ok(code),
            };
            for entry in store.list_secrets(&Namespace::new(namespace)).await? {
                let when = jiff::Timestamp::from_millisecond(entry.updated_at)
                    .map(|t| t.to_string())
                    .unwrap_or_default();
                println!("{}\t{}\t{when}", entry.name, entry.set_by);
            }
            store.close().await;
            Ok(ExitCode::SUCCESS)
        }
        SecretsCommand::Delete {
            namespace,
            name,
            store,
        } => {
            let (namespace, name) = match checked(&namespace, &name) {
                Ok(checked) => checked,
                Err(code) => return Ok(code),
            };
            let store = match open_store(&store.data_dir, &store.key).await {
                Ok(store) => store,
                Err(code) => return Ok(code),
            };
            let deleted = store.delete_secret(&namespace, &name).await?;
            store.close().await;
            if deleted {
                eprintln!("secret {name} deleted from {namespace}");
                Ok(ExitCode::SUCCESS)
            } else {
                eprintln!("mortar: {namespace} has no secret {name}");
                Ok(ExitCode::FAILURE)
            }
        }
        SecretsCommand::RotateKey { store: args } => {
            let store = match open_store(&args.data_dir, &args.key).await {
                Ok(store) => store,
                Err(code) => return Ok(code),
            };
            let new = engine::secret_key::SecretKey::generate();
            let printed = new.to_base64();
            let rotated = store.rotate_key(new).await?;
            let key_file = store.key_file().map(Path::to_owned);
            store.close().await;
            let what = format!(
                "{} secrets and the SECRET inputs of {} executions",
                rotated.secrets, rotated.execution_secrets
            );
            match key_file {
                Some(path) => {
                    eprintln!("re-encrypted {what}; the new key is in {}", path.display())
                }
                None => {
                    // The key came from MORTAR_SECRET_KEY: the new one is
                    // shown once, here, and nowhere else.
                    println!("{}", printed.expose());
                    eprintln!(
                        "re-encrypted {what}; set MORTAR_SECRET_KEY to the new key printed above: the old one no longer opens this data dir"
                    );
                }
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// A namespace and a secret name, checked; a bad one is one line, exit 2.
fn checked(namespace: &str, name: &str) -> Result<(Namespace, SecretName), ExitCode> {
    if let Err(problem) = engine::ids::check_namespace(namespace) {
        return Err(config_error(problem));
    }
    let name = SecretName::parse(name).map_err(config_error)?;
    Ok((Namespace::new(namespace), name))
}

/// The value on standard input, without one trailing newline.
fn read_value(input: impl std::io::Read) -> Result<Secret, String> {
    let mut bytes = Vec::new();
    input
        .take(MAX_SECRET_VALUE as u64 + 2)
        .read_to_end(&mut bytes)
        .map_err(|e| format!("cannot read the value from standard input: {e}"))?;
    let mut text = String::from_utf8(bytes)
        .map_err(|_| "the value on standard input is not UTF-8 text".to_owned())?;
    if text.ends_with('\n') {
        text.pop();
        if text.ends_with('\r') {
            text.pop();
        }
    }
    if text.is_empty() {
        return Err("the value on standard input is empty: pipe the value in, e.g. `printf %s \"$TOKEN\" | mortar secrets set …`".into());
    }
    if text.len() > MAX_SECRET_VALUE {
        return Err(format!(
            "the value on standard input is over {MAX_SECRET_VALUE} bytes"
        ));
    }
    Ok(Secret::new(text))
}

/// Who sets a secret from the command line: the system user.
fn user() -> String {
    let name = std::env::var("USER")
        .or_else(|_| std::env::var("USERNAME"))
        .unwrap_or_default();
    if name.is_empty() {
        "cli".to_owned()
    } else {
        format!("{name} (cli)")
    }
}

pub fn from_env(vars: impl Iterator<Item = (String, String)>) -> SecretSource {
    let mut secrets = HashMap::new();
    for (name, value) in vars {
        let Some(secret) = name.strip_prefix("SECRET_").filter(|s| !s.is_empty()) else {
            continue;
        };
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(value.trim())
            .or_else(|_| base64::engine::general_purpose::STANDARD_NO_PAD.decode(value.trim()));
        match decoded.ok().and_then(|bytes| String::from_utf8(bytes).ok()) {
            Some(text) => {
                secrets.insert(secret.to_owned(), text);
            }
            None => {
                tracing::warn!(variable = %name, "skipped: its value is not base64 of UTF-8 text")
            }
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

    #[test]
    fn the_value_drops_one_trailing_newline_and_must_not_be_empty() {
        assert_eq!(
            super::read_value(&b"hunter2\n"[..]).unwrap().expose(),
            "hunter2"
        );
        assert_eq!(super::read_value(&b"two\r\n"[..]).unwrap().expose(), "two");
        assert_eq!(
            super::read_value(&b"keep\n\n"[..]).unwrap().expose(),
            "keep\n"
        );
        assert!(super::read_value(&b"\n"[..]).unwrap_err().contains("empty"));
        assert!(
            super::read_value(&vec![b'x'; 70_000][..])
                .unwrap_err()
                .contains("over 65536")
        );
    }
}
