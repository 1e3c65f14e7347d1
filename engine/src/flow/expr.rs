//! `{{ }}` expressions, Pebble/Jinja-like, rendered with minijinja: kept,
//! Jinja-compatible, and it runs on wasm, so the editor checks expressions
//! with the same parser that renders them. What only the runtime has (secret
//! values, the clock, internal storage) comes in through [`Host`].
//!
//! A string that is exactly one `{{ expression }}` keeps the expression's
//! type (`numWorkers: "{{ inputs.workers }}"` is a number); any other string
//! renders to text.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};

use minijinja::value::Value as JinjaValue;
use minijinja::{Environment, Error, ErrorKind, UndefinedBehavior};
use serde_json::Value;

/// What the runtime supplies to expressions.
pub trait Host: Send + Sync {
    /// The value of `secret('NAME')`; the runtime reads `SECRET_<NAME>`
    /// (base64) from its environment.
    fn secret(&self, name: &str) -> Option<String>;
    /// The time `now()` returns.
    fn now(&self) -> jiff::Timestamp;
    /// The text of a `storage://` file, for `read('storage://...')`.
    fn read(&self, uri: &str) -> Result<String, String>;
}

/// A host with no secrets and no files, and a fixed clock: for validation
/// and tests.
#[derive(Debug, Clone, Default)]
pub struct NoHost {
    pub now: jiff::Timestamp,
}

impl Host for NoHost {
    fn secret(&self, _: &str) -> Option<String> {
        None
    }
    fn now(&self) -> jiff::Timestamp {
        self.now
    }
    fn read(&self, uri: &str) -> Result<String, String> {
        Err(format!("{uri} cannot be read here"))
    }
}

/// A render error, naming the task and the property.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("task {task}, property {property}: {message}")]
pub struct RenderError {
    pub task: String,
    pub property: String,
    pub message: String,
}

/// Replaces every secret value it knows with `******`. Clones share the
/// same set, so a masker handed to the log writer sees the secrets a later
/// render uses.
#[derive(Debug, Clone, Default)]
pub struct Masker {
    secrets: Arc<Mutex<BTreeSet<String>>>,
}

pub const MASK: &str = "******";

impl Masker {
    /// Adds a value to mask (a SECRET input, a token).
    pub fn add(&self, value: &str) {
        // Masking a one-character value would mask every occurrence of it
        // in every text; such a secret is not worth hiding.
        if value.chars().count() >= 2
            && let Ok(mut secrets) = self.secrets.lock()
        {
            secrets.insert(value.to_owned());
        }
    }

    pub fn mask(&self, text: &str) -> String {
        let Ok(secrets) = self.secrets.lock() else { return text.to_owned() };
        // Longest first, so a secret that contains another is masked whole.
        let mut sorted: Vec<&String> = secrets.iter().collect();
        sorted.sort_by_key(|s| std::cmp::Reverse(s.len()));
        sorted.iter().fold(text.to_owned(), |acc, secret| acc.replace(secret.as_str(), MASK))
    }

