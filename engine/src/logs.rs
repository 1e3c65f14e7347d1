//! The log pipeline: tasks send lines; one writer inserts whatever has
//! queued up as one transaction, then broadcasts the stored lines (with their
//! ids) to live followers. Under load the batches grow by themselves; when
//! idle a line is written and delivered at once, with no timer.

use std::sync::Arc;

use tokio::sync::{broadcast, mpsc, oneshot};
use tokio::task::JoinHandle;

use crate::store::{LogRecord, NewLog, Store};

/// The most lines written in one transaction.
const MAX_BATCH: usize = 1024;
/// Lines a sender may queue before `send` waits for the writer.
const QUEUE: usize = 16 * 1024;
/// Lines a slow live follower may fall behind before it is told it lagged
/// (it then reads the rest from the store).
const LIVE_BUFFER: usize = 16 * 1024;
/// The longest log line kept, in bytes, unless the server is told otherwise
/// (`--max-log-line`): a task that prints a 300 MB line must not make every
/// reader of the execution's logs load it.
pub const MAX_LINE: usize = 1024 * 1024;

enum Message {
    Line(NewLog),
    Flush(oneshot::Sender<()>),
}

/// Sends lines to the writer. Cheap to clone.
#[derive(Clone)]
pub struct LogSender {
    queue: mpsc::Sender<Message>,
    max_line: usize,
}

/// The writer and the live channel.
pub struct LogPipeline {
    sender: LogSender,
    live: broadcast::Sender<Arc<LogRecord>>,
    /// Executions whose lines another node stored: their followers here
    /// read what is new from the store.
    pokes: broadcast::Sender<crate::ids::ExecutionId>,
}

impl LogPipeline {
    /// Starts the writer. It ends once every `LogSender` is dropped and the
    /// queue is written.
    pub fn start(store: Store) -> (Self, JoinHandle<()>) {
        Self::with_max_line(store, MAX_LINE)
    }

    /// Starts the writer; lines longer than `max_line` bytes are cut there,
    /// with a note saying so.
    pub fn with_max_line(store: Store, max_line: usize) -> (Self, JoinHandle<()>) {
        let (queue, receiver) = mpsc::channel(QUEUE);
        let (live, _) = broadcast::channel(LIVE_BUFFER);
        let writer = tokio::spawn(write_loop(store, receiver, live.clone()));
        let (pokes, _) = broadcast::channel(1024);
        (
            Self {
                sender: LogSender { queue, max_line },
                live,
                pokes,
            },
            writer,
        )
    }

    pub fn sender(&self) -> LogSender {
        self.sender.clone()
    }

    /// Every line stored from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<Arc<LogRecord>> {
        self.live.subscribe()
    }

    /// Executions with lines stored by another node (see [`Self::poke`]).
    pub fn subscribe_pokes(&self) -> broadcast::Receiver<crate::ids::ExecutionId> {
        self.pokes.subscribe()
    }

    /// Another node stored lines of `execution`.
    pub fn poke(&self, execution: crate::ids::ExecutionId) {
        let _ = self.pokes.send(execution);
    }
}

impl LogSender {
    /// Queues a line, cut to the longest line kept. Waits only when the
    /// writer is far behind.
    pub async fn send(&self, mut line: NewLog) {
        cut(&mut line.message, self.max_line);
        if self.queue.send(Message::Line(line)).await.is_err() {
            tracing::warn!("the log writer has stopped; a log line was dropped");
        }
    }

    /// Waits until every line sent before this call is stored.
    pub async fn flush(&self) {
        let (done, wait) = oneshot::channel();
        if self.queue.send(Message::Flush(done)).await.is_ok() {
            let _ = wait.await;
        }
    }
}

/// Cuts `message` to at most `max` bytes (on a character boundary) and says
/// how much was left out and how to keep more.
fn cut(message: &mut String, max: usize) {
    if message.len() <= max {
        return;
    }
    let total = message.len();
    let mut end = max;
    while !message.is_char_boundary(end) {
        end -= 1;
    }
    message.truncate(end);
    message.push_str(&format!(
        "… [cut: this line had {total} bytes and a log line keeps at most {max}; raise the limit with `mortar serve --max-log-line BYTES`]"
    ));
}

