//! `mortar users add|list|passwd|disable|enable|token`: users from the
//! shell, for scripts and tests. It works on the data dir's database
//! whether or not a server runs on it (SQLite in WAL mode lets both write).

use std::io::BufRead as _;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Subcommand};
use engine::auth::{Grant, token};
use engine::store::Store;

use crate::config::config_error;

#[derive(Debug, Clone, Args)]
pub struct UsersArgs {
    #[command(subcommand)]
    pub command: UsersCommand,
    /// Where the database lives (as for `mortar serve`).
    #[arg(
        long,
        env = "MORTAR_DATA_DIR",
        default_value = "./mortar-data",
        value_name = "DIR",
        global = true
    )]
    pub data_dir: PathBuf,
    #[command(flatten)]
    pub key: crate::config::KeyArgs,
}

#[derive(Debug, Clone, Subcommand)]
pub enum UsersCommand {
    /// Create a user; the password is read from the first line of stdin.
    Add {
        name: String,
        /// A role: viewer, operator, editor or admin, on every namespace, or ROLE:NAMESPACE for a namespace and those under it (repeat for several).
        #[arg(long = "role", required = true, value_name = "ROLE[:NAMESPACE]")]
        roles: Vec<Grant>,
        /// Read the password from stdin (the only way: it never goes on a command line).
        #[arg(long, required = true)]
        password_stdin: bool,
    },
    /// List the users with their roles.
    List,
    /// Set a user's password (read from stdin); their browser sessions end.
    Passwd {
        name: String,
        #[arg(long, required = true)]
        password_stdin: bool,
    },
    /// Disable a user: their sessions end and their API tokens stop working.
    Disable { name: String },
    /// Enable a disabled user.
    Enable { name: String },
    /// Give a user's roles anew (replacing the ones they have).
    Grant {
        name: String,
        #[arg(long = "role", required = true, value_name = "ROLE[:NAMESPACE]")]
        roles: Vec<Grant>,
    },
    /// Make an API token for a user and print it (once) on stdout.
    Token {
        name: String,
        /// What the token is for, shown in lists.
        #[arg(long = "name", value_name = "LABEL", default_value = "cli")]
        label: String,
        /// Days until it expires (default: never).
        #[arg(long, value_name = "DAYS")]
        expires_days: Option<u32>,
    },
}

/// Runs one `mortar users` command; exit 2 for a mistake of the caller.
pub async fn users_main(args: UsersArgs) -> anyhow::Result<ExitCode> {
    let store = match crate::secrets::open_store(&args.data_dir, &args.key).await {
        Ok(store) => store,
        Err(code) => return Ok(code),
    };
    let code = run(&store, args.command).await;
    store.close().await;
    code
}

async fn run(store: &Store, command: UsersCommand) -> anyhow::Result<ExitCode> {
    let actor = "shell";
    match command {
        UsersCommand::Add { name, roles, .. } => {
            if let Err(message) = engine::auth::check_user_name(&name) {
                return Ok(config_error(message));
            }
            let password = match read_password() {
                Ok(password) => password,
                Err(message) => return Ok(config_error(message)),
            };
            let hash = tokio::task::spawn_blocking(move || engine::auth::password::hash(&password))
                .await?
                .map_err(anyhow::Error::msg)?;
            if !store.create_user(&name, &hash, &roles).await? {
                return Ok(config_error(format_args!(
                    "user {name} exists already: use `mortar users passwd` or `mortar users grant`"
                )));
            }
            let grants: Vec<String> = roles.iter().map(ToString::to_string).collect();
            super::audit(
                store,
                actor,
                "user.create",
                None,
                Some(&name),
                None,
                Some(serde_json::json!({"grants": grants})),
            )
            .await;
            println!("user {name} added ({})", grants.join(", "));
        }
        UsersCommand::List => {
            for user in store.users().await? {
                let grants: Vec<String> = user.grants.iter().map(ToString::to_string).collect();
                let state = if user.disabled { "\tdisabled" } else { "" };
                println!("{}\t{}{state}", user.name, grants.join(","));
            }
        }
        UsersCommand::Passwd { name, .. } => {
            let password = match read_password() {
                Ok(password) => password,
                Err(message) => return Ok(config_error(message)),
            };
            let hash = tokio::task::spawn_blocking(move || engine::auth::password::hash(&password))
                .await?
                .map_err(anyhow::Error::msg)?;
            if !store.set_password(&name, &hash, None).await? {
                return Ok(config_error(format_args!(
                    "no user {name}: `mortar users list` shows them"
                )));
            }
            super::audit(store, actor, "user.password", None, Some(&name), None, None).await;
            println!("password of {name} changed");
        }
        UsersCommand::Disable { name } | UsersCommand::Enable { name }
            if store.user(&name).await?.is_none() =>
        {
            return Ok(config_error(format_args!(
                "no user {name}: `mortar users list` shows them"
            )));
        }
        UsersCommand::Disable { name } => {
            store.set_disabled(&name, true).await?;
            super::audit(store, actor, "user.disable", None, Some(&name), None, None).await;
            println!("user {name} disabled");
        }
        UsersCommand::Enable { name } => {
            store.set_disabled(&name, false).await?;
            super::audit(store, actor, "user.enable", None, Some(&name), None, None).await;
            println!("user {name} enabled");
        }
        UsersCommand::Grant { name, roles } => {
            if !store.set_grants(&name, &roles).await? {
                return Ok(config_error(format_args!(
                    "no user {name}: `mortar users list` shows them"
                )));
            }
            let grants: Vec<String> = roles.iter().map(ToString::to_string).collect();
            super::audit(
                store,
                actor,
                "user.grants",
                None,
                Some(&name),
                None,
                Some(serde_json::json!({"grants": grants})),
            )
            .await;
            println!("user {name}: {}", grants.join(", "));
        }
        UsersCommand::Token {
            name,
            label,
            expires_days,
        } => {
            if store.user(&name).await?.is_none() {
                return Ok(config_error(format_args!(
                    "no user {name}: `mortar users list` shows them"
                )));
            }
            let (id, secret) = token::new_api_token();
            let expires =
                expires_days.map(|days| super::engine_now_ms() + i64::from(days) * 86_400_000);
            store
                .create_token(&id, &name, &label, &token::digest(&secret), expires)
                .await?;
            super::audit(
                store,
                actor,
                "token.create",
                None,
                Some(&id),
                None,
                Some(serde_json::json!({"user": name, "name": label})),
            )
            .await;
            println!("{secret}");
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// The first line of stdin, checked as a password.
fn read_password() -> Result<String, String> {
    let mut line = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .map_err(|e| format!("cannot read the password from stdin: {e}"))?;
    let password = line.trim_end_matches(['\n', '\r']).to_owned();
    engine::auth::check_password(&password)?;
    Ok(password)
}
