//! `{{ }}` expressions, in Kestra's Pebble, rendered by our own engine
//! ([`crate::flow::pebble`]): it runs on wasm, so the editor checks
//! expressions with the same parser that renders them. What only the
//! runtime has (secret values, the clock, internal storage, randomness)
//! comes in through [`Host`].
//!
//! A string that is exactly one `{{ expression }}` keeps the expression's
//! type (`numWorkers: "{{ inputs.workers }}"` is a number); any other string
//! renders to text.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};

use serde_json::Value;

use super::pebble::eval::EvalError;
use super::pebble::{Limits, Template};

/// What the runtime supplies to expressions.
pub trait Host: Send + Sync {
    /// The value of `secret('NAME')`; the runtime reads the execution's
    /// namespace secrets, then `SECRET_<NAME>` (base64) from its
    /// environment.
    fn secret(&self, name: &str) -> Option<String>;
    /// The time `now()` returns.
    fn now(&self) -> jiff::Timestamp;
    /// The text of a `storage://` file, for `read('storage://...')`.
    fn read(&self, uri: &str) -> Result<String, String>;
    /// The size in bytes of a file of internal storage, for `fileSize()`.
    fn file_size(&self, uri: &str) -> Result<u64, String> {
        Err(format!("the size of {uri} is known only where flows run"))
    }
    /// `encrypt(key, text)`: Kestra's AES-GCM (see `engine::crypto`), only
    /// where flows run.
    fn encrypt(&self, _key: &str, _plaintext: &str) -> Result<String, String> {
        Err("encrypt() runs only where flows run".into())
    }
    /// `decrypt(key, value)`, the inverse of [`Host::encrypt`].
    fn decrypt(&self, _key: &str, _encrypted: &str) -> Result<String, String> {
        Err("decrypt() runs only where flows run".into())
    }
    /// The text of a namespace file (at a revision), for `read('path')`.
    fn namespace_file(
        &self,
        namespace: &str,
        path: &str,
        revision: Option<u32>,
    ) -> Result<String, String> {
        let _ = (namespace, revision);
        Err(format!(
            "namespace file {path} is read only where flows run"
        ))
    }
    /// The value of a key of a namespace's KV store, for `kv()`; `None`
    /// when it is missing or expired.
    fn kv(&self, namespace: &str, key: &str) -> Result<Option<Value>, String> {
        let _ = (namespace, key);
        Err("kv() reads the KV store only where flows run".into())
    }
    /// Random bits for `uuid()`, `id()` and `randomInt()`. The default is a
    /// fixed pseudo-random sequence, enough where nothing runs (validation,
    /// the browser); the runtime gives real randomness.
    fn random(&self) -> u64 {
        use std::sync::atomic::{AtomicU64, Ordering};
        static STATE: AtomicU64 = AtomicU64::new(0x853c_49e6_748f_ea9b);
        // SplitMix64: well spread, and needs no clock or OS.
        let mut z = STATE
            .fetch_add(0x9e37_79b9_7f4a_7c15, Ordering::Relaxed)
            .wrapping_add(0x9e37_79b9_7f4a_7c15);
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
}

/// The variables an expression may start with, the roots of Kestra's
/// context (RunContext's variables, `envs` and `globals` from the server's
/// configuration, `kestra` for its url), with what each holds. Validation
/// and the editor's completion read this list.
pub const VARIABLES: &[(&str, &str)] = &[
    ("inputs", "The execution's inputs, by id."),
    ("vars", "The flow's `variables`, rendered on first use."),
    (
        "outputs",
        "The outputs of the tasks that ran, by task id (and by value inside a ForEach).",
    ),
    ("execution", "The execution: id, startDate, originalId."),
    ("flow", "The flow: id, namespace, revision."),
    (
        "taskrun",
        "The current task run: id, value (inside a ForEach), parentId.",
    ),
    ("task", "The current task: id, type."),
    (
        "trigger",
        "What started the execution: a schedule's date, a webhook's body, a flow's execution.",
    ),
    ("labels", "The execution's labels."),
    (
        "tasks",
        "The state of each task run so far: tasks.<id>.state (tasks.<id>.<value>.state inside a ForEach).",
    ),
    (
        "parent",
        "The closest enclosing ForEach iteration: taskrun.value.",
    ),
    (
        "parents",
        "The enclosing ForEach iterations, closest first.",
    ),
    (
        "envs",
        "The server's environment variables that start with ENV_, without the prefix, in lower case.",
    ),
    (
        "globals",
        "Values the server's configuration gives every flow.",
    ),
    ("kestra", "The server: url."),
    (
        "workingDir",
        "The task's working directory, in a WorkingDirectory.",
    ),
    (
        "workerTaskrun",
        "In a WorkingDirectory's tasks, the task's own run (as `taskrun`).",
    ),
    (
        "loop",
        "Inside `{% for %}`: index, first, last, length, revindex.",
    ),
    ("error", "In `errors` tasks: the error that happened."),
];

/// Where the runtime puts the execution's ERROR logs, read ahead for a
/// task whose properties call `errorLogs()`.
pub const ERROR_LOGS: &str = "__errorLogs";

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
///
/// It knows the secrets themselves and every string a render derived from
/// one (`secret('X') | upper`, `'Bearer ' ~ inputs.password`): the
/// evaluator tracks which values come from a secret and adds each such
/// string it produces (see `pebble::taint`), so what masks the secret masks
/// its derived forms too.
#[derive(Debug, Clone, Default)]
pub struct Masker {
    secrets: Arc<Mutex<BTreeSet<String>>>,
}

pub const MASK: &str = "******";

/// The most values one masker holds. Every log line and output is masked
/// against all of them, so a template deriving strings from a secret in a
/// loop would otherwise slow every later line of its execution.
pub const MAX_MASKED: usize = 1_000;

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