async fn write_loop(
    store: Store,
    mut queue: mpsc::Receiver<Message>,
    live: broadcast::Sender<Arc<LogRecord>>,
) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    let mut flushes = Vec::new();
    while let Some(first) = queue.recv().await {
        let mut next = Some(first);
        while let Some(message) = next.take() {
            match message {
                Message::Line(line) => batch.push(line),
                Message::Flush(done) => flushes.push(done),
            }
            if batch.len() < MAX_BATCH {
                next = queue.try_recv().ok();
            }
        }
        if !batch.is_empty() {
            write_batch(&store, std::mem::take(&mut batch), &live).await;
        }
        for done in flushes.drain(..) {
            let _ = done.send(());
        }
    }
}

async fn write_batch(store: &Store, batch: Vec<NewLog>, live: &broadcast::Sender<Arc<LogRecord>>) {
    // A busy database is retried a few times before the batch is given up;
    // the cause goes to the process log.
    let mut delay = std::time::Duration::from_millis(10);
    for attempt in 1..=5 {
        match store.insert_logs(batch.clone()).await {
            Ok(stored) => {
                // Followers on other nodes (PostgreSQL) hear which
                // executions have new lines, once per batch each.
                if store.is_postgres() {
                    let mut executions: Vec<&str> =
                        stored.iter().map(|r| r.execution_id.as_str()).collect();
                    executions.sort_unstable();
                    executions.dedup();
                    for execution in executions {
                        let payload = format!("{} {execution}", crate::cluster::this_process());
                        if let Err(error) = store.notify(crate::cluster::LOGS, &payload).await {
                            tracing::warn!(%error, "cannot tell other nodes of new log lines");
                        }
                    }
                }
                for record in stored {
                    // No follower is not an error.
                    let _ = live.send(Arc::new(record));
                }
                return;
            }
            Err(error) if attempt < 5 => {
                tracing::warn!(%error, attempt, "writing log lines failed; retrying");
                tokio::time::sleep(delay).await;
                delay *= 4;
            }
            Err(error) => {
                tracing::error!(%error, lines = batch.len(), "writing log lines failed; they are lost");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::ExecutionId;
    use crate::log::Level;

    fn line(message: String) -> NewLog {
        NewLog {
            execution_id: ExecutionId::new("e"),
            task_run_id: None,
            task_id: None,
            attempt: None,
            level: Level::Info,
            at: 0,
            message,
        }
    }

    #[tokio::test]
    async fn every_line_is_stored_in_order_and_delivered_live() {
        let store = Store::scratch().await.unwrap();
        let (pipeline, writer) = LogPipeline::start(store.clone());
        let mut live = pipeline.subscribe();
        let sender = pipeline.sender();
        for i in 0..3000 {
            sender.send(line(format!("line {i}"))).await;
        }
        sender.flush().await;
        let stored = store
            .logs(&ExecutionId::new("e"), Level::Trace, 0, 10_000)
            .await
            .unwrap();
        assert_eq!(stored.len(), 3000);
        assert!(
            stored
                .iter()
                .enumerate()
                .all(|(i, r)| r.message == format!("line {i}"))
        );
        for i in 0..3000 {
            assert_eq!(live.recv().await.unwrap().message, format!("line {i}"));
        }
        drop(sender);
        drop(pipeline);
        writer.await.unwrap();
    }

    #[tokio::test]
    async fn a_line_over_the_limit_is_cut_with_a_note() {
        let store = Store::scratch().await.unwrap();
        let (pipeline, _writer) = LogPipeline::with_max_line(store.clone(), 10);
        let sender = pipeline.sender();
        sender.send(line("0123456789".into())).await;
        // 'é' is two bytes: the cut falls before it, not inside it.
        sender.send(line("012345678é and more".into())).await;
        sender.flush().await;
        let stored = store
            .logs(&ExecutionId::new("e"), Level::Trace, 0, 10)
            .await
            .unwrap();
        assert_eq!(stored[0].message, "0123456789");
        assert!(
            stored[1].message.starts_with(
                "012345678… [cut: this line had 20 bytes and a log line keeps at most 10;"
            ),
            "{}",
            stored[1].message
        );
        assert!(stored[1].message.contains("--max-log-line"));
    }
}
