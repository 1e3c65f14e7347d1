//! Waiting on Databricks: polling with a delay that starts short (a quick
//! operation is noticed quickly) and grows to a cap (a long one costs few
//! requests). Never a busy loop, never a fixed long sleep.

use std::time::Duration;

#[derive(Debug, Clone)]
pub struct PollBackoff {
    next: Duration,
    factor: f64,
    cap: Duration,
}

impl PollBackoff {
    /// 250 ms, growing by half each time, capped at 5 s: a long wait costs
    /// at most one request per 5 s.
    pub fn new() -> Self {
        Self::with(Duration::from_millis(250), 1.5, Duration::from_secs(5))
    }

    pub fn with(first: Duration, factor: f64, cap: Duration) -> Self {
        Self {
            next: first.min(cap),
            factor: factor.max(1.0),
            cap,
        }
    }

    /// The delay before the next poll.
    pub fn next_delay(&mut self) -> Duration {
        let delay = self.next;
        self.next = self.next.mul_f64(self.factor).min(self.cap);
        delay
    }
}

impl Default for PollBackoff {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grows_to_the_cap() {
        let mut backoff = PollBackoff::new();
        let delays: Vec<u128> = (0..12).map(|_| backoff.next_delay().as_millis()).collect();
        assert_eq!(&delays[..4], &[250, 375, 562, 843]);
        assert_eq!(*delays.last().unwrap(), 5000);
        assert!(delays.windows(2).all(|w| w[0] <= w[1]));
    }
}
