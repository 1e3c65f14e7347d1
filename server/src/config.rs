//! The command line: flags and environment, read by clap and checked once at
//! start. A bad value ends the process with one line naming the flag, and
//! exit status 2.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};
use engine::flow::pebble::Limits;

#[derive(Debug, Parser)]
#[command(
    name = "mortar",
    version,
    about = "A workflow orchestrator for Databricks"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve the web app and the REST API.
    Serve(ServeArgs),
    /// Run a flow file locally, streaming its logs; exit 0 only for SUCCESS or WARNING.
    Run(RunArgs),
    /// Serve a local Databricks workspace (the emulator) speaking the real REST API.
    Emulator(emulator::EmulatorArgs),
    /// Check flow files: prints file:line:col: message for each problem; exit 1 if any is an error.
    Validate(ValidateArgs),
    /// Print the JSON Schema of a flow.
    Schema,
    /// Manage users from the shell: add, list, passwd, disable, enable, grant, token.
    Users(crate::auth::users_cli::UsersArgs),
    /// Manage namespace secrets, stored encrypted in the data dir (works
    /// whether or not a server runs on it).
    #[command(subcommand)]
    Secrets(SecretsCommand),
}

#[derive(Debug, Clone, Subcommand)]
pub enum SecretsCommand {
    /// Set a secret (insert or replace) from standard input; one trailing newline is dropped.
    Set {
        /// The namespace, such as `company.team`; flows of it and of the namespaces below it see the secret.
        namespace: String,
        /// The secret's name, as `secret('NAME')` reads it.
        name: String,
        /// Read the value from standard input (the only way: a value on the command line would show in `ps` and the
        /// shell's history). Required; checked by the command so that its absence is one line naming it.
        #[arg(long)]
        value_stdin: bool,
        #[command(flatten)]
        store: StoreArgs,
    },
    /// List a namespace's own secrets: name, who set it and when (never values).
    List {
        namespace: String,
        #[command(flatten)]
        store: StoreArgs,
    },
    /// Delete a secret.
    Delete {
        namespace: String,
        name: String,
        #[command(flatten)]
        store: StoreArgs,
    },
    /// Make a new key and re-encrypt every secret and SECRET input with it. Stop the server first.
    RotateKey {
        #[command(flatten)]
        store: StoreArgs,
    },
}

/// The data dir and its key, for the `secrets` commands.
#[derive(Debug, Clone, Args)]
pub struct StoreArgs {
    /// The data dir, as `mortar serve` has it.
    #[arg(
        long,
        env = "MORTAR_DATA_DIR",
        default_value = "./mortar-data",
        value_name = "DIR"
    )]
    pub data_dir: PathBuf,
    #[command(flatten)]
    pub key: KeyArgs,
}

/// The store's database, and the key that encrypts its secrets at rest.
#[derive(Debug, Clone, Default, Args)]
pub struct KeyArgs {
    /// The database: `postgres://USER:PASSWORD@HOST:PORT/DATABASE` for several Mortar nodes sharing one
    /// PostgreSQL, or `sqlite://PATH`. Without it, `mortar.db` in the data dir (SQLite, one node). Prefer the
    /// environment variable when the URL holds a password.
    #[arg(
        long = "database",
        env = "MORTAR_DATABASE_URL",
        hide_env_values = true,
        value_name = "URL"
    )]
    pub database: Option<String>,
    /// The key that encrypts secrets in the database: the base64 of 32 random bytes. Without it, the data dir's
    /// `secret.key`, made at the first start. Prefer the environment variable: a flag shows in `ps`.
    #[arg(
        long = "secret-key",
        env = "MORTAR_SECRET_KEY",
        hide_env_values = true,
        value_name = "BASE64"
    )]
    pub secret_key: Option<engine::secret::Secret>,
}

impl KeyArgs {
    /// The database `--database` names (SQLite in the data dir without
    /// it); a malformed URL is one line that says what to give.
    pub fn database(&self) -> Result<engine::store::Database, String> {
        match self
            .database
            .as_deref()
            .map(str::trim)
            .filter(|url| !url.is_empty())
        {
            None => Ok(engine::store::Database::Sqlite(None)),
            Some(url) => engine::store::Database::parse(url).map_err(|e| e.to_string()),
        }
    }

