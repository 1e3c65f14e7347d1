//! The Databricks tasks, under Kestra's type names
//! (`io.kestra.plugin.databricks.…`) and their short aliases. Each takes
//! `host` and `authentication` (`token`, or `clientId` and `clientSecret`)
//! from its properties or `pluginDefaults`, else the server's default
//! connection. A task's `host` is read by `BaseUrl` (nothing past the port)
//! and must be on `--allowed-hosts` unless it is the default connection's;
//! the default connection's credentials are sent to its own host only. Each writes a checkpoint the moment it has a handle on remote
//! work (cluster id, statement id, run id), re-attaches to it after a
//! restart, and cancels it when the execution is killed.

pub mod cli;
pub mod cluster;
pub mod dbfs;
pub mod genie;
pub mod jobs;
pub mod lakebase;
pub mod sql;
pub mod unity;
pub mod warehouse;
pub mod watch;
pub mod zerobus;

use crate::flow::registry::Kind::*;
use crate::flow::registry::{Property, prop};

/// How a task signs in to its workspace.
pub const AUTH: &[Property] = &[
    prop(
        "token",
        String,
        "A personal access token; use secret('...').",
    ),
    prop(
        "clientId",
        String,
        "The service principal's client id, for OAuth machine-to-machine.",
    ),
    prop(
        "clientSecret",
        String,
        "The service principal's secret; use secret('...').",
    ),
    prop("authType", String, "Accepted for Kestra compatibility."),
    prop("username", String, "Accepted for Kestra compatibility."),
    prop("password", String, "Accepted for Kestra compatibility."),
    prop(
        "azureClientId",
        String,
        "Accepted for Kestra compatibility.",
    ),
    prop(
        "azureClientSecret",
        String,
        "Accepted for Kestra compatibility.",
    ),
    prop(
        "azureTenantId",
        String,
        "Accepted for Kestra compatibility.",
    ),
    prop(
        "googleCredentials",
        String,
        "Accepted for Kestra compatibility.",
    ),
    prop(
        "googleServiceAccount",
        String,
        "Accepted for Kestra compatibility.",
    ),
];

/// A Databricks type's properties: the connection's, then its own.
macro_rules! databricks {
    ($($p:expr),* $(,)?) => {
        &[
            $crate::flow::registry::ex($crate::flow::registry::prop("host", $crate::flow::registry::Kind::BaseUrl, "The workspace URL, scheme://host[:port] and nothing after; the server's default connection when unset. A task that names its own host brings its own `authentication`."), "https://adb-123.4.azuredatabricks.net"),
            $crate::flow::registry::prop("authentication", $crate::flow::registry::Kind::Object { properties: $crate::task::databricks::AUTH }, "How to sign in; the default connection's credentials when unset."),
            $crate::flow::registry::prop("accountId", $crate::flow::registry::Kind::String, "Accepted for Kestra compatibility."),
            $crate::flow::registry::prop("configFile", $crate::flow::registry::Kind::String, "Accepted for Kestra compatibility."),
            $($p),*
        ]
    };
}
pub(crate) use databricks;

#[cfg(feature = "runtime")]
pub use run::Databricks;

#[cfg(feature = "runtime")]
mod run {
    use std::collections::HashMap;
    use std::sync::{Arc, Mutex};
    use std::time::{Duration, Instant};

    use serde::Deserialize;
    use serde_json::{Map, Value};

    use crate::base_url::{AllowedHosts, BaseUrl};
    use crate::databricks::poll::PollBackoff;
    use crate::databricks::{Auth, ClientOptions, Connection, DatabricksClient};
    use crate::secret::Secret;
    use crate::task::{TaskContext, TaskError};

    /// What the Databricks tasks share: the default connection and a client
    /// per connection (so an OAuth token and the HTTP connections are reused).
    pub struct Databricks {
        default: Option<Connection>,
        pub(super) default_warehouse: Option<String>,
        options: ClientOptions,
        allowed: AllowedHosts,
        clients: Mutex<HashMap<String, DatabricksClient>>,
    }

