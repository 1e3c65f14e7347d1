//! Who may do what: users, their roles on namespaces, and the checks every
//! door (REST, server functions, pages) makes with one [`Principal`].
//!
//! The model builds for wasm too: the browser hides what a role cannot do
//! with the same rules the server enforces.

#[cfg(feature = "runtime")]
pub mod password;
#[cfg(feature = "runtime")]
pub mod token;

use std::fmt;

use serde::{Deserialize, Serialize};

/// A role, each one allowing what the ones before it allow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Reads flows, executions, logs, outputs and KV.
    Viewer,
    /// Also executes, kills, restarts, replays and resumes executions.
    Operator,
    /// Also saves and deletes flows and namespace files, writes KV, and lists
    /// the names of secrets that flows use.
    Editor,
    /// Also sets and deletes secrets; granted on every namespace, manages
    /// users and reads the audit log.
    Admin,
}

impl Role {
    pub const ALL: [Role; 4] = [Role::Viewer, Role::Operator, Role::Editor, Role::Admin];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Viewer => "viewer",
            Role::Operator => "operator",
            Role::Editor => "editor",
            Role::Admin => "admin",
        }
    }

    /// What the role adds, for help texts and the users page.
    pub fn doc(self) -> &'static str {
        match self {
            Role::Viewer => "read flows, executions, logs, outputs and KV",
            Role::Operator => "execute, kill, restart, replay and resume executions",
            Role::Editor => "save and delete flows, write KV, list secret names",
            Role::Admin => "set and delete secrets; on every namespace: users and the audit log",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for Role {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        Role::ALL
            .into_iter()
            .find(|r| r.as_str().eq_ignore_ascii_case(text.trim()))
            .ok_or_else(|| {
                format!("unknown role {text:?}: use one of viewer, operator, editor, admin")
            })
    }
}

/// A role on every namespace (`namespace: None`) or on a namespace and the
/// ones under it (`company.data` covers `company.data.sales`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Grant {
    pub role: Role,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
}

impl Grant {
    /// Whether this grant covers `namespace` (`None`: the grant must cover
    /// every namespace).
    pub fn covers(&self, namespace: Option<&str>) -> bool {
        match (&self.namespace, namespace) {
            (None, _) => true,
            (Some(_), None) => false,
            (Some(prefix), Some(namespace)) => {
                namespace == prefix
                    || (namespace.starts_with(prefix.as_str())
                        && namespace.as_bytes().get(prefix.len()) == Some(&b'.'))
            }
        }
    }
}

impl fmt::Display for Grant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.namespace {
            None => write!(f, "{}", self.role),
            Some(namespace) => write!(f, "{}:{namespace}.*", self.role),
        }
    }
}

impl std::str::FromStr for Grant {
    type Err = String;

    /// `editor` (every namespace) or `editor:company.data` /
    /// `editor:company.data.*` (that namespace and those under it).
    fn from_str(text: &str) -> Result<Self, String> {
        let (role, namespace) = match text.split_once(':') {
            Some((role, namespace)) => (role, Some(namespace.trim())),
            None => (text, None),
        };
        let role: Role = role.parse()?;
        let namespace = match namespace {
            None | Some("*") => None,
            Some(namespace) => {
                let prefix = namespace.strip_suffix(".*").unwrap_or(namespace);
                if crate::ids::check_namespace(prefix).is_err() {
                    return Err(format!(
                        "{text:?}: the namespace of a grant is written like company.data or company.data.* (lower-case letters, digits, _, - and dots)"
                    ));
                }
                Some(prefix.to_owned())
            }
        };
        Ok(Grant { role, namespace })
    }
}

/// The address a request came from, as the server saw it (kept in the
/// request's extensions for the audit log).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Address(pub std::net::IpAddr);

/// How a request proved who it is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Credential {
    /// A browser session (the digest of its cookie); state-changing
    /// requests must carry its CSRF token.
    Session { csrf: String, digest: String },
    /// `Authorization: Bearer` with an API token.
    Token { id: String },
    /// `Authorization: Basic` with the user's password.
    Password,
}

/// The user behind a request, with what they were granted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Principal {
    pub user: String,
    pub grants: Vec<Grant>,
    pub credential: Credential,
}

/// A refusal, naming the role that is missing.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{user} needs the {role} role on {scope} to do this (granted: {granted})")]
pub struct Denied {
    pub user: String,
    pub role: Role,
    pub scope: String,
    pub granted: String,
}

impl Principal {
    /// Whether the user holds `role` (or a higher one) on `namespace`
    /// (`None`: on every namespace).
    pub fn can(&self, role: Role, namespace: Option<&str>) -> bool {
        self.grants
            .iter()
            .any(|g| g.role >= role && g.covers(namespace))
    }

