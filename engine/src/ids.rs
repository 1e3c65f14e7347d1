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

/// Kestra's rule for a namespace: letters, digits, `_`, `-` and dots.
pub fn is_namespace(value: &str) -> bool {
    !value.is_empty() && value.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-' || c == '.')
}

/// Kestra's rule for a flow id: letters, digits, `_` and `-`.
pub fn is_id(value: &str) -> bool {
    !value.is_empty() && value.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
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

#[cfg(all(test, feature = "runtime"))]
mod tests {
    use super::*;

    #[test]
    fn generated_ids_are_unique_fixed_width_and_sort_by_time() {
        let ids: Vec<String> = (0..1000).map(|_| ExecutionId::generate().0).collect();
        assert!(ids.iter().all(|id| id.len() == 22 && id.chars().all(|c| c.is_ascii_alphanumeric())));
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
