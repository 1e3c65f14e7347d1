//! What the server benches share: Mortar served on 127.0.0.1:0 in the
//! bench's process, stopped at the end.

use std::net::SocketAddr;

pub struct Served {
    pub url: String,
    stop: tokio::sync::oneshot::Sender<()>,
    serving: tokio::task::JoinHandle<std::io::Result<()>>,
}

/// Serves `state` on a free port of 127.0.0.1.
pub async fn serve(state: server::AppState) -> anyhow::Result<Served> {
    let listener = tokio::net::TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0))).await?;
    let url = format!("http://{}", listener.local_addr()?);
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let serving = tokio::spawn(server::run(listener, state, async {
        let _ = stopped.await;
    }));
    Ok(Served { url, stop, serving })
}

impl Served {
    /// Stops serving and waits for it to end.
    pub async fn stop(self) -> anyhow::Result<()> {
        let _ = self.stop.send(());
        self.serving.await??;
        Ok(())
    }
}
