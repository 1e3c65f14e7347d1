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
        // Durations come from user input (emulator_sleep, timeouts): cap
        // them, since Duration::from_secs_f64 panics on overflow and NaN.
        const MAX_SECS: f64 = 1e9;
        let x = secs * self.scale;
        let x = if x.is_nan() {
            0.0
        } else {
            x.clamp(0.0, MAX_SECS)
        };
        Duration::from_secs_f64(x)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scaled_durations_never_panic() {
        let c = Clock::new(0.5);
        assert_eq!(c.scaled(4.0), Duration::from_secs(2));
        assert_eq!(c.scaled(-3.0), Duration::ZERO);
        assert_eq!(c.scaled(f64::NAN), Duration::ZERO);
        assert_eq!(c.scaled(1e300), Duration::from_secs(1_000_000_000));
        assert_eq!(Clock::new(0.0).scaled(1e9), Duration::ZERO);
    }
}