    /// Where the store's key comes from; a malformed key is one line that
    /// names MORTAR_SECRET_KEY.
    pub fn choice(&self) -> Result<engine::store::KeyChoice, String> {
        match &self.secret_key {
            None => Ok(engine::store::KeyChoice::File),
            Some(text) => {
                let from = "MORTAR_SECRET_KEY";
                let key = engine::secret_key::SecretKey::from_base64(text.expose(), from)
                    .map_err(|e| e.to_string())?;
                Ok(engine::store::KeyChoice::Given {
                    key,
                    from: from.to_owned(),
                })
            }
        }
    }
}

#[derive(Debug, Clone, Args)]
pub struct ValidateArgs {
    /// The flow files to check.
    #[arg(required = true, value_name = "FILE")]
    pub files: Vec<PathBuf>,
}

#[derive(Debug, Clone, Args)]
pub struct RunArgs {
    /// The flow's YAML file.
    pub file: PathBuf,
    /// An input, `name=value`; for a FILE input, `name=@path/to/file`.
    #[arg(long = "input", short = 'i', value_name = "NAME=VALUE")]
    pub inputs: Vec<String>,
    /// Keep the run's database and files here (default: a temporary folder, removed afterwards); its namespace
    /// secrets are what `secret()` reads first.
    #[arg(long, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    #[command(flatten)]
    pub key: KeyArgs,
    #[command(flatten)]
    pub databricks: DatabricksArgs,
    #[command(flatten)]
    pub limits: LimitArgs,
    #[command(flatten)]
    pub variables: VariableArgs,
}

/// What flows' expressions read of the server: `kestra.url`, `globals`,
/// `envs`.
#[derive(Debug, Clone, Args)]
pub struct VariableArgs {
    /// The address users reach Mortar at, `{{ kestra.url }}` in flows (default: http:// and the listen address); besides the loopback names and the listen address, Mortar answers only to its host.
    #[arg(
        long,
        visible_alias = "public-url",
        env = "MORTAR_URL",
        value_name = "URL"
    )]
    pub url: Option<String>,
    /// A YAML file of values that every flow reads as `{{ globals.<name> }}`.
    #[arg(long, env = "MORTAR_GLOBALS", value_name = "FILE")]
    pub globals: Option<PathBuf>,
    /// Environment variables whose names start with this are `{{ envs.<rest, lower case> }}` in flows.
    #[arg(long, env = "MORTAR_ENV_VARS_PREFIX", default_value = engine::executor::ServerVariables::ENV_PREFIX, value_name = "PREFIX")]
    pub env_vars_prefix: String,
}

impl Default for VariableArgs {
    fn default() -> Self {
        Self {
            url: None,
            globals: None,
            env_vars_prefix: engine::executor::ServerVariables::ENV_PREFIX.to_owned(),
        }
    }
}

impl VariableArgs {
    /// Reads the globals file and the environment; the error names the flag.
    pub fn load(
        &self,
        default_url: Option<String>,
    ) -> Result<engine::executor::ServerVariables, String> {
        if self.env_vars_prefix.is_empty() {
            return Err("--env-vars-prefix: give a prefix such as ENV_; an empty one would show every environment variable to flows".into());
        }
        let mut variables =
            engine::executor::ServerVariables::from_env(std::env::vars(), &self.env_vars_prefix);
        if let Some(path) = &self.globals {
            let text = std::fs::read_to_string(path)
                .map_err(|e| format!("--globals {}: {e}", path.display()))?;
            let value: serde_json::Value = serde_saphyr::from_str(&text)
                .map_err(|e| format!("--globals {}: not YAML: {e}", path.display()))?;
            match value {
                serde_json::Value::Object(map) => variables.globals = map,
                serde_json::Value::Null => {}
                _ => {
                    return Err(format!(
                        "--globals {}: the file must be a mapping of names to values",
                        path.display()
                    ));
                }
            }
        }
        variables.url = self.url.clone().or(default_url);
        Ok(variables)
    }
}

