//! Rendering `{{ }}` expressions in property values, with minijinja (kept,
//! fast, Jinja-compatible, runs on wasm too). A string that is exactly one
//! `{{ expression }}` keeps the expression's type, so
//! `numWorkers: "{{ inputs.workers }}"` is a number; any other string with
//! expressions renders to text. `secret('NAME')` values are recorded so that
//! every log line, output and error can mask them.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};

use minijinja::value::Value as JinjaValue;
use minijinja::{Environment, Error, ErrorKind, UndefinedBehavior};
use serde_json::Value;

/// Where `secret('NAME')` finds values.
pub type SecretSource = Arc<dyn Fn(&str) -> Option<String> + Send + Sync>;

/// Renders templates; records the secret values it used.
#[derive(Clone)]
pub struct Renderer {
    env: Arc<Environment<'static>>,
    used_secrets: Arc<Mutex<BTreeSet<String>>>,
}

impl Renderer {
    pub fn new(secrets: SecretSource) -> Self {
        let used_secrets = Arc::new(Mutex::new(BTreeSet::new()));
        let mut env = Environment::new();
        env.set_undefined_behavior(UndefinedBehavior::Strict);
        let record = used_secrets.clone();
        env.add_function("secret", move |name: String| -> Result<String, Error> {
            let value = secrets(&name).ok_or_else(|| {
                Error::new(
                    ErrorKind::InvalidOperation,
                    format!("secret {name:?} is not set: define the environment variable SECRET_{name} (base64 of the value)"),
                )
            })?;
            if !value.is_empty()
                && let Ok(mut used) = record.lock()
            {
                used.insert(value.clone());
            }
            Ok(value)
        });
        env.add_function("now", || jiff::Timestamp::now().to_string());
        env.add_filter("json", to_json);
        env.add_filter("toJson", to_json);
        env.add_filter("date", date);
        env.add_filter("string", |v: JinjaValue| v.to_string());
        Self { env: Arc::new(env), used_secrets }
    }

    /// Renders every string in `value` against `vars`.
    pub fn render(&self, value: &Value, vars: &Value) -> Result<Value, String> {
        match value {
            Value::String(text) => self.render_str(text, vars),
            Value::Array(items) => items.iter().map(|v| self.render(v, vars)).collect::<Result<_, _>>().map(Value::Array),
            Value::Object(map) => map
                .iter()
                .map(|(k, v)| Ok((k.clone(), self.render(v, vars)?)))
                .collect::<Result<serde_json::Map<_, _>, String>>()
                .map(Value::Object),
            other => Ok(other.clone()),
        }
    }

    fn render_str(&self, text: &str, vars: &Value) -> Result<Value, String> {
        if !text.contains("{{") && !text.contains("{%") {
            return Ok(Value::String(text.to_owned()));
        }
        let context = JinjaValue::from(minijinja::value::Serde(vars));
        if let Some(expression) = lone_expression(text) {
            let compiled = self.env.compile_expression(expression).map_err(describe)?;
            let result = compiled.eval(&context).map_err(describe)?;
            // Evaluating an expression does not trip strict mode the way
            // printing it does, so an undefined result is caught here.
            if result.is_undefined() {
                return Err(format!("undefined value: `{expression}` does not exist (check the name, or add `| default(...)`)"));
            }
            return serde_json::to_value(&result).map_err(|e| e.to_string());
        }
        self.env.render_str(text, context).map(Value::String).map_err(describe)
    }

    /// Adds a value to mask (a SECRET input, for one).
    pub fn add_secret(&self, value: &str) {
        if !value.is_empty()
            && let Ok(mut used) = self.used_secrets.lock()
        {
            used.insert(value.to_owned());
        }
    }

    /// Masks every secret value rendered so far.
    pub fn mask(&self, text: &str) -> String {
        let Ok(used) = self.used_secrets.lock() else { return text.to_owned() };
        // Longest first, so a secret that contains another is masked whole.
        let mut secrets: Vec<&String> = used.iter().collect();
        secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
        secrets.iter().fold(text.to_owned(), |acc, secret| acc.replace(secret.as_str(), "******"))
    }

    /// Masks strings anywhere in a JSON value.
    pub fn mask_value(&self, value: &Value) -> Value {
        match value {
            Value::String(text) => Value::String(self.mask(text)),
            Value::Array(items) => Value::Array(items.iter().map(|v| self.mask_value(v)).collect()),
            Value::Object(map) => Value::Object(map.iter().map(|(k, v)| (k.clone(), self.mask_value(v))).collect()),
            other => other.clone(),
        }
    }
}

