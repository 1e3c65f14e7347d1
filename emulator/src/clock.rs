//! The simulated clock. Timestamps are real epoch milliseconds (clients
//! compare them with their own clocks); only the simulated durations of
//! life cycles are multiplied by `time_scale`.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

#[derive(Debug, Clone, Copy)]
pub(crate) struct Clock {
    scale: f64,
}

impl Clock {
    pub fn new(scale: f64) -> Self {
        Self {
            scale: if scale.is_finite() && scale >= 0.0 {
                scale
            } else {
                1.0
            },
        }
    }
    /// Epoch milliseconds now.
    pub fn now_ms(&self) -> i64 {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_millis() as i64)
            .unwrap_or(0)
    }
    /// A simulated duration of `secs` seconds, scaled.
    pub fn scaled(&self, secs: f64) -> Duration {
        Duration::from_secs_f64((secs * self.scale).max(0.0))
    }
    /// Sleeps for a simulated duration. With a zero scale it still yields,
    /// so a transition is never visible before the request that caused it
    /// has answered.
    pub async fn sleep(&self, secs: f64) {
        let d = self.scaled(secs);
        if d.is_zero() {
            tokio::task::yield_now().await;
        } else {
            tokio::time::sleep(d).await;
        }
    }
}