    /// Adds a string derived from a secret, unless the masker already
    /// holds [`MAX_MASKED`] values: then it refuses (`false`), and the
    /// render that derived it fails rather than show it unmasked.
    pub(crate) fn add_derived(&self, value: &str) -> bool {
        if value.chars().count() < 2 {
            return true;
        }
        let Ok(mut secrets) = self.secrets.lock() else {
            return false;
        };
        if secrets.contains(value) {
            return true;
        }
        if secrets.len() >= MAX_MASKED {
            return false;
        }
        secrets.insert(value.to_owned());
        true
    }

    pub fn mask(&self, text: &str) -> String {
        let Ok(secrets) = self.secrets.lock() else {
            return text.to_owned();
        };
        // Longest first, so a secret that contains another is masked whole.
        let mut sorted: Vec<&String> = secrets.iter().collect();
        sorted.sort_by_key(|s| std::cmp::Reverse(s.len()));
        sorted.iter().fold(text.to_owned(), |acc, secret| {
            acc.replace(secret.as_str(), MASK)
        })
    }

    /// Masks every string (keys too) in a JSON value.
    pub fn mask_value(&self, value: &Value) -> Value {
        match value {
            Value::String(text) => Value::String(self.mask(text)),
            Value::Array(items) => Value::Array(items.iter().map(|v| self.mask_value(v)).collect()),
            Value::Object(map) => Value::Object(
                map.iter()
                    .map(|(k, v)| (self.mask(k), self.mask_value(v)))
                    .collect(),
            ),
            other => other.clone(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.secrets.lock().map(|s| s.is_empty()).unwrap_or(true)
    }
}

/// Renders expressions; records in its masker the secret values it used
/// and every string it derived from one.
#[derive(Clone)]
pub struct Renderer {
    host: Arc<dyn Host>,
    masker: Masker,
    limits: Limits,
    secret_inputs: Arc<[String]>,
}

impl Renderer {
    pub fn new(host: Arc<dyn Host>) -> Self {
        Self {
            host,
            masker: Masker::default(),
            limits: Limits::default(),
            secret_inputs: Arc::new([]),
        }
    }

    /// The same renderer, knowing which inputs are SECRET: what derives
    /// from `inputs.<id>` is then masked as what derives from `secret()`.
    pub fn with_secret_inputs(mut self, ids: impl IntoIterator<Item = String>) -> Self {
        self.secret_inputs = ids.into_iter().collect();
        self
    }

    /// The same renderer with other bounds on each render.
    pub fn with_limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }

    /// The masker that knows every secret this renderer used.
    pub fn masker(&self) -> &Masker {
        &self.masker
    }

    /// Renders every string in `value` (a property of `task`) against
    /// `context` (`inputs`, `vars`, `outputs`, `execution`, `flow`,
    /// `taskrun`, `trigger`). The error names the task and the property
    /// and is already masked.
    pub fn render(
        &self,
        task: &str,
        property: &str,
        value: &Value,
        context: &Value,
    ) -> Result<Value, RenderError> {
        self.render_in(value, context, &self.limits)
            .map_err(|failure| self.error(task, property, failure))
    }

    /// As [`Renderer::render`], but gives up with `None` after `steps`
    /// steps when this renderer allows more: a caller on an async worker
    /// renders small templates in place and hands the rest to a blocking
    /// thread (where [`Renderer::render`] starts again with the whole
    /// budget). A template's cost is known only by running it.
    pub fn render_within(
        &self,
        task: &str,
        property: &str,
        value: &Value,
        context: &Value,
        steps: u64,
    ) -> Option<Result<Value, RenderError>> {
        if steps >= self.limits.steps {
            return Some(self.render(task, property, value, context));
        }
        let quick = Limits {
            steps,
            ..self.limits.clone()
        };
        match self.render_in(value, context, &quick) {
            Ok(value) => Some(Ok(value)),
            Err(Failure::Steps) => None,
            Err(failure) => Some(Err(self.error(task, property, failure))),
        }
    }

    /// As [`Renderer::render`], for async code: in place when the
    /// template is cheap (within [`INLINE_STEPS`]), otherwise again on a
    /// blocking thread with the whole step budget, so that a heavy
    /// template never holds an async worker (the server's requests and
    /// the other executions).
    #[cfg(feature = "runtime")]
    pub async fn render_async(
        &self,
        task: &str,
        property: &str,
        value: &Value,
        context: &Value,
    ) -> Result<Value, RenderError> {
        if let Some(done) = self.render_within(task, property, value, context, INLINE_STEPS) {
            return done;
        }
        let renderer = self.clone();
        let (task, property, value, context) = (
            task.to_owned(),
            property.to_owned(),
            value.clone(),
            context.clone(),
        );
        let stopped = RenderError {
            task: task.clone(),
            property: property.clone(),
            message: "the render stopped unexpectedly".into(),
        };
        tokio::task::spawn_blocking(move || renderer.render(&task, &property, &value, &context))
            .await
            .unwrap_or(Err(stopped))
    }

    fn error(&self, task: &str, property: &str, failure: Failure) -> RenderError {
        let message = match failure {
            Failure::Message(message) => message,
            Failure::Steps => EvalError::Limit {
                name: "steps",
                limit: self.limits.steps,
            }
            .to_string(),
        };
        RenderError {
            task: task.to_owned(),
            property: property.to_owned(),
            message: self.masker.mask(&message),
        }
    }

    /// Renders one string to text.
    pub fn render_text(&self, text: &str, context: &Value) -> Result<String, String> {
        match self
            .render_str(text, context, &self.limits)
            .map_err(|failure| self.error("", "", failure).message)?
        {
            Value::String(s) => Ok(s),
            other => Ok(other.to_string()),
        }
    }

    fn render_in(&self, value: &Value, context: &Value, limits: &Limits) -> Result<Value, Failure> {
        match value {
            Value::String(text) => self.render_str(text, context, limits),
            Value::Array(items) => items
                .iter()
                .map(|v| self.render_in(v, context, limits))
                .collect::<Result<_, _>>()
                .map(Value::Array),
            // Keys render to text, as Kestra's renderer renders a map's keys.
            Value::Object(map) => map
                .iter()
                .map(|(k, v)| {
                    let key = match self.render_str(k, context, limits)? {
                        Value::String(text) => text,
                        other => other.to_string(),
                    };
                    Ok((key, self.render_in(v, context, limits)?))
                })
                .collect::<Result<serde_json::Map<_, _>, Failure>>()
                .map(Value::Object),
            other => Ok(other.clone()),
        }
    }

    fn render_str(&self, text: &str, context: &Value, limits: &Limits) -> Result<Value, Failure> {
        if !has_expression(text) {
            return Ok(Value::String(text.to_owned()));
        }
        let template = Template::parse(text).map_err(|e| Failure::Message(e.message))?;
        template
            .render_value(
                context,
                self.host.as_ref(),
                &self.masker,
                &self.secret_inputs,
                limits,
            )
            .map_err(|e| match e {
                EvalError::Limit { name: "steps", .. } => Failure::Steps,
                other => Failure::Message(other.to_string()),
            })
    }
}

/// The steps a render may take on an async worker (a few milliseconds in a
/// dev build) before [`Renderer::render_async`] moves it to a blocking
/// thread. Real task properties take tens.
#[cfg(feature = "runtime")]
const INLINE_STEPS: u64 = 100_000;

/// Why a render failed: out of steps (which [`Renderer::render_within`]
/// retries elsewhere), or anything else.
enum Failure {
    Steps,
    Message(String),
}

/// True when the text has `{{`, `{%` or `{#`.
pub fn has_expression(text: &str) -> bool {
    text.contains("{{") || text.contains("{%") || text.contains("{#")
}

/// A problem in a template, with its byte range in the text when known: a
/// syntax error, or an unknown filter, function, test or argument name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct SyntaxError {
    pub message: String,
    pub range: Option<std::ops::Range<usize>>,
}

