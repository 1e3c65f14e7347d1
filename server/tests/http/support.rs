//! Starts a Mortar server in-process on port 0 with a fresh data dir.

use std::net::SocketAddr;

use engine::store::Store;
use tokio::sync::oneshot;

pub struct TestApp {
    pub url: String,
    pub state: server::AppState,
    /// Sends the admin's API token with every request.
    pub client: reqwest::Client,
    /// Sends no credentials.
    pub anonymous: reqwest::Client,
    stop: Option<oneshot::Sender<()>>,
    /// The emulator behind the default connection, when started with one.
    _emulator: Option<emulator::EmulatorHandle>,
    server: Option<tokio::task::JoinHandle<std::io::Result<()>>>,
    _data_dir: tempfile::TempDir,
}

impl TestApp {
    pub async fn spawn() -> Self {
        Self::start(None, server::config::LimitArgs::default()).await
    }

    /// A server with other bounds than the defaults.
    pub async fn spawn_with_limits(limits: server::config::LimitArgs) -> Self {
        Self::start(None, limits).await
    }

    /// A server whose default Databricks connection is an emulator on
    /// port 0 with its clock sped up a thousand times.
    pub async fn spawn_with_emulator() -> Self {
        let config = emulator::EmulatorConfig {
            time_scale: 0.001,
            ..Default::default()
        };
        let handle = emulator::Emulator::start(config)
            .await
            .expect("the emulator starts");
        Self::start(Some(handle), server::config::LimitArgs::default()).await
    }

    /// As [`TestApp::spawn_with_emulator`], with other bounds (such as
    /// `--allowed-hosts`) than the defaults.
    pub async fn spawn_with_emulator_and_limits(limits: server::config::LimitArgs) -> Self {
        let config = emulator::EmulatorConfig {
            time_scale: 0.001,
            ..Default::default()
        };
        let handle = emulator::Emulator::start(config)
            .await
            .expect("the emulator starts");
        Self::start(Some(handle), limits).await
    }

    async fn start(
        emulator: Option<emulator::EmulatorHandle>,
        limits: server::config::LimitArgs,
    ) -> Self {
        let data_dir = tempfile::tempdir().expect("a temp dir");
        let store = Store::scratch_in(data_dir.path())
            .await
            .expect("the store opens");
        let listener = tokio::net::TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0)))
            .await
            .unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let (stop, stopped) = oneshot::channel::<()>();
        let databricks = emulator.as_ref().map(|handle| server::DefaultConnection {
            connection: engine::databricks::Connection {
                host: handle.url(),
                auth: engine::databricks::Auth::Token(engine::secret::Secret::new(handle.token())),
            },
            embedded: true,
        });
        let state = server::AppState::with_limits(
            store.clone(),
            data_dir.path(),
            std::sync::Arc::new(|_: &str| None),
            databricks,
            &limits,
            engine::executor::ServerVariables::default(),
        );
        let server = tokio::spawn(server::run(listener, state.clone(), async {
            let _ = stopped.await;
        }));
        let client = client_with_token(&user_token(&store, ADMIN, "admin").await);
        Self {
            url,
            state,
            client,
            anonymous: engine::http::client(),
            stop: Some(stop),
            _emulator: emulator,
            server: Some(server),
            _data_dir: data_dir,
        }
    }

    /// A client of a new user `name` with `grants` (such as `viewer` or
    /// `editor:a`).
    pub async fn client_as(&self, name: &str, grants: &str) -> reqwest::Client {
        client_with_token(&user_token(&self.state.store, name, grants).await)
    }

    /// Creates user `name` with `grants` (comma-separated) and password
    /// [`PASSWORD`] if missing.
    pub async fn add_user(&self, name: &str, grants: &str) {
        add_user(&self.state.store, name, grants).await;
    }

    /// The server's data dir (its database, key file and storage).
    pub fn data_dir(&self) -> &std::path::Path {
        self._data_dir.path()
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.url)
    }

    pub async fn post_flow(&self, yaml: &str) -> reqwest::Response {
        self.client
            .post(self.url("/api/v1/flows"))
            .header("content-type", "application/x-yaml")
            .body(yaml.to_owned())
            .send()
            .await
            .unwrap()
    }

    /// Stops the server and waits for it to finish.
    pub async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(server) = self.server.take() {
            server.await.unwrap().unwrap();
        }
    }
}

/// The admin every test server has.
pub const ADMIN: &str = "admin";
/// The password of the users tests create.
pub const PASSWORD: &str = "correct horse battery";

async fn add_user(store: &Store, name: &str, grants: &str) {
    let grants: Vec<engine::auth::Grant> = grants.split(',').map(|g| g.parse().unwrap()).collect();
    let hash = engine::auth::password::hash(PASSWORD).unwrap();
    store.create_user(name, &hash, &grants).await.unwrap();
}

/// Creates user `name` with `grants` and returns an API token of theirs.
async fn user_token(store: &Store, name: &str, grants: &str) -> String {
    add_user(store, name, grants).await;
    let (id, token) = engine::auth::token::new_api_token();
    store
        .create_token(
            &id,
            name,
            "tests",
            &engine::auth::token::digest(&token),
            None,
        )
        .await
        .unwrap();
    token
}

fn client_with_token(token: &str) -> reqwest::Client {
    let mut headers = reqwest::header::HeaderMap::new();
    headers.insert(
        reqwest::header::AUTHORIZATION,
        format!("Bearer {token}").parse().unwrap(),
    );
    engine::http::client_builder()
        .default_headers(headers)
        .build()
        .unwrap()
}
