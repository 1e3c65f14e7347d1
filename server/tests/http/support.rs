//! Starts a Mortar server in-process on port 0 with a fresh data dir.

use std::net::SocketAddr;

use engine::store::Store;
use tokio::sync::oneshot;

pub struct TestApp {
    pub url: String,
    pub state: server::AppState,
    pub client: reqwest::Client,
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
        let config = emulator::EmulatorConfig { time_scale: 0.001, ..Default::default() };
        let handle = emulator::Emulator::start(config).await.expect("the emulator starts");
        Self::start(Some(handle), server::config::LimitArgs::default()).await
    }

    /// As [`TestApp::spawn_with_emulator`], with other bounds (such as
    /// `--allowed-hosts`) than the defaults.
    pub async fn spawn_with_emulator_and_limits(limits: server::config::LimitArgs) -> Self {
        let config = emulator::EmulatorConfig { time_scale: 0.001, ..Default::default() };
        let handle = emulator::Emulator::start(config).await.expect("the emulator starts");
        Self::start(Some(handle), limits).await
    }

    async fn start(emulator: Option<emulator::EmulatorHandle>, limits: server::config::LimitArgs) -> Self {
        let data_dir = tempfile::tempdir().expect("a temp dir");
        let store = Store::open(data_dir.path()).await.expect("the store opens");
        let listener = tokio::net::TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0))).await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let (stop, stopped) = oneshot::channel::<()>();
        let databricks = emulator.as_ref().map(|handle| server::DefaultConnection {
            connection: engine::databricks::Connection {
                host: handle.url(),
                auth: engine::databricks::Auth::Token(engine::secret::Secret::new(handle.token())),
            },
            embedded: true,
        });
        let state = server::AppState::with_limits(store.clone(), data_dir.path(), std::sync::Arc::new(|_: &str| None), databricks, &limits, engine::executor::ServerVariables::default());
        let server = tokio::spawn(server::run(listener, state.clone(), async {
            let _ = stopped.await;
        }));
        Self { url, state, client: engine::http::client(), stop: Some(stop), _emulator: emulator, server: Some(server), _data_dir: data_dir }
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