    /// Masks every string (keys too) in a JSON value.
    pub fn mask_value(&self, value: &Value) -> Value {
        match value {
            Value::String(text) => Value::String(self.mask(text)),
            Value::Array(items) => Value::Array(items.iter().map(|v| self.mask_value(v)).collect()),
            Value::Object(map) => Value::Object(map.iter().map(|(k, v)| (self.mask(k), self.mask_value(v))).collect()),
            other => other.clone(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.secrets.lock().map(|s| s.is_empty()).unwrap_or(true)
    }
}

/// Renders expressions; records the secret values it used in its masker.
#[derive(Clone)]
pub struct Renderer {
    env: Arc<Environment<'static>>,
    masker: Masker,
}

impl Renderer {
    pub fn new(host: Arc<dyn Host>) -> Self {
        let masker = Masker::default();
        let mut env = environment();
        let record = masker.clone();
        let secrets = host.clone();
        env.add_function("secret", move |name: String| -> Result<String, Error> {
            let value = secrets.secret(&name).ok_or_else(|| {
                Error::new(ErrorKind::InvalidOperation, format!("secret {name:?} is not set: define SECRET_{name} (base64 of the value) where the server runs"))
            })?;
            record.add(&value);
            Ok(value)
        });
        let clock = host.clone();
        env.add_function("now", move || clock.now().to_string());
        let reader = host;
        env.add_function("read", move |uri: String| reader.read(&uri).map_err(|e| Error::new(ErrorKind::InvalidOperation, e)));
        Self { env: Arc::new(env), masker }
    }

    /// The masker that knows every secret this renderer used.
    pub fn masker(&self) -> &Masker {
        &self.masker
    }

    /// Renders every string in `value` (a property of `task`) against
    /// `context` (`inputs`, `vars`, `outputs`, `execution`, `flow`,
    /// `taskrun`, `trigger`). The error names the task and the property
    /// and is already masked.
    pub fn render(&self, task: &str, property: &str, value: &Value, context: &Value) -> Result<Value, RenderError> {
        let ctx = JinjaValue::from(minijinja::value::Serde(context));
        self.render_in(value, &ctx).map_err(|message| RenderError {
            task: task.to_owned(),
            property: property.to_owned(),
            message: self.masker.mask(&message),
        })
    }

    /// Renders one string to text.
    pub fn render_text(&self, text: &str, context: &Value) -> Result<String, String> {
        let ctx = JinjaValue::from(minijinja::value::Serde(context));
        match self.render_str(text, &ctx)? {
            Value::String(s) => Ok(s),
            other => Ok(other.to_string()),
        }
    }

    fn render_in(&self, value: &Value, ctx: &JinjaValue) -> Result<Value, String> {
        match value {
            Value::String(text) => self.render_str(text, ctx),
            Value::Array(items) => items.iter().map(|v| self.render_in(v, ctx)).collect::<Result<_, _>>().map(Value::Array),
            Value::Object(map) => map
                .iter()
                .map(|(k, v)| Ok((k.clone(), self.render_in(v, ctx)?)))
                .collect::<Result<serde_json::Map<_, _>, String>>()
                .map(Value::Object),
            other => Ok(other.clone()),
        }
    }

    fn render_str(&self, text: &str, ctx: &JinjaValue) -> Result<Value, String> {
        if !has_expression(text) {
            return Ok(Value::String(text.to_owned()));
        }
        if let Some(expression) = lone_expression(text) {
            let compiled = self.env.compile_expression(expression).map_err(describe)?;
            let result = compiled.eval(ctx).map_err(describe)?;
            // Evaluating does not trip strict mode the way printing does.
            if result.is_undefined() {
                return Err(format!("`{expression}` is undefined: check the name, or add `| default(...)`"));
            }
            return serde_json::to_value(&result).map_err(|e| e.to_string());
        }
        self.env.render_str(text, ctx).map(Value::String).map_err(describe)
    }
}

/// True when the text has `{{`, `{%` or `{#`.
pub fn has_expression(text: &str) -> bool {
    text.contains("{{") || text.contains("{%") || text.contains("{#")
}

/// A syntax error in a template, with its byte range in the text when known.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyntaxError {
    pub message: String,
    pub range: Option<std::ops::Range<usize>>,
}

/// Checks a template's syntax and returns the variables it reads, as dotted
/// paths (`inputs.name`, `outputs.task.value`).
pub fn check(text: &str) -> Result<BTreeSet<String>, SyntaxError> {
    thread_local! {
        static ENV: Environment<'static> = environment();
    }
    ENV.with(|env| {
        let template = env.template_from_str(text).map_err(|e| {
            let range = e.range();
            SyntaxError { message: describe(e).replace(" (in <string>:1)", ""), range }
        })?;
        Ok(template.undeclared_variables(true).into_iter().collect())
    })
}

/// The environment without the host's functions: filters, tests and the
/// functions that need nothing from outside.
fn environment() -> Environment<'static> {
    let mut env = Environment::new();
    env.set_undefined_behavior(UndefinedBehavior::Strict);
    // Printed as Kestra's Pebble does: booleans in lower case (minijinja
    // follows Python: `True`), and null as nothing.
    env.set_formatter(|out, state, value| match value.kind() {
        minijinja::value::ValueKind::Bool => {
            out.write_str(if value.is_true() { "true" } else { "false" })
                .map_err(|_| Error::new(ErrorKind::WriteFailure, "cannot write the output"))
        }
        minijinja::value::ValueKind::None => Ok(()),
        _ => minijinja::escape_formatter(out, state, value),
    });
    // Registered here too (failing) so templates that use them check.
    env.add_function("secret", |name: String| -> Result<String, Error> {
        Err(Error::new(ErrorKind::InvalidOperation, format!("secret {name:?} cannot be read here")))
    });
    env.add_function("now", || -> Result<String, Error> { Err(Error::new(ErrorKind::InvalidOperation, "now() has no clock here")) });
    env.add_function("read", |uri: String| -> Result<String, Error> { Err(Error::new(ErrorKind::InvalidOperation, format!("{uri} cannot be read here"))) });
    env.add_filter("json", to_json);
    env.add_filter("toJson", to_json);
    env.add_filter("jsonEncode", to_json);
    env.add_filter("fromJson", from_json);
    env.add_filter("jsonDecode", from_json);
    env.add_filter("date", date);
    env.add_filter("string", |v: JinjaValue| match v.kind() {
        minijinja::value::ValueKind::Bool => v.is_true().to_string(),
        _ => v.to_string(),
    });
    env.add_filter("number", number);
    env.add_filter("keys", |v: JinjaValue| -> Result<JinjaValue, Error> { Ok(JinjaValue::from(v.try_iter()?.collect::<Vec<_>>())) });
    env.add_filter("values", values);
    env.add_filter("slugify", slugify);
    env.add_filter("startsWith", |v: String, prefix: String| v.starts_with(&prefix));
    env.add_filter("endsWith", |v: String, suffix: String| v.ends_with(&suffix));
    env.add_filter("abbreviate", |v: String, n: usize| -> String {
        if v.chars().count() <= n { v } else { v.chars().take(n.saturating_sub(3)).collect::<String>() + "..." }
    });
    env
}