impl SyntaxError {
    pub(crate) fn new(message: impl Into<String>, range: std::ops::Range<usize>) -> Self {
        Self {
            message: message.into(),
            range: Some(range),
        }
    }
}

/// Checks a template and returns the variables it reads, as dotted paths
/// (`inputs.name`, `outputs.task.value`), or its first problem.
pub fn check(text: &str) -> Result<BTreeSet<String>, SyntaxError> {
    let (variables, mut errors) = check_all(text);
    if errors.is_empty() {
        Ok(variables)
    } else {
        Err(errors.swap_remove(0))
    }
}

/// Checks a template: the variables it reads and every problem (a syntax
/// error stops the check, so it comes alone).
pub fn check_all(text: &str) -> (BTreeSet<String>, Vec<SyntaxError>) {
    match Template::parse(text) {
        Ok(template) => template.check(),
        Err(error) => (BTreeSet::new(), vec![error]),
    }
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
            if uri == "storage:///a.txt" {
                Ok("file text".into())
            } else {
                Err(format!("{uri} does not exist"))
            }
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
    fn a_render_within_a_few_steps_gives_up_only_when_more_are_allowed() {
        let bomb = json!(
            "{% for i in range(0, 1000) %}{% for j in range(0, 1000) %}{% endfor %}{% endfor %}"
        );
        let small = json!("{{ inputs.name | upper }}");
        let context = json!({"inputs": {"name": "ann"}});
        let limits = Limits {
            steps: 5_000_000,
            ..Limits::default()
        };
        let generous = renderer().with_limits(limits);
        assert_eq!(
            generous
                .render_within("t", "p", &small, &context, 1_000)
                .unwrap()
                .unwrap(),
            json!("ANN")
        );
        assert!(
            generous
                .render_within("t", "p", &bomb, &context, 1_000)
                .is_none()
        );
        // The whole budget is enough for a million steps.
        assert!(generous.render("t", "p", &bomb, &context).is_ok());
        // With no more steps to give, the answer is the render's own error.
        let tight = renderer().with_limits(Limits {
            steps: 1_000,
            ..Limits::default()
        });
        let error = tight
            .render_within("t", "p", &bomb, &context, 1_000)
            .unwrap()
            .unwrap_err();
        assert!(
            error.message.contains("steps limit of 1000"),
            "{}",
            error.message
        );
    }

    #[test]
    fn booleans_and_null_print_as_kestra_prints_them() {
        check(
            json!("fast {{ inputs.workers > 5 }} or {{ inputs.workers == 2 }}"),
            Ok(json!("fast false or true")),
        );
        check(json!("[{{ none }}]"), Ok(json!("[]")));
        check(json!("{{ (1 == 1) | string }}"), Ok(json!("true")));
        // A lone expression keeps its type.
        check(json!("{{ inputs.workers == 2 }}"), Ok(json!(true)));
    }

    #[test]
    fn a_mappings_keys_render_to_text_as_kestra_renders_them() {
        check(
            json!({"{{ inputs.name }}.txt": "{{ inputs.workers }}", "{{ inputs.workers }}": "plain"}),
            Ok(json!({"World.txt": 2, "2": "plain"})),
        );
        check(json!({"{{ nope(": 1}), Err("p"));
    }

    #[test]
    fn expressions_render_with_their_types() {
        check(json!("Hello {{ inputs.name }}!"), Ok(json!("Hello World!")));
        check(json!("{{ inputs.workers }}"), Ok(json!(2)));
        check(
            json!({"n": "{{ inputs.workers + 1 }}", "l": ["{{ outputs.q.row.region | upper }}"]}),
            Ok(json!({"n": 3, "l": ["NORTH"]})),
        );
        check(json!("{{ missing | default('x') }}"), Ok(json!("x")));
        check(
            json!("{{ execution.startDate | date('yyyy-MM-dd') }}"),
            Ok(json!("2026-11-25")),
        );
        check(
            json!("{{ outputs.q.row | json }}"),
            Ok(json!("{\"region\":\"north\"}")),
        );
        check(json!("{{ '  a ' | trim | length }}"), Ok(json!(1)));
        check(
            json!(
                "{{ 'AbC' | lower }}-{{ vars.env }}-{{ flow.namespace }}.{{ flow.id }}-{{ taskrun.value }}"
            ),
            Ok(json!("abc-dev-n.f-x")),
        );
        // Kestra's `iso` format: six fraction digits.
        check(
            json!("{{ now() }}"),
            Ok(json!("2026-11-25T08:00:00.000000Z")),
        );
        check(
            json!("{{ read('storage:///a.txt') }}"),
            Ok(json!("file text")),
        );
        check(json!("{{ '{\"a\": 1}' | fromJson }}"), Ok(json!({"a": 1})));
        check(
            json!("{{ 'Hello World' | slugify }}"),
            Ok(json!("hello-world")),
        );
        check(json!("no expressions"), Ok(json!("no expressions")));
        check(json!(7), Ok(json!(7)));
    }

    #[test]
    fn errors_name_the_task_and_the_property() {
        check(
            json!("{{ inputs.nope }}"),
            Err("task t, property p: `inputs.nope` is undefined"),
        );
        check(
            json!("{{ inputs.name | nosuchfilter }}"),
            Err("nosuchfilter"),
        );
        check(json!("{{ inputs.name "), Err("syntax"));
        check(json!("{{ secret('MISSING') }}"), Err("SECRET_MISSING"));
        check(json!("{{ read('storage:///b') }}"), Err("does not exist"));
    }

    #[test]
    fn secrets_are_recorded_and_masked() {
        let renderer = renderer();
        assert!(renderer.masker().is_empty());
        let rendered = renderer
            .render("t", "p", &json!("Bearer {{ secret('TOKEN') }}"), &json!({}))
            .unwrap();
        assert_eq!(rendered, json!("Bearer dapi-s3cr3t"));
        let masker = renderer.masker().clone();
        assert_eq!(masker.mask("sent Bearer dapi-s3cr3t"), "sent Bearer ******");
        assert_eq!(
            masker.mask_value(&json!({"a": ["dapi-s3cr3t"]})),
            json!({"a": ["******"]})
        );
        let error = renderer
            .render(
                "t",
                "p",
                &json!("{{ secret('TOKEN') | nosuch }}"),
                &json!({}),
            )
            .unwrap_err();
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
}
