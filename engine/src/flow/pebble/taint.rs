//! Which values derive from a secret. Masking replaces exact strings, so
//! `secret('X') | upper` would print the secret in upper case for anyone
//! to read; instead the evaluator carries a [`Taint`] with every value,
//! and each string it produces from a tainted operand is added to the
//! execution's masker, which then hides it in logs, outputs and errors as
//! it hides the secret. The task itself still receives the real value:
//! masking is for what is shown or stored.
//!
//! Sources: `secret()`'s result, `inputs.<id>` for a SECRET input, and
//! the whole context (`printContext()`) or the whole `inputs` map when
//! there are SECRET inputs. Every operator, filter, function, test,
//! attribute or index access, concatenation and interpolation with a
//! tainted operand gives a tainted result.
//!
//! Deliberately not tracked: what a secret decides without flowing into
//! the value (`secret('X') startsWith 'a' ? 'yes' : 'no'`, an `if` on
//! it), and numbers and booleans derived from one (`| length`): they are
//! short and common, and masking `8` or `true` in every line would hide
//! everything else. A one-character string is not masked either (as
//! `Masker::add`).
//!
//! What is added is a string the evaluator *produced*; the strings of a
//! list or map built around a secret (`{'type': 'Bearer', 'token':
//! secret('X')}`) are not, since only the secret in it is secret, and it
//! is registered already. A container a filter or function derived from a
//! tainted string (`secret('X') | split(':')`, `| fromJson`) has every
//! string in it added. The taint is one bit per value, not per item: an
//! item read from a tainted list or map is tainted, so a filter on it
//! (`{'type': 'Bearer', 'token': secret('X')}.type | lower`) is masked too,
//! which errs on the side of hiding.

use serde_json::Value;

use super::eval::EvalError;
use crate::flow::expr::{MAX_MASKED, Masker};

/// Whether a value derives from a secret.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) enum Taint {
    #[default]
    Clean,
    Secret,
    /// The `inputs` map of an execution with SECRET inputs: reading one of
    /// those gives a secret, another input is clean, and any other use of
    /// the whole map is tainted.
    Inputs,
}

impl Taint {
    pub(crate) fn is_secret(self) -> bool {
        self != Taint::Clean
    }

    /// The taint of a value computed from two others.
    pub(crate) fn or(self, other: Taint) -> Taint {
        if self.is_secret() || other.is_secret() {
            Taint::Secret
        } else {
            Taint::Clean
        }
    }

    /// The taint of `object.name` for an object with this taint.
    pub(crate) fn member(self, name: &str, secret_inputs: &[String]) -> Taint {
        match self {
            // A dotted SECRET input `creds.token` taints all of `inputs.creds`.
            Taint::Inputs
                if secret_inputs.iter().any(|id| {
                    id == name
                        || id
                            .strip_prefix(name)
                            .is_some_and(|rest| rest.starts_with('.'))
                }) =>
            {
                Taint::Secret
            }
            Taint::Inputs => Taint::Clean,
            other => other,
        }
    }
}