/// `{{ expr }}` alone (outer whitespace allowed), without another `{{` inside.
fn lone_expression(text: &str) -> Option<&str> {
    let inner = text.trim().strip_prefix("{{")?.strip_suffix("}}")?;
    (!inner.contains("{{") && !inner.contains("}}") && !inner.contains("{%")).then_some(inner.trim())
}

fn describe(error: Error) -> String {
    let mut message = error.to_string();
    if let Some(detail) = error.detail()
        && !message.contains(detail)
    {
        message.push_str(": ");
        message.push_str(detail);
    }
    message
}

fn to_json(value: JinjaValue) -> Result<String, Error> {
    serde_json::to_string(&value).map_err(|e| Error::new(ErrorKind::InvalidOperation, e.to_string()))
}

fn from_json(value: String) -> Result<JinjaValue, Error> {
    let parsed: Value = serde_json::from_str(&value).map_err(|e| Error::new(ErrorKind::InvalidOperation, format!("fromJson: {e}")))?;
    Ok(JinjaValue::from(minijinja::value::Serde(&parsed)))
}

fn number(value: JinjaValue) -> Result<JinjaValue, Error> {
    if value.as_i64().is_some() || value.kind() == minijinja::value::ValueKind::Number {
        return Ok(value);
    }
    let text = value.to_string();
    let text = text.trim();
    if let Ok(i) = text.parse::<i64>() {
        return Ok(JinjaValue::from(i));
    }
    text.parse::<f64>()
        .map(JinjaValue::from)
        .map_err(|_| Error::new(ErrorKind::InvalidOperation, format!("number: {text:?} is not a number")))
}

fn values(value: JinjaValue) -> Result<JinjaValue, Error> {
    let mut out = Vec::new();
    for key in value.try_iter()? {
        out.push(value.get_item(&key)?);
    }
    Ok(JinjaValue::from(out))
}

fn slugify(value: String) -> String {
    let mut out = String::new();
    for c in value.to_lowercase().chars() {
        if c.is_alphanumeric() {
            out.push(c);
        } else if !out.ends_with('-') && !out.is_empty() {
            out.push('-');
        }
    }
    out.trim_end_matches('-').to_owned()
}

