//! Identifiers. Each is a newtype so that a flow id can never be passed where
//! a namespace is expected.

use std::fmt;

use serde::{Deserialize, Serialize};

macro_rules! string_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            pub fn new(value: impl Into<String>) -> Self {
                Self(value.into())
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

string_id!(
    /// A flow's namespace, such as `company.team`.
    Namespace
);
string_id!(
    /// A flow's id, unique within its namespace.
    FlowId
);
string_id!(
    /// An execution's id: 22 base-62 characters that sort by creation time.
    ExecutionId
);
string_id!(
    /// A task run's id, same form as an execution's.
    TaskRunId
);
string_id!(
    /// A task's id, unique within its flow.
    TaskId
);

/// A namespace secret's name, as `secret('NAME')` reads it: letters,
/// digits, `_`, `-` and `.`, a letter, digit or `_` first, at most
/// [`SecretName::MAX`] characters (names that are also valid in an
/// environment variable's `SECRET_<NAME>` need nothing else).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(transparent)]
pub struct SecretName(String);

impl SecretName {
    pub const MAX: usize = 128;

    /// The name, or what is wrong with it.
    pub fn parse(name: &str) -> Result<Self, String> {
        if name.is_empty() {
            return Err("a secret's name is empty: use letters, digits, `_`, `-` and `.`".into());
        }
        if name.len() > Self::MAX {
            return Err(format!(
                "the secret name is {} characters long; at most {}",
                name.len(),
                Self::MAX
            ));
        }
        let chars_ok = name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_-.".contains(c));
        let first_ok = name.starts_with(|c: char| c.is_ascii_alphanumeric() || c == '_');
        if !chars_ok || !first_ok {
            return Err(format!(
                "secret name {name:?} must start with a letter, digit or `_` and have only letters, digits, `_`, `-` and `.`"
            ));
        }
        Ok(Self(name.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for SecretName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The longest namespace, flow id and id (Kestra's lengths).
pub const MAX_NAMESPACE: usize = 150;
pub const MAX_FLOW_ID: usize = 100;
pub const MAX_ID: usize = 256;

/// Kestra's namespace pattern, `^[a-z0-9][a-z0-9._-]*`, at most 150
/// characters. `Err` is the rule in words, for a message that names the
/// parameter. Every check here keeps `/`, `\`, `%`, NUL and a leading `.`
/// out, so a checked id is one path segment and never a move.
pub fn check_namespace(value: &str) -> Result<(), String> {
    let chars_ok = value
        .chars()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "._-".contains(c));
    let first_ok = value.starts_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit());
    if !chars_ok || !first_ok {
        return Err(format!(
            "namespace {value:?} must start with a lower-case letter or digit and have only lower-case letters, digits, `.`, `_` and `-`"
        ));
    }
    if value.len() > MAX_NAMESPACE {
        return Err(format!(
            "namespace is {} characters long; at most {MAX_NAMESPACE}",
            value.len()
        ));
    }
    Ok(())
}

/// Kestra's flow id pattern, `^[a-zA-Z0-9][a-zA-Z0-9._-]*`, at most 100 characters.
pub fn check_flow_id(value: &str) -> Result<(), String> {
    let chars_ok = value
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c));
    let first_ok = value.starts_with(|c: char| c.is_ascii_alphanumeric());
    if !chars_ok || !first_ok {
        return Err(format!(
            "flow id {value:?} must start with a letter or digit and have only letters, digits, `.`, `_` and `-`"
        ));
    }
    if value.len() > MAX_FLOW_ID {
        return Err(format!(
            "flow id is {} characters long; at most {MAX_FLOW_ID}",
            value.len()
        ));
    }
    Ok(())
}

/// Kestra's id pattern (tasks, triggers, executions, task runs),
/// `^[a-zA-Z0-9][a-zA-Z0-9_-]*`, at most 256 characters; `what` names it.
pub fn check_id(what: &str, value: &str) -> Result<(), String> {
    let chars_ok = value
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    let first_ok = value.starts_with(|c: char| c.is_ascii_alphanumeric());
    if !chars_ok || !first_ok {
        return Err(format!(
            "{what} {value:?} must start with a letter or digit and have only letters, digits, `_` and `-`"
        ));
    }
    if value.len() > MAX_ID {
        return Err(format!(
            "{what} is {} characters long; at most {MAX_ID}",
            value.len()
        ));
    }
    Ok(())
}

#[cfg(feature = "runtime")]
impl ExecutionId {
    /// A new id, later ones sorting after earlier ones.
    pub fn generate() -> Self {
        Self(sortable_id())
    }
}

#[cfg(feature = "runtime")]
impl TaskRunId {
    pub fn generate() -> Self {
        Self(sortable_id())
    }
}

/// A UUIDv7 (time first, then random bits) written in base 62 with a fixed
/// width, so string order is creation order, as Kestra's ids are short.
#[cfg(feature = "runtime")]
fn sortable_id() -> String {
    const DIGITS: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    let mut value = uuid::Uuid::now_v7().as_u128();
    let mut out = [b'0'; 22];
    for slot in out.iter_mut().rev() {
        *slot = DIGITS[(value % 62) as usize];
        value /= 62;
    }
    String::from_utf8(out.to_vec()).unwrap_or_default()
}

#[cfg(test)]
mod checks {
    use super::*;

    #[test]
    fn secret_names_follow_the_rules() {
        for good in ["TOKEN", "my-key", "a.b_c", "_X", "9lives"] {
            assert!(SecretName::parse(good).is_ok(), "{good}");
        }
        for (bad, says) in [
            ("", "empty"),
            ("-x", "must start"),
            ("a b", "must start"),
            ("é", "must start"),
            (&"x".repeat(129), "at most 128"),
        ] {
            let message = SecretName::parse(bad).unwrap_err();
            assert!(message.contains(says), "{bad}: {message}");
        }
    }

    #[test]
    fn namespaces_follow_kestras_rules() {
        assert_eq!(check_namespace("company.team-1_x"), Ok(()));
        assert!(
            check_namespace("Company")
                .unwrap_err()
                .contains("must start")
        );
        assert!(check_namespace("").unwrap_err().contains("must start"));
        assert!(
            check_namespace(&"n".repeat(151))
                .unwrap_err()
                .contains("at most 150")
        );
    }
}

#[cfg(test)]
mod rule_tests {
    use super::*;

    #[test]
    fn ids_that_could_be_paths_are_refused() {
        for bad in [
            "", "..", "../x", "a/b", "a\\b", "%2e%2e", "a\0b", ".hidden", "/abs", "A.Upper",
        ] {
            assert!(check_namespace(bad).is_err(), "{bad}");
        }
        assert!(check_namespace("company.team_1-x").is_ok());
        assert!(check_flow_id("My.flow-1").is_ok());
        assert!(check_flow_id("..").is_err() && check_flow_id(&"a".repeat(101)).is_err());
        assert!(check_id("execution id", "2Kx9abcDEF_-").is_ok());
        assert!(
            check_id("execution id", "a.b")
                .unwrap_err()
                .contains("execution id \"a.b\" must start")
        );
    }
}

#[cfg(all(test, feature = "runtime"))]
mod tests {
    use super::*;

    #[test]
    fn generated_ids_are_unique_fixed_width_and_sort_by_time() {
        let ids: Vec<String> = (0..1000).map(|_| ExecutionId::generate().0).collect();
        assert!(
            ids.iter()
                .all(|id| id.len() == 22 && id.chars().all(|c| c.is_ascii_alphanumeric()))
        );
        let mut sorted = ids.clone();
        sorted.sort();
        sorted.dedup();
        assert_eq!(sorted.len(), ids.len());
        // v7 orders by millisecond; within one, the random bits decide, so
        // compare ids made a few milliseconds apart.
        let first = ExecutionId::generate();
        std::thread::sleep(std::time::Duration::from_millis(3));
        assert!(ExecutionId::generate() > first);
    }
}