/// Adds a produced value's strings to the masker: a string itself; the
/// strings (keys too, as `Masker::mask_value` masks keys) of a list or map
/// when `whole` (it was derived from a tainted string).
pub(crate) fn register(masker: &Masker, value: &Value, whole: bool) -> Result<(), EvalError> {
    match value {
        Value::String(text) if !masker.add_derived(text) => Err(EvalError::Limit {
            name: "strings derived from secrets",
            limit: MAX_MASKED as u64,
        }),
        Value::Array(items) if whole => items
            .iter()
            .try_for_each(|item| register(masker, item, true)),
        Value::Object(map) if whole => map.iter().try_for_each(|(key, item)| {
            register(masker, &Value::String(key.clone()), true)?;
            register(masker, item, true)
        }),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::super::{Limits, Template};
    use crate::flow::expr::{Host, MASK, Masker};

    const SECRET: &str = "dapi-S3cr3t:Tok3n";

    struct TestHost;

    impl Host for TestHost {
        fn secret(&self, name: &str) -> Option<String> {
            (name == "TOKEN").then(|| SECRET.to_owned())
        }
        fn now(&self) -> jiff::Timestamp {
            jiff::Timestamp::UNIX_EPOCH
        }
        fn read(&self, uri: &str) -> Result<String, String> {
            Err(format!("{uri} cannot be read here"))
        }
    }

    fn context() -> Value {
        json!({"inputs": {"password": "hunter2-Pass", "name": "World"}, "vars": {"prefix": "Bearer"}})
    }

    /// Renders `template` with a fresh masker (`password` is a SECRET
    /// input), then checks that the rendered text was `derived` (so the
    /// task gets the real value), and that masking a line quoting it hides
    /// it whole.
    fn check(template: &str, derived: &str) {
        let masker = Masker::default();
        let rendered = Template::parse(template)
            .unwrap()
            .render(
                &context(),
                &TestHost,
                &masker,
                &["password".to_owned()],
                &Limits::default(),
            )
            .unwrap();
        assert_eq!(rendered, derived, "{template}");
        assert_eq!(
            masker.mask(&format!("got <{derived}>")),
            format!("got <{MASK}>"),
            "{template}"
        );
    }

    #[test]
    fn strings_derived_from_a_secret_are_masked_like_it() {
        check("{{ secret('TOKEN') }}", SECRET);
        check("{{ secret('TOKEN') | upper }}", "DAPI-S3CR3T:TOK3N");
        check("{{ secret('TOKEN') | lower }}", "dapi-s3cr3t:tok3n");
        check("{{ secret('TOKEN') | reverse }}", "n3koT:t3rc3S-ipad");
        check("{{ secret('TOKEN') | title }}", "Dapi-S3cr3t:Tok3n");
        check("{{ secret('TOKEN') | slice(0, 7) }}", "dapi-S3");
        check(
            "{{ secret('TOKEN') | substringAfter('-') }}",
            "S3cr3t:Tok3n",
        );
        check(
            "{{ secret('TOKEN') | replace({'S3': 'xx'}) }}",
            "dapi-xxcr3t:Tok3n",
        );
        check(
            "{{ secret('TOKEN') | base64encode }}",
            "ZGFwaS1TM2NyM3Q6VG9rM24=",
        );
        check("{{ secret('TOKEN') | toJson }}", "\"dapi-S3cr3t:Tok3n\"");
        check("{{ ('  ' ~ secret('TOKEN') ~ ' ') | trim }}", SECRET);
        check("{{ 'pre' ~ secret('TOKEN') }}", "predapi-S3cr3t:Tok3n");
        check("{{ 'pre' + secret('TOKEN') }}", "predapi-S3cr3t:Tok3n");
        check(
            "{{ \"pre#{secret('TOKEN') | lower}\" }}",
            "predapi-s3cr3t:tok3n",
        );
        check("{{ secret('TOKEN') | split(':') | last }}", "Tok3n");
        check(
            "{{ secret('TOKEN') | split(':') | join('/') }}",
            "dapi-S3cr3t/Tok3n",
        );
        check(
            "{{ [secret('TOKEN') | upper, 'x'] | first }}",
            "DAPI-S3CR3T:TOK3N",
        );
        check(
            "{{ {'t': secret('TOKEN')} | toJson }}",
            "{\"t\":\"dapi-S3cr3t:Tok3n\"}",
        );
        check(
            "{{ {'t': secret('TOKEN')}.t | capitalize }}",
            "Dapi-S3cr3t:Tok3n",
        );
        check(
            "{{ secret('TOKEN') | default('x') | upper }}",
            "DAPI-S3CR3T:TOK3N",
        );
        check(
            "{{ true ? secret('TOKEN') | upper : 'no' }}",
            "DAPI-S3CR3T:TOK3N",
        );
        check(
            "{% set t = secret('TOKEN') %}{{ t | upper }}",
            "DAPI-S3CR3T:TOK3N",
        );
        check(
            "{% for p in secret('TOKEN') | split(':') %}{% if loop.last %}{{ p | upper }}{% endif %}{% endfor %}",
            "TOK3N",
        );
        check(
            "{% filter upper %}{{ secret('TOKEN') }}{% endfilter %}",
            "DAPI-S3CR3T:TOK3N",
        );
        check(
            "{{ render('{{ secret(\"TOKEN\") }}') | lower }}",
            "dapi-s3cr3t:tok3n",
        );
        check("{{ inputs.password | upper }}", "HUNTER2-PASS");
        check("{{ inputs['password'] | reverse }}", "ssaP-2retnuh");
        check(
            "{{ inputs | toJson }}",
            "{\"name\":\"World\",\"password\":\"hunter2-Pass\"}",
        );
        check(
            "{{ printContext().inputs.password | upper }}",
            "HUNTER2-PASS",
        );
    }

    #[test]
    fn a_derived_value_in_a_larger_text_is_masked_and_the_rest_is_not() {
        let masker = Masker::default();
        let template =
            Template::parse("Bearer {{ secret('TOKEN') | lower }} for {{ inputs.name | upper }}")
                .unwrap();
        let rendered = template
            .render(
                &context(),
                &TestHost,
                &masker,
                &["password".to_owned()],
                &Limits::default(),
            )
            .unwrap();
        assert_eq!(rendered, "Bearer dapi-s3cr3t:tok3n for WORLD");
        assert_eq!(masker.mask(&rendered), "Bearer ****** for WORLD");
    }

    #[test]
    fn values_without_a_secret_are_not_masked() {
        let masker = Masker::default();
        let template = "{{ inputs.name | upper }} {{ vars.prefix ~ '-x' }} {{ {'kind': 'Bearer', 't': secret('TOKEN')}.kind }} \
                        {{ secret('TOKEN') | length }} {{ inputs.password is defined ? 'yes' : 'no' }} {{ secret('TOKEN') | first }}";
        let rendered = Template::parse(template)
            .unwrap()
            .render(
                &context(),
                &TestHost,
                &masker,
                &["password".to_owned()],
                &Limits::default(),
            )
            .unwrap();
        assert_eq!(rendered, "WORLD Bearer-x Bearer 17 yes d");
        // The secret itself is known, and nothing else: the map built
        // around it, its length and the `yes` it decided stay readable.
        assert_eq!(masker.mask(&rendered), rendered);
        assert_eq!(masker.mask(SECRET), MASK);
    }

    #[test]
    fn without_secret_inputs_an_input_is_clean() {
        let masker = Masker::default();
        let rendered = Template::parse("{{ inputs.password | upper }}")
            .unwrap()
            .render(&context(), &TestHost, &masker, &[], &Limits::default())
            .unwrap();
        assert_eq!(rendered, "HUNTER2-PASS");
        assert!(masker.is_empty());
    }

    #[test]
    fn an_error_quoting_a_derived_value_can_be_masked() {
        let masker = Masker::default();
        let error = Template::parse("{{ secret('TOKEN') | upper | number }}")
            .unwrap()
            .render(&context(), &TestHost, &masker, &[], &Limits::default())
            .unwrap_err()
            .to_string();
        assert!(
            error.contains("DAPI-S3CR3T"),
            "the message quotes it before masking: {error}"
        );
        assert!(
            !masker.mask(&error).contains("DAPI"),
            "{}",
            masker.mask(&error)
        );
    }

    #[test]
    fn deriving_too_many_strings_fails_the_render() {
        let masker = Masker::default();
        let error =
            Template::parse("{% for i in range(1, 2000) %}{{ secret('TOKEN') ~ i }}{% endfor %}")
                .unwrap()
                .render(&context(), &TestHost, &masker, &[], &Limits::default())
                .unwrap_err()
                .to_string();
        assert!(
            error.contains("strings derived from secrets limit of 1000"),
            "{error}"
        );
    }
}