/// `date(format, timeZone=...)`: an ISO-8601 instant, date-time or date (or
/// Unix seconds) formatted with a Java-style pattern (`yyyy-MM-dd HH:mm`),
/// as Kestra's Pebble does. Without a zone, UTC.
fn date(value: JinjaValue, format: Option<String>, kwargs: minijinja::value::Kwargs) -> Result<String, Error> {
    let bad = |why: String| Error::new(ErrorKind::InvalidOperation, why);
    let zone: Option<String> = kwargs.get("timeZone")?;
    kwargs.assert_all_used()?;
    let timestamp = if let Some(seconds) = value.as_i64() {
        jiff::Timestamp::from_second(seconds).map_err(|e| bad(e.to_string()))?
    } else {
        let text = value.as_str().ok_or_else(|| bad(format!("date: {value} is not a date")))?;
        text.parse::<jiff::Timestamp>()
            .or_else(|_| text.parse::<jiff::civil::DateTime>().and_then(|d| d.to_zoned_datetime(jiff::tz::TimeZone::UTC)).map(|z| z.timestamp()))
            .or_else(|_| text.parse::<jiff::civil::Date>().and_then(|d| d.to_zoned_datetime(jiff::tz::TimeZone::UTC)).map(|z| z.timestamp()))
            .map_err(|e| bad(format!("date: {text:?} is not an ISO-8601 date: {e}")))?
    };
    let tz = match zone.as_deref() {
        None | Some("UTC") | Some("Etc/UTC") => jiff::tz::TimeZone::UTC,
        Some(name) => jiff::tz::TimeZone::get(name).map_err(|e| bad(format!("date: time zone {name:?}: {e}")))?,
    };
    let zoned = timestamp.to_zoned_datetime(tz);
    let pattern = format.unwrap_or_else(|| "yyyy-MM-dd'T'HH:mm:ss.SSSXXX".to_owned());
    Ok(zoned.strftime(&java_to_strftime(&pattern)).to_string())
}