    impl Databricks {
        /// `default` is the connection for tasks that name none;
        /// `default_warehouse` the warehouse for `sql.Query` without one
        /// (`DATABRICKS_WAREHOUSE_ID`; else the workspace's first); `allowed`
        /// the other hosts a task may name (`--allowed-hosts`).
        pub fn new(
            default: Option<Connection>,
            default_warehouse: Option<String>,
            options: ClientOptions,
            allowed: AllowedHosts,
        ) -> Arc<Self> {
            Arc::new(Self {
                default,
                default_warehouse,
                options,
                allowed,
                clients: Mutex::new(HashMap::new()),
            })
        }

        /// Whether a task may call `url` (`--allowed-hosts`, or the
        /// default connection's workspace), as for the `host` of a task.
        pub(super) fn check_host(&self, url: &BaseUrl) -> Result<(), String> {
            let default = self
                .default
                .as_ref()
                .and_then(|d| BaseUrl::parse(&d.host).ok())
                .is_some_and(|d| &d == url);
            if default { Ok(()) } else { self.allowed.check(url) }
        }

        /// The default connection's token, for a call to its own workspace
        /// (`url` is its host) by a task that names no credentials; its
        /// credentials go nowhere else.
        pub(super) fn default_token_for(&self, url: &BaseUrl) -> Option<String> {
            let default = self.default.as_ref()?;
            let host = BaseUrl::parse(&default.host).ok()?;
            match (&default.auth, &host == url) {
                (Auth::Token(token), true) => Some(token.expose().to_owned()),
                _ => None,
            }
        }

        /// The client for a task's properties.
        pub(super) fn client(&self, ctx: &TaskContext) -> Result<DatabricksClient, TaskError> {
            #[derive(Deserialize, Default)]
            #[serde(rename_all = "camelCase")]
            struct Props {
                host: Option<String>,
                authentication: Option<AuthProps>,
                /// Kestra's sql.Query takes its token here.
                access_token: Option<String>,
            }
            #[derive(Deserialize, Default)]
            #[serde(rename_all = "camelCase")]
            struct AuthProps {
                token: Option<String>,
                client_id: Option<String>,
                client_secret: Option<String>,
            }
            let props: Props = serde_json::from_value(ctx.properties.clone()).unwrap_or_default();
            let mut auth = props.authentication.unwrap_or_default();
            // An empty value (a rendered `{{ x ?? '' }}`) is no value.
            let given = |v: Option<String>| v.filter(|v| !v.is_empty());
            (auth.token, auth.client_id, auth.client_secret) = (
                given(auth.token),
                given(auth.client_id),
                given(auth.client_secret),
            );
            if auth.token.is_none() {
                auth.token = props.access_token.filter(|t| !t.is_empty());
            }
            let connection = match (props.host.filter(|h| !h.trim().is_empty()), &self.default) {
                (Some(host), default) => {
                    // The same type as the validator's, for a host rendered
                    // from an expression; a literal one was refused already.
                    let host =
                        BaseUrl::parse(&host).map_err(|e| ctx.invalid(format!("`host`: {e}")))?;
                    let default = default
                        .as_ref()
                        .filter(|d| BaseUrl::parse(&d.host).is_ok_and(|d| d == host));
                    if default.is_none() {
                        self.allowed
                            .check(&host)
                            .map_err(|message| ctx.invalid(message))?;
                    }
                    let auth = match (auth.token, auth.client_id, auth.client_secret, default) {
                        (Some(token), _, _, _) => Auth::Token(Secret::new(token)),
                        (None, Some(client_id), Some(secret), _) => Auth::OAuthM2M {
                            client_id,
                            client_secret: Secret::new(secret),
                        },
                        // The default connection's own workspace, named again.
                        (None, _, _, Some(default)) => default.auth.clone(),
                        // The default credentials belong to the default host:
                        // sent elsewhere, they would go to whoever runs it.
                        (None, _, _, None) => {
                            return Err(ctx.invalid(
                                format!(
                                    "`host` {host} is not the default connection's workspace, so its credentials are not sent there: \
                                     set `authentication.token` (or `clientId` and `clientSecret`) for it"
                                ),
                            ));
                        }
                    };
                    Connection {
                        host: host.to_string(),
                        auth,
                    }
                }
                (None, Some(default)) => {
                    let mut connection = default.clone();
                    // A token alone overrides the default connection's credentials.
                    if let Some(token) = auth.token {
                        connection.auth = Auth::Token(Secret::new(token));
                    }
                    connection
                }
                (None, None) => {
                    return Err(ctx.invalid("no Databricks connection: set `host` and `authentication`, or DATABRICKS_HOST on the server"));
                }
            };
            let key = match &connection.auth {
                Auth::Token(token) => format!("{} token {}", connection.host, token.expose()),
                Auth::OAuthM2M {
                    client_id,
                    client_secret,
                } => format!(
                    "{} m2m {client_id} {}",
                    connection.host,
                    client_secret.expose()
                ),
            };
            let mut clients = self
                .clients
                .lock()
                .map_err(|_| TaskError::Failed("the client cache is poisoned".into()))?;
            if let Some(client) = clients.get(&key) {
                return Ok(client.clone());
            }
            let client = DatabricksClient::new(connection, self.options.clone())?;
            clients.insert(key, client.clone());
            Ok(client)
        }
    }

