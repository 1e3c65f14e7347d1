//! A task's `retry`: Kestra's constant, exponential and random policies.

use std::time::Duration;

use serde_json::{Map, Value};

use crate::task::core::parse_duration;

#[derive(Debug, Clone, PartialEq)]
pub struct RetryPolicy {
    kind: Kind,
    /// Attempts in all, the first included.
    max_attempts: u32,
    interval: Duration,
    max_interval: Option<Duration>,
    /// No new attempt once this much time has passed since the first.
    pub max_duration: Option<Duration>,
    /// Kestra's warningOnRetry: a task that succeeds after a retry ends WARNING.
    pub warning_on_retry: bool,
}

#[derive(Debug, Clone, PartialEq)]
enum Kind {
    Constant,
    Exponential { factor: f64 },
    Random { min: Duration, max: Duration },
}

impl RetryPolicy {
    /// No retry: one attempt.
    pub fn none() -> Self {
        Self {
            kind: Kind::Constant,
            max_attempts: 1,
            interval: Duration::ZERO,
            max_interval: None,
            max_duration: None,
            warning_on_retry: false,
        }
    }

    /// Reads a task's `retry` mapping.
    pub fn from_props(props: Option<&Map<String, Value>>) -> Result<Self, String> {
        let Some(props) = props else {
            return Ok(Self::none());
        };
        let duration = |key: &str| -> Result<Option<Duration>, String> {
            props
                .get(key)
                .and_then(Value::as_str)
                .map(|text| parse_duration(text).map_err(|e| format!("retry.{key}: {e}")))
                .transpose()
        };
        let max_attempts = props
            .get("maxAttempt")
            .or_else(|| props.get("maxAttempts"))
            .and_then(|v| v.as_u64().or_else(|| v.as_str()?.parse().ok()))
            .map(|n| n.clamp(1, 1000) as u32);
        let max_duration = duration("maxDuration")?;
        let interval = duration("interval")?.unwrap_or(Duration::from_secs(1));
        let kind = match props
            .get("type")
            .and_then(Value::as_str)
            .unwrap_or("constant")
            .to_ascii_lowercase()
            .as_str()
        {
            "constant" => Kind::Constant,
            "exponential" => Kind::Exponential {
                factor: props
                    .get("delayFactor")
                    .and_then(Value::as_f64)
                    .unwrap_or(2.0)
                    .max(1.0),
            },
            "random" => Kind::Random {
                min: duration("minInterval")?.unwrap_or(Duration::from_secs(1)),
                max: duration("maxInterval")?.unwrap_or(Duration::from_secs(10)),
            },
            other => {
                return Err(format!(
                    "retry.type {other:?} is not constant, exponential or random"
                ));
            }
        };
        Ok(Self {
            kind,
            // With only maxDuration set, attempts are bounded by time alone.
            max_attempts: max_attempts.unwrap_or(if max_duration.is_some() { 1000 } else { 1 }),
            interval,
            max_interval: duration("maxInterval")?,
            warning_on_retry: props
                .get("warningOnRetry")
                .is_some_and(crate::task::core::is_truthy),
            max_duration,
        })
    }

    /// The wait before attempt `next` (2 for the first retry), or `None`
    /// when no attempt is left.
    pub fn delay_before(&self, next: u32, elapsed: Duration) -> Option<Duration> {
        if next > self.max_attempts {
            return None;
        }
        let delay = match &self.kind {
            Kind::Constant => self.interval,
            Kind::Exponential { factor } => self
                .interval
                .mul_f64(factor.powi(next.saturating_sub(2) as i32)),
            Kind::Random { min, max } => {
                let span = max.saturating_sub(*min);
                *min + span.mul_f64(rand::random::<f64>())
            }
        };
        let delay = self.max_interval.map_or(delay, |cap| delay.min(cap));
        match self.max_duration {
            Some(limit) if elapsed + delay > limit => None,
            _ => Some(delay),
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn policy(props: Value) -> RetryPolicy {
        RetryPolicy::from_props(props.as_object()).unwrap()
    }

    #[test]
    fn constant_and_exponential_delays_within_the_attempts() {
        let constant = policy(json!({"type": "constant", "maxAttempt": 3, "interval": "PT2S"}));
        assert_eq!(
            constant.delay_before(2, Duration::ZERO),
            Some(Duration::from_secs(2))
        );
        assert_eq!(
            constant.delay_before(3, Duration::ZERO),
            Some(Duration::from_secs(2))
        );
        assert_eq!(constant.delay_before(4, Duration::ZERO), None);
        let exponential = policy(
            json!({"type": "exponential", "maxAttempt": 5, "interval": "PT1S", "maxInterval": "PT3S"}),
        );
        let delays: Vec<_> = (2..=5)
            .map(|n| {
                exponential
                    .delay_before(n, Duration::ZERO)
                    .unwrap()
                    .as_secs()
            })
            .collect();
        assert_eq!(delays, [1, 2, 3, 3]);
    }

    #[test]
    fn max_duration_stops_retries() {
        let limited =
            policy(json!({"type": "constant", "interval": "PT10S", "maxDuration": "PT15S"}));
        assert_eq!(
            limited.delay_before(2, Duration::from_secs(1)),
            Some(Duration::from_secs(10))
        );
        assert_eq!(limited.delay_before(3, Duration::from_secs(11)), None);
        assert_eq!(RetryPolicy::none().delay_before(2, Duration::ZERO), None);
        assert!(RetryPolicy::from_props(json!({"type": "sometimes"}).as_object()).is_err());
    }
}