/// Java's date pattern letters to strftime, for the common ones.
pub fn java_to_strftime(pattern: &str) -> String {
    const MAP: &[(&str, &str)] = &[
        ("yyyy", "%Y"),
        ("yy", "%y"),
        ("MMMM", "%B"),
        ("MMM", "%b"),
        ("MM", "%m"),
        ("dd", "%d"),
        ("HH", "%H"),
        ("hh", "%I"),
        ("mm", "%M"),
        ("ss", "%S"),
        ("SSS", "%3f"),
        ("XXX", "%:z"),
        ("EEEE", "%A"),
        ("EEE", "%a"),
        ("a", "%p"),
        ("Z", "%z"),
    ];
    let mut out = String::new();
    let mut rest = pattern;
    'outer: while !rest.is_empty() {
        if let Some(quoted) = rest.strip_prefix('\'') {
            let end = quoted.find('\'').unwrap_or(quoted.len());
            out.push_str(&quoted[..end].replace('%', "%%"));
            rest = quoted.get(end + 1..).unwrap_or("");
            continue;
        }
        for (java, strftime) in MAP {
            if let Some(after) = rest.strip_prefix(java) {
                out.push_str(strftime);
                rest = after;
                continue 'outer;
            }
        }
        let c = rest.chars().next().unwrap_or_default();
        if c == '%' {
            out.push_str("%%")
        } else {
            out.push(c)
        }
        rest = &rest[c.len_utf8()..];
    }
    out
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    struct TestHost;

    impl Host for TestHost {
        fn secret(&self, name: &str) -> Option<String> {
            (name == "TOKEN").then(|| "dapi-s3cr3t".to_owned())
        }
        fn now(&self) -> jiff::Timestamp {
            "2026-11-25T08:00:00Z".parse().unwrap()
        }
        fn read(&self, uri: &str) -> Result<String, String> {
            if uri == "storage:///a.txt" { Ok("file text".into()) } else { Err(format!("{uri} does not exist")) }
        }
    }

    fn renderer() -> Renderer {
        Renderer::new(Arc::new(TestHost))
    }

    fn check(template: Value, expected: Result<Value, &str>) {
        let context = json!({
            "inputs": {"name": "World", "workers": 2},
            "vars": {"env": "dev"},
            "outputs": {"q": {"row": {"region": "north"}}},
            "execution": {"id": "abc", "startDate": "2026-11-25T08:30:00Z"},
            "flow": {"id": "f", "namespace": "n"},
            "taskrun": {"value": "x"},
        });
        match (renderer().render("t", "p", &template, &context), expected) {
            (Ok(got), Ok(want)) => assert_eq!(got, want),
            (Err(got), Err(want)) => assert!(got.to_string().contains(want), "{got}"),
            (got, want) => panic!("{template}: got {got:?}, want {want:?}"),
        }
    }

    #[test]
    fn booleans_and_null_print_as_kestra_prints_them() {
        check(json!("fast {{ inputs.workers > 5 }} or {{ inputs.workers == 2 }}"), Ok(json!("fast false or true")));
        check(json!("[{{ none }}]"), Ok(json!("[]")));
        check(json!("{{ (1 == 1) | string }}"), Ok(json!("true")));
        // A lone expression keeps its type.
        check(json!("{{ inputs.workers == 2 }}"), Ok(json!(true)));
    }

    #[test]
    fn expressions_render_with_their_types() {
        check(json!("Hello {{ inputs.name }}!"), Ok(json!("Hello World!")));
        check(json!("{{ inputs.workers }}"), Ok(json!(2)));
        check(json!({"n": "{{ inputs.workers + 1 }}", "l": ["{{ outputs.q.row.region | upper }}"]}), Ok(json!({"n": 3, "l": ["NORTH"]})));
        check(json!("{{ missing | default('x') }}"), Ok(json!("x")));
        check(json!("{{ execution.startDate | date('yyyy-MM-dd') }}"), Ok(json!("2026-11-25")));
        check(json!("{{ outputs.q.row | json }}"), Ok(json!("{\"region\":\"north\"}")));
        check(json!("{{ '  a ' | trim | length }}"), Ok(json!(1)));
        check(json!("{{ 'AbC' | lower }}-{{ vars.env }}-{{ flow.namespace }}.{{ flow.id }}-{{ taskrun.value }}"), Ok(json!("abc-dev-n.f-x")));
        check(json!("{{ now() }}"), Ok(json!("2026-11-25T08:00:00Z")));
        check(json!("{{ read('storage:///a.txt') }}"), Ok(json!("file text")));
        check(json!("{{ '{\"a\": 1}' | fromJson }}"), Ok(json!({"a": 1})));
        check(json!("{{ 'Hello World' | slugify }}"), Ok(json!("hello-world")));
        check(json!("no expressions"), Ok(json!("no expressions")));
        check(json!(7), Ok(json!(7)));
    }

    #[test]
    fn errors_name_the_task_and_the_property() {
        check(json!("{{ inputs.nope }}"), Err("task t, property p: `inputs.nope` is undefined"));
        check(json!("{{ inputs.name | nosuchfilter }}"), Err("nosuchfilter"));
        check(json!("{{ inputs.name "), Err("syntax"));
        check(json!("{{ secret('MISSING') }}"), Err("SECRET_MISSING"));
        check(json!("{{ read('storage:///b') }}"), Err("does not exist"));
    }

    #[test]
    fn secrets_are_recorded_and_masked() {
        let renderer = renderer();
        assert!(renderer.masker().is_empty());
        let rendered = renderer.render("t", "p", &json!("Bearer {{ secret('TOKEN') }}"), &json!({})).unwrap();
        assert_eq!(rendered, json!("Bearer dapi-s3cr3t"));
        let masker = renderer.masker().clone();
        assert_eq!(masker.mask("sent Bearer dapi-s3cr3t"), "sent Bearer ******");
        assert_eq!(masker.mask_value(&json!({"a": ["dapi-s3cr3t"]})), json!({"a": ["******"]}));
        let error = renderer.render("t", "p", &json!("{{ secret('TOKEN') | nosuch }}"), &json!({})).unwrap_err();
        assert!(!error.to_string().contains("dapi-s3cr3t"));
    }

    #[test]
    fn check_finds_syntax_errors_and_variables() {
        let vars = super::check("{{ inputs.a }} {{ outputs.t.value | upper }} {% for x in vars.list %}{{ x }}{% endfor %}").unwrap();
        assert!(vars.contains("inputs.a"), "{vars:?}");
        assert!(vars.contains("outputs.t.value"), "{vars:?}");
        assert!(vars.iter().all(|v| !v.starts_with("x")), "{vars:?}");
        let error = super::check("a {{ inputs.a ").unwrap_err();
        assert!(error.message.contains("syntax"), "{error:?}");
    }

    #[test]
    fn java_date_patterns() {
        assert_eq!(java_to_strftime("yyyy-MM-dd'T'HH:mm"), "%Y-%m-%dT%H:%M");
        assert_eq!(java_to_strftime("dd/MM/yy"), "%d/%m/%y");
    }
}