    /// A property that may come as a number or as numeric text (a rendered
    /// expression), as Databricks itself accepts.
    pub(super) fn int(value: &Value) -> Option<i64> {
        value
            .as_i64()
            .or_else(|| value.as_str()?.trim().parse().ok())
    }

    /// Polls `check` until it returns `Some`, with backoff, stopping at once on
    /// kill and at `deadline`.
    pub(super) async fn wait_for<T, F, Fut>(
        ctx: &TaskContext,
        what: &str,
        deadline: Option<Duration>,
        mut check: F,
    ) -> Result<T, TaskError>
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = Result<Option<T>, TaskError>>,
    {
        let started = Instant::now();
        let mut backoff = PollBackoff::new();
        loop {
            if let Some(done) = check().await? {
                return Ok(done);
            }
            if let Some(limit) = deadline
                && started.elapsed() >= limit
            {
                return Err(TaskError::Failed(format!(
                    "gave up waiting for {what} after {limit:?}"
                )));
            }
            ctx.sleep(backoff.next_delay()).await?;
        }
    }

    /// Kestra's camelCase keys to Databricks' snake_case, recursively, except
    /// inside maps whose keys are the user's own (parameters, tags, conf).
    pub(super) fn to_snake(value: &Value) -> Value {
        const USER_MAPS: &[&str] = &[
            "baseParameters",
            "base_parameters",
            "parameters",
            "namedParameters",
            "named_parameters",
            "sparkConf",
            "spark_conf",
            "sparkEnvVars",
            "spark_env_vars",
            "customTags",
            "custom_tags",
            "notebookParams",
            "notebook_params",
            "jobParameters",
            "job_parameters",
            "pythonNamedParams",
            "python_named_params",
            "sqlParams",
            "sql_params",
            "tags",
        ];
        match value {
            Value::Object(map) => Value::Object(
                map.iter()
                    .map(|(key, v)| {
                        let converted = if USER_MAPS.contains(&key.as_str()) && v.is_object() {
                            v.clone()
                        } else {
                            to_snake(v)
                        };
                        (snake(key), converted)
                    })
                    .collect::<Map<_, _>>(),
            ),
            Value::Array(items) => Value::Array(items.iter().map(to_snake).collect()),
            other => other.clone(),
        }
    }

    fn snake(key: &str) -> String {
        let mut out = String::with_capacity(key.len() + 4);
        for (i, c) in key.chars().enumerate() {
            if c.is_ascii_uppercase() {
                if i > 0 {
                    out.push('_');
                }
                out.push(c.to_ascii_lowercase());
            } else {
                out.push(c);
            }
        }
        out
    }

    #[cfg(test)]
    mod tests {
        use serde_json::json;

        #[test]
        fn camel_case_becomes_snake_case_but_user_keys_stay() {
            let kestra = json!({"taskKey": "a", "notebookTask": {"notebookPath": "/x", "baseParameters": {"myDay": "1"}},
                                "newCluster": {"sparkVersion": "15.4", "sparkConf": {"spark.someKey": "v"}, "numWorkers": 2}});
            assert_eq!(
                super::to_snake(&kestra),
                json!({"task_key": "a", "notebook_task": {"notebook_path": "/x", "base_parameters": {"myDay": "1"}},
                       "new_cluster": {"spark_version": "15.4", "spark_conf": {"spark.someKey": "v"}, "num_workers": 2}})
            );
        }
    }
}