    /// As [`Principal::can`], as an error that says what is missing.
    pub fn require(&self, role: Role, namespace: Option<&str>) -> Result<(), Denied> {
        if self.can(role, namespace) {
            return Ok(());
        }
        let granted = if self.grants.is_empty() {
            "none".to_owned()
        } else {
            self.grants
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        };
        Err(Denied {
            user: self.user.clone(),
            role,
            scope: namespace.map_or_else(
                || "every namespace".to_owned(),
                |n| format!("namespace {n}"),
            ),
            granted,
        })
    }

    /// The namespaces (with those under them) where the user holds `role`;
    /// `None` when that is every namespace. Lists are filtered with it.
    pub fn scopes(&self, role: Role) -> Option<Vec<String>> {
        let mut prefixes = Vec::new();
        for grant in self.grants.iter().filter(|g| g.role >= role) {
            match &grant.namespace {
                None => return None,
                Some(prefix) => prefixes.push(prefix.clone()),
            }
        }
        Some(prefixes)
    }

    /// The CSRF token of a browser session.
    pub fn csrf(&self) -> Option<&str> {
        match &self.credential {
            Credential::Session { csrf, .. } => Some(csrf),
            _ => None,
        }
    }
}

/// Whether `namespace` is one of `scopes` or under one (for lists filtered
/// with [`Principal::scopes`]).
pub fn in_scopes(scopes: Option<&[String]>, namespace: &str) -> bool {
    match scopes {
        None => true,
        Some(prefixes) => prefixes.iter().any(|p| {
            Grant {
                role: Role::Viewer,
                namespace: Some(p.clone()),
            }
            .covers(Some(namespace))
        }),
    }
}

/// A user name: what Kestra accepts for a namespace segment, so that it
/// fits in URLs and logs unquoted (letters, digits, `_`, `-`, `.`, `@`).
pub fn check_user_name(name: &str) -> Result<(), String> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | '@'))
        && name
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphanumeric());
    if ok {
        Ok(())
    } else {
        Err(format!(
            "user name {name:?}: use 1 to 64 letters, digits, _, -, . or @, starting with a letter or digit"
        ))
    }
}

/// The shortest password accepted.
pub const MIN_PASSWORD: usize = 8;

/// A password must be long enough; anything else is the user's choice.
pub fn check_password(password: &str) -> Result<(), String> {
    if password.chars().count() < MIN_PASSWORD {
        return Err(format!(
            "the password must have at least {MIN_PASSWORD} characters"
        ));
    }
    if password.len() > 1024 {
        return Err("the password must have at most 1024 bytes".into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn principal(grants: &[&str]) -> Principal {
        Principal {
            user: "ann".into(),
            grants: grants.iter().map(|g| g.parse().unwrap()).collect(),
            credential: Credential::Password,
        }
    }

    #[test]
    fn grants_parse_and_print() {
        assert_eq!(
            "admin".parse::<Grant>().unwrap(),
            Grant {
                role: Role::Admin,
                namespace: None
            }
        );
        assert_eq!(
            "editor:company.data.*".parse::<Grant>().unwrap(),
            Grant {
                role: Role::Editor,
                namespace: Some("company.data".into())
            }
        );
        assert_eq!(
            "editor:company.data".parse::<Grant>().unwrap().to_string(),
            "editor:company.data.*"
        );
        assert!(
            "owner"
                .parse::<Grant>()
                .unwrap_err()
                .contains("viewer, operator, editor, admin")
        );
        assert!("viewer:a b".parse::<Grant>().is_err());
    }

    #[test]
    fn a_prefix_covers_its_namespace_and_those_under_it_only() {
        let p = principal(&["editor:a"]);
        assert!(p.can(Role::Editor, Some("a")));
        assert!(p.can(Role::Viewer, Some("a.x.y")));
        assert!(!p.can(Role::Editor, Some("ab")));
        assert!(!p.can(Role::Editor, Some("b.x")));
        assert!(!p.can(Role::Admin, Some("a")));
        assert!(!p.can(Role::Viewer, None));
        let denied = p
            .require(Role::Editor, Some("b.x"))
            .unwrap_err()
            .to_string();
        assert_eq!(
            denied,
            "ann needs the editor role on namespace b.x to do this (granted: editor:a.*)"
        );
    }

    #[test]
    fn roles_include_the_lower_ones() {
        let p = principal(&["operator"]);
        assert!(p.can(Role::Viewer, Some("x")) && p.can(Role::Operator, None));
        assert!(!p.can(Role::Editor, Some("x")));
        assert_eq!(p.scopes(Role::Viewer), None);
        assert_eq!(p.scopes(Role::Editor), Some(vec![]));
        let q = principal(&["viewer:a", "editor:b"]);
        assert_eq!(
            q.scopes(Role::Viewer),
            Some(vec!["a".to_owned(), "b".to_owned()])
        );
        assert!(in_scopes(Some(&["a".to_owned()]), "a.b"));
        assert!(!in_scopes(Some(&["a".to_owned()]), "ab"));
    }
}