/// `{{ expr }}` alone (outer whitespace allowed), without another `{{` inside.
fn lone_expression(text: &str) -> Option<&str> {
    let inner = text.trim().strip_prefix("{{")?.strip_suffix("}}")?;
    (!inner.contains("{{") && !inner.contains("}}")).then_some(inner.trim())
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

/// `date(format)`: an ISO-8601 instant (or Unix seconds) formatted with a
/// Java-style pattern (`yyyy-MM-dd HH:mm:ss`), as Kestra's Pebble does.
fn date(value: JinjaValue, format: Option<String>) -> Result<String, Error> {
    let bad = |why: String| Error::new(ErrorKind::InvalidOperation, why);
    let timestamp = if let Some(seconds) = value.as_i64() {
        jiff::Timestamp::from_second(seconds).map_err(|e| bad(e.to_string()))?
    } else {
        let text = value.as_str().ok_or_else(|| bad(format!("date: {value} is not a date")))?;
        text.parse::<jiff::Timestamp>()
            .or_else(|_| text.parse::<jiff::civil::DateTime>().and_then(|d| d.in_tz("UTC")).map(|z| z.timestamp()))
            .or_else(|_| text.parse::<jiff::civil::Date>().and_then(|d| d.in_tz("UTC")).map(|z| z.timestamp()))
            .map_err(|e| bad(format!("date: {text:?} is not an ISO-8601 date: {e}")))?
    };
    let pattern = format.unwrap_or_else(|| "yyyy-MM-dd'T'HH:mm:ss.SSSXXX".to_owned());
    Ok(timestamp.strftime(&java_to_strftime(&pattern)).to_string())
}

/// Java's date pattern letters to strftime, for the common ones.
fn java_to_strftime(pattern: &str) -> String {
    const MAP: &[(&str, &str)] = &[
        ("yyyy", "%Y"), ("yy", "%y"), ("MMMM", "%B"), ("MMM", "%b"), ("MM", "%m"), ("dd", "%d"), ("HH", "%H"),
        ("hh", "%I"), ("mm", "%M"), ("ss", "%S"), ("SSS", "%3f"), ("XXX", "%:z"), ("EEEE", "%A"), ("EEE", "%a"), ("a", "%p"),
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
        if c == '%' { out.push_str("%%") } else { out.push(c) }
        rest = &rest[c.len_utf8()..];
    }
    out
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn renderer() -> Renderer {
        Renderer::new(Arc::new(|name: &str| (name == "TOKEN").then(|| "dapi-s3cr3t".to_owned())))
    }

    fn check(template: Value, expected: Result<Value, &str>) {
        let vars = json!({
            "inputs": {"name": "World", "workers": 2, "data": "storage:///a/b"},
            "outputs": {"q": {"row": {"region": "north"}}},
            "execution": {"id": "abc", "startDate": "2026-11-25T08:30:00Z"},
        });
        match (renderer().render(&template, &vars), expected) {
            (Ok(got), Ok(want)) => assert_eq!(got, want),
            (Err(got), Err(want)) => assert!(got.contains(want), "{got}"),
            (got, want) => panic!("{template}: got {got:?}, want {want:?}"),
        }
    }

    #[test]
    fn expressions_render_with_their_types() {
        check(json!("Hello {{ inputs.name }}!"), Ok(json!("Hello World!")));
        check(json!("{{ inputs.workers }}"), Ok(json!(2)));
        check(json!({"n": "{{ inputs.workers + 1 }}", "list": ["{{ outputs.q.row.region | upper }}"]}), Ok(json!({"n": 3, "list": ["NORTH"]})));
        check(json!("{{ missing | default('x') }}"), Ok(json!("x")));
        check(json!("{{ execution.startDate | date('yyyy-MM-dd') }}"), Ok(json!("2026-11-25")));
        check(json!("{{ outputs.q.row | json }}"), Ok(json!("{\"region\":\"north\"}")));
        check(json!("{{ '  a ' | trim | length }}"), Ok(json!(1)));
        check(json!("no expressions"), Ok(json!("no expressions")));
        check(json!(7), Ok(json!(7)));
    }

    #[test]
    fn mistakes_say_what_is_wrong() {
        check(json!("{{ inputs.nope }}"), Err("undefined"));
        check(json!("{{ inputs.name | nosuchfilter }}"), Err("nosuchfilter"));
        check(json!("{{ inputs.name "), Err("syntax"));
        check(json!("{{ secret('MISSING') }}"), Err("SECRET_MISSING"));
    }

    #[test]
    fn secrets_render_and_are_masked_afterwards() {
        let renderer = renderer();
        let rendered = renderer.render(&json!("Bearer {{ secret('TOKEN') }}"), &json!({})).unwrap();
        assert_eq!(rendered, json!("Bearer dapi-s3cr3t"));
        assert_eq!(renderer.mask("sent Bearer dapi-s3cr3t"), "sent Bearer ******");
        assert_eq!(renderer.mask_value(&json!({"a": ["dapi-s3cr3t"]})), json!({"a": ["******"]}));
    }

    #[test]
    fn java_date_patterns() {
        assert_eq!(java_to_strftime("yyyy-MM-dd'T'HH:mm"), "%Y-%m-%dT%H:%M");
        assert_eq!(java_to_strftime("dd/MM/yy"), "%d/%m/%y");
    }
}
