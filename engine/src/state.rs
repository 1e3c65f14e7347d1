//! The states of an execution and of a task run, and the one function that
//! owns their transitions. Kestra's names, so the API and the UI speak
//! Kestra's language.

use std::fmt;

use serde::{Deserialize, Serialize};

/// The state of an execution or of a task run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum State {
    Created,
    Running,
    Paused,
    /// Waiting for the next attempt after a failed one.
    Retrying,
    Success,
    /// Ended, but something allowed to fail did fail.
    Warning,
    Failed,
    Killing,
    Killed,
    /// Not run: disabled, or its `runIf` was false.
    Skipped,
}

/// What happens to a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event {
    Start,
    Succeed,
    Warn,
    Fail,
    /// A failed attempt that will be tried again.
    Retry,
    Pause,
    Resume,
    /// Kill was asked: cancel what runs.
    Kill,
    /// What was running has stopped after a kill.
    Stopped,
    Skip,
    /// Restart a failed or killed run from where it failed.
    Restart,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("cannot {event:?} a run that is {state}")]
pub struct IllegalTransition {
    pub state: State,
    pub event: Event,
}

impl State {
    pub const ALL: [State; 10] = [
        State::Created,
        State::Running,
        State::Paused,
        State::Retrying,
        State::Success,
        State::Warning,
        State::Failed,
        State::Killing,
        State::Killed,
        State::Skipped,
    ];

    /// The state after `event`, or why it cannot happen.
    pub fn on(self, event: Event) -> Result<State, IllegalTransition> {
        use {Event as E, State as S};
        match (self, event) {
            (S::Created, E::Start) => Ok(S::Running),
            (S::Created, E::Skip) => Ok(S::Skipped),
            // A run that never started is killed at once: nothing to cancel.
            (S::Created, E::Kill) => Ok(S::Killed),
            // Bad inputs fail an execution before it starts.
            (S::Created, E::Fail) => Ok(S::Failed),
            (S::Running, E::Succeed) => Ok(S::Success),
            (S::Running, E::Warn) => Ok(S::Warning),
            (S::Running, E::Fail) => Ok(S::Failed),
            (S::Running, E::Retry) => Ok(S::Retrying),
            (S::Running, E::Pause) => Ok(S::Paused),
            (S::Running | S::Retrying | S::Paused, E::Kill) => Ok(S::Killing),
            (S::Retrying, E::Start) => Ok(S::Running),
            (S::Retrying, E::Fail) => Ok(S::Failed),
            (S::Paused, E::Resume) => Ok(S::Running),
            (S::Killing, E::Stopped) => Ok(S::Killed),
            // A kill asked twice is still one kill.
            (S::Killing, E::Kill) => Ok(S::Killing),
            (S::Failed | S::Killed | S::Warning, E::Restart) => Ok(S::Running),
            (state, event) => Err(IllegalTransition { state, event }),
        }
    }

    /// Nothing more happens to a run in this state (until a restart).
    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            State::Success | State::Warning | State::Failed | State::Killed | State::Skipped
        )
    }

    /// The run ended well enough for what depends on it to go on.
    pub fn is_successful(self) -> bool {
        matches!(self, State::Success | State::Warning | State::Skipped)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            State::Created => "CREATED",
            State::Running => "RUNNING",
            State::Paused => "PAUSED",
            State::Retrying => "RETRYING",
            State::Success => "SUCCESS",
            State::Warning => "WARNING",
            State::Failed => "FAILED",
            State::Killing => "KILLING",
            State::Killed => "KILLED",
            State::Skipped => "SKIPPED",
        }
    }

    pub fn parse(text: &str) -> Option<State> {
        State::ALL
            .into_iter()
            .find(|s| s.as_str().eq_ignore_ascii_case(text))
    }
}

impl fmt::Display for State {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::{Event as E, State as S};

    fn check(path: &[E], expected: Result<S, (S, E)>) {
        let mut state = S::Created;
        for &event in path {
            match state.on(event) {
                Ok(next) => state = next,
                Err(err) => {
                    assert_eq!(Err((err.state, err.event)), expected, "path {path:?}");
                    return;
                }
            }
        }
        assert_eq!(Ok(state), expected, "path {path:?}");
    }

    #[test]
    fn the_life_cycles_that_happen() {
        check(&[E::Start, E::Succeed], Ok(S::Success));
        check(&[E::Start, E::Warn], Ok(S::Warning));
        check(&[E::Start, E::Retry, E::Start, E::Fail], Ok(S::Failed));
        check(&[E::Start, E::Kill, E::Stopped], Ok(S::Killed));
        check(&[E::Start, E::Fail, E::Restart, E::Succeed], Ok(S::Success));
        check(&[E::Kill], Ok(S::Killed));
        check(&[E::Skip], Ok(S::Skipped));
        check(&[E::Start, E::Pause, E::Resume, E::Succeed], Ok(S::Success));
    }

    #[test]
    fn the_ones_that_cannot() {
        check(&[E::Succeed], Err((S::Created, E::Succeed)));
        check(&[E::Start, E::Succeed, E::Fail], Err((S::Success, E::Fail)));
        check(
            &[E::Start, E::Succeed, E::Restart],
            Err((S::Success, E::Restart)),
        );
        check(
            &[E::Start, E::Kill, E::Succeed],
            Err((S::Killing, E::Succeed)),
        );
        check(&[E::Skip, E::Start], Err((S::Skipped, E::Start)));
    }

    #[test]
    fn names_round_trip() {
        for state in S::ALL {
            assert_eq!(S::parse(state.as_str()), Some(state));
            assert_eq!(serde_json::to_value(state).unwrap(), state.as_str());
        }
        assert_eq!(S::parse("nope"), None);
    }
}