/// Bounds on what one flow can make Mortar hold or reach.
#[derive(Debug, Clone, Args)]
pub struct LimitArgs {
    /// The hosts a task may call besides the default Databricks connection, comma-separated: host, host:port or *.domain (default: any host).
    #[arg(long, env = "MORTAR_ALLOWED_HOSTS", value_name = "HOSTS", value_parser = engine::base_url::AllowedHosts::parse)]
    pub allowed_hosts: Option<engine::base_url::AllowedHosts>,
    /// The longest log line kept, in bytes; a longer line is cut there, with a note.
    #[arg(long, env = "MORTAR_MAX_LOG_LINE", default_value_t = engine::logs::MAX_LINE, value_name = "BYTES",
          value_parser = clap::builder::ValueParser::new(clap::builder::TypedValueParser::map(clap::value_parser!(u64).range(1024..), |n| n as usize)))]
    pub max_log_line: usize,
    /// The largest file an execution's FILE input may upload, in bytes (default 10 GiB).
    #[arg(long, env = "MORTAR_MAX_UPLOAD", default_value_t = MAX_UPLOAD, value_name = "BYTES")]
    pub max_upload: u64,
    /// The most steps (expression evaluations, loop iterations) one render of an expression may take.
    #[arg(long, env = "MORTAR_MAX_TEMPLATE_STEPS", default_value_t = Limits::default().steps, value_name = "STEPS",
          value_parser = clap::value_parser!(u64).range(1000..))]
    pub max_template_steps: u64,
    /// The most text one render of an expression may produce, in bytes.
    #[arg(long, env = "MORTAR_MAX_TEMPLATE_OUTPUT", default_value_t = Limits::default().output_bytes, value_name = "BYTES",
          value_parser = clap::builder::ValueParser::new(clap::builder::TypedValueParser::map(clap::value_parser!(u64).range(1024..), |n| n as usize)))]
    pub max_template_output: usize,
    /// How long a client may take to send a request's head, and how long an idle connection stays open, in seconds.
    #[arg(long, env = "MORTAR_HEADER_TIMEOUT", default_value_t = 30, value_name = "SECONDS", value_parser = clap::value_parser!(u64).range(1..))]
    pub header_timeout: u64,
}

impl LimitArgs {
    /// The bounds on each render, as the executor takes them.
    pub fn render_limits(&self) -> Limits {
        Limits {
            steps: self.max_template_steps,
            output_bytes: self.max_template_output,
            ..Limits::default()
        }
    }
}

/// The default of `--max-upload`: 10 GiB.
pub const MAX_UPLOAD: u64 = 10 * 1024 * 1024 * 1024;

impl Default for LimitArgs {
    fn default() -> Self {
        let render = Limits::default();
        Self {
            allowed_hosts: None,
            max_log_line: engine::logs::MAX_LINE,
            max_upload: MAX_UPLOAD,
            max_template_steps: render.steps,
            max_template_output: render.output_bytes,
            header_timeout: 30,
        }
    }
}

#[derive(Debug, Clone, Args)]
pub struct ServeArgs {
    /// The address to listen on; port 0 picks a free port.
    #[arg(
        long,
        env = "MORTAR_LISTEN",
        default_value = "127.0.0.1:8080",
        value_name = "ADDR"
    )]
    pub listen: SocketAddr,
    /// Where the database and internal storage live; created if missing.
    #[arg(
        long,
        env = "MORTAR_DATA_DIR",
        default_value = "./mortar-data",
        value_name = "DIR"
    )]
    pub data_dir: PathBuf,
    #[command(flatten)]
    pub key: KeyArgs,
    #[command(flatten)]
    pub databricks: DatabricksArgs,
    #[command(flatten)]
    pub limits: LimitArgs,
    #[command(flatten)]
    pub variables: VariableArgs,
    #[command(flatten)]
    pub node: NodeArgs,
}

/// What this node does among several on one PostgreSQL.
#[derive(Debug, Clone, Args)]
pub struct NodeArgs {
    /// What this node runs: any of web, executor, scheduler, comma-separated. Several nodes need a shared
    /// PostgreSQL (`--database postgres://…`) and a shared `--storage-dir`.
    #[arg(
        long,
        env = "MORTAR_ROLES",
        default_value = "web,executor,scheduler",
        value_name = "ROLES"
    )]
    pub roles: String,
    /// Internal storage (files tasks write and read): `<data-dir>/storage` by default; a mount every node shares
    /// when there are several.
    #[arg(long, env = "MORTAR_STORAGE_DIR", value_name = "DIR")]
    pub storage_dir: Option<PathBuf>,
}

/// How Databricks tasks connect when no DATABRICKS_* setting is present.
#[derive(Debug, Clone, Args)]
pub struct DatabricksArgs {
    /// The embedded emulator's time scale: 1 = a cluster starts in seconds, 0.01 = a hundred times faster.
    #[arg(
        long,
        env = "MORTAR_EMULATOR_TIME_SCALE",
        default_value_t = 1.0,
        value_name = "X"
    )]
    pub emulator_time_scale: f64,
}

/// Exit status for bad usage or configuration, as clap and sysexits use.
pub const USAGE_ERROR: u8 = 2;

/// Prints clap's help or version as it is, and a usage error as one line.
pub fn exit_on_usage_error(error: clap::Error) -> ExitCode {
    use clap::error::ErrorKind;
    match error.kind() {
        ErrorKind::DisplayHelp
        | ErrorKind::DisplayVersion
        | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => {
            let _ = error.print();
            ExitCode::SUCCESS
        }
        _ => config_error(first_line(&error.to_string())),
    }
}

/// Prints `mortar: <message>` and returns the usage exit status.
pub fn config_error(message: impl std::fmt::Display) -> ExitCode {
    eprintln!("mortar: {message}");
    ExitCode::from(USAGE_ERROR)
}

fn first_line(text: &str) -> String {
    let line = text
        .lines()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("invalid arguments");
    line.trim_start_matches("error: ").to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Cli, String> {
        Cli::try_parse_from(args).map_err(|e| first_line(&e.to_string()))
    }

    #[test]
    fn serve_defaults_and_flags() {
        let Ok(Cli {
            command: Command::Serve(args),
        }) = parse(&["mortar", "serve"])
        else {
            panic!()
        };
        assert_eq!(args.listen.to_string(), "127.0.0.1:8080");
        assert_eq!(args.data_dir, PathBuf::from("./mortar-data"));
        let Ok(Cli {
            command: Command::Serve(args),
        }) = parse(&[
            "mortar",
            "serve",
            "--listen",
            "0.0.0.0:0",
            "--data-dir",
            "/tmp/x",
        ])
        else {
            panic!()
        };
        assert_eq!(args.listen.port(), 0);
        assert_eq!(args.data_dir, PathBuf::from("/tmp/x"));
    }

    #[test]
    fn secrets_commands_parse_with_the_data_dir_default() {
        let Ok(Cli {
            command:
                Command::Secrets(SecretsCommand::Set {
                    namespace,
                    name,
                    value_stdin,
                    store,
                }),
        }) = parse(&[
            "mortar",
            "secrets",
            "set",
            "company.team",
            "TOKEN",
            "--value-stdin",
        ])
        else {
            panic!()
        };
        assert_eq!(
            (namespace.as_str(), name.as_str(), value_stdin),
            ("company.team", "TOKEN", true)
        );
        assert_eq!(store.data_dir, PathBuf::from("./mortar-data"));
        let Ok(Cli {
            command:
                Command::Secrets(SecretsCommand::Set {
                    value_stdin: false, ..
                }),
        }) = parse(&["mortar", "secrets", "set", "a", "B"])
        else {
            panic!()
        };
        let Ok(Cli {
            command: Command::Secrets(SecretsCommand::RotateKey { store }),
        }) = parse(&["mortar", "secrets", "rotate-key", "--data-dir", "/tmp/d"])
        else {
            panic!()
        };
        assert_eq!(store.data_dir, PathBuf::from("/tmp/d"));
        let key = KeyArgs {
            secret_key: Some(engine::secret::Secret::new("short")),
            database: None,
        };
        let message = key.choice().unwrap_err();
        assert!(message.starts_with("MORTAR_SECRET_KEY: "), "{message}");
        assert!(
            !message.contains("short"),
            "the value is never shown: {message}"
        );
    }

    #[test]
    fn allowed_hosts_are_a_checked_list() {
        let Ok(Cli {
            command: Command::Serve(args),
        }) = parse(&["mortar", "serve"])
        else {
            panic!()
        };
        assert_eq!(args.limits.allowed_hosts, None);
        let Ok(Cli {
            command: Command::Run(args),
        }) = parse(&[
            "mortar",
            "run",
            "f.yaml",
            "--allowed-hosts",
            "a.com, *.b.com:8443",
        ])
        else {
            panic!()
        };
        assert_eq!(
            args.limits.allowed_hosts.unwrap().to_string(),
            "a.com, *.b.com:8443"
        );
        let message = parse(&["mortar", "serve", "--allowed-hosts", "a.com/x"]).unwrap_err();
        assert!(
            message.contains("--allowed-hosts")
                && message.contains("write host, host:port or *.domain"),
            "{message}"
        );
    }

    #[test]
    fn a_bad_flag_is_one_line_that_names_it() {
        let message = parse(&["mortar", "serve", "--listen", "nowhere"]).unwrap_err();
        assert!(message.contains("--listen"), "{message}");
        assert!(!message.contains('\n'));
    }
}
