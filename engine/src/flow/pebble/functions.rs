//! Functions (Pebble's `range`, `max`, `min`; Kestra's `secret`, `now`,
//! `read`, `render`, ...) and tests (`is null`, `is defined`, ...). What
//! only the runtime has (secret values, the clock, files, randomness)
//! comes from the evaluator's [`Host`](crate::flow::expr::Host).

use std::borrow::Cow;

use serde_json::Value;

use super::library::{Call, Declaration, Out, fail, function, opt, owned, req, test, text};
use super::value::{self, Num, number_of};

/// Kestra's `VariableRenderer.MAX_RENDERING_AMOUNT`: how many times
/// `render` renders its result again before giving up on a fixed point.
const MAX_RENDERING: usize = 100;

pub(crate) static DECLARATIONS: &[Declaration] = &[
    function(
        "secret",
        &[req("key", "The secret's name.")],
        "The value of a secret: the execution's namespace's secret, else its parent namespaces', else `SECRET_<KEY>` (base64) where the server runs; the value is masked in logs and outputs.",
        secret,
    ),
    function(
        "yaml",
        &[req("yaml", "YAML text.")],
        "The value YAML text describes.",
        |c| {
            super::convert::yaml_function(c.arg(0).unwrap_or(&Value::Null))
                .map(Cow::Owned)
                .map_err(fail)
        },
    ),
    function(
        "fromIon",
        &[req("ion", "Amazon Ion text.")],
        "The value Ion text describes.",
        |c| {
            super::convert::from_ion(c.arg(0).unwrap_or(&Value::Null))
                .map(Cow::Owned)
                .map_err(fail)
        },
    ),
    function(
        "isWeekend",
        &[req("date", "A date.")],
        "Whether the date is a Saturday or a Sunday.",
        |c| on_date(c, super::dates::is_weekend),
    ),
    function(
        "dayOfWeek",
        &[req("date", "A date.")],
        "The day's English name in upper case (MONDAY).",
        |c| on_date(c, super::dates::day_of_week),
    ),
    function(
        "dayOfMonth",
        &[req("date", "A date.")],
        "The day of the month, 1 to 31.",
        |c| on_date(c, super::dates::day_of_month),
    ),
    function(
        "monthOfYear",
        &[req("date", "A date.")],
        "The month, 1 to 12.",
        |c| on_date(c, super::dates::month_of_year),
    ),
    function(
        "hourOfDay",
        &[req("date", "A date-time.")],
        "The hour, 0 to 23.",
        |c| on_date(c, super::dates::hour_of_day),
    ),
    function(
        "isDateBefore",
        &[
            req("date", "A date."),
            req("reference", "The date to compare with."),
        ],
        "Whether the date is strictly before the reference.",
        |c| {
            super::dates::is_date_before(
                c.arg(0).unwrap_or(&Value::Null),
                c.arg(1).unwrap_or(&Value::Null),
            )
            .map(Cow::Owned)
            .map_err(fail)
        },
    ),
    function(
        "isDateAfter",
        &[
            req("date", "A date."),
            req("reference", "The date to compare with."),
        ],
        "Whether the date is strictly after the reference.",
        |c| {
            super::dates::is_date_after(
                c.arg(0).unwrap_or(&Value::Null),
                c.arg(1).unwrap_or(&Value::Null),
            )
            .map(Cow::Owned)
            .map_err(fail)
        },
    ),
    function(
        "isDateBetween",
        &[
            req("date", "A date."),
            req("after", "The start, excluded."),
            req("before", "The end, excluded."),
        ],
        "Whether the date is strictly between two dates.",
        |c| {
            let null = Value::Null;
            super::dates::is_date_between(
                c.arg(0).unwrap_or(&null),
                c.arg(1).unwrap_or(&null),
                c.arg(2).unwrap_or(&null),
            )
            .map(Cow::Owned)
            .map_err(fail)
        },
    ),
    function(
        "isDayWeekInMonth",
        &[
            req("date", "A date."),
            req("dayOfWeek", "MONDAY to SUNDAY."),
            req("dayInMonth", "FIRST, SECOND, THIRD, FOURTH or LAST."),
        ],
        "Whether the date is that weekday at that position in its month.",
        |c| {
            let (day, position) = (c.text(1).unwrap_or_default(), c.text(2).unwrap_or_default());
            super::dates::is_day_week_in_month(c.arg(0).unwrap_or(&Value::Null), &day, &position)
                .map(Cow::Owned)
                .map_err(fail)
        },
    ),
    function(
        "isLastWorkingDay",
        &[
            req("date", "A date."),
            opt(
                "workingDays",
                "The working days, comma-separated (default MONDAY to FRIDAY).",
            ),
        ],
        "Whether the date is the last working day of its month.",
        |c| {
            let days = c.text(1);
            super::dates::is_last_working_day(c.arg(0).unwrap_or(&Value::Null), days.as_deref())
                .map(Cow::Owned)
                .map_err(fail)
        },
    ),
    function(
        "now",
        &[
            opt(
                "format",
                "A Java DateTimeFormatter pattern (default ISO-8601).",
            ),
            opt("timeZone", "A time zone id (default UTC)."),
        ],
        "The current date and time.",
        now,
    ),
    function(
        "read",
        &[
            req(
                "path",
                "A namespace file's path (`sql/query.sql`), or a `storage://` URI of the execution's files, or a namespace file's `kestra:///…/_files/…` URI.",
            ),
            opt(
                "namespace",
                "The namespace whose file to read (default the flow's).",
            ),
            opt(
                "version",
                "A namespace file's revision (default the latest).",
            ),
        ],
        "The text of a namespace file or of a file in internal storage.",
        read,
    ),
    function(
        "fileSize",
        &[req(
            "path",
            "The URI of a file of this execution (or of the execution that triggered it).",
        )],
        "The size of a file of internal storage, in bytes.",
        file_size,
    ),
    function(
        "fileURI",
        &[req(
            "path",
            "The path of a namespace file, such as `scripts/clean.py`.",
        )],
        "The internal-storage URI of a file of the flow's namespace: `kestra:///<namespace as folders>/_files/<path>`.",
        file_uri,
    ),
    function(
        "encrypt",
        &[
            req(
                "key",
                "The key: base64 of 16 or 32 bytes, usually a secret.",
            ),
            req("plaintext", "The text to encrypt."),
        ],
        "Encrypts text with AES-GCM as Kestra does (a random IV, then the ciphertext, in base64).",
        encrypt,
    ),
    function(
        "decrypt",
        &[
            req("key", "The key `encrypt` used."),
            req("encrypted", "What `encrypt` returned."),
        ],
        "Decrypts what `encrypt` returned.",
        decrypt,
    ),
    function(
        "currentEachOutput",
        &[req(
            "outputs",
            "The outputs of a task inside ForEach loops, such as `outputs.my_task`.",
        )],
        "The outputs of that task for the current iteration of every enclosing ForEach.",
        current_each_output,
    ),
    function(
        "errorLogs",
        &[],
        "The execution's ERROR log lines so far (taskId, message, timestamp...), most useful in `errors` tasks.",
        error_logs,
    ),
    function(
        "kv",
        &[
            req("key", "The key."),
            opt("namespace", "The namespace (default the flow's)."),
            opt(
                "errorOnMissing",
                "Fail when the key is missing or expired (default true); false gives null.",
            ),
        ],
        "The value of a key of the namespace's KV store.",
        kv,
    ),
    function(
        "render",
        &[
            req("toRender", "A template, often read from a variable."),
            opt(
                "recursive",
                "Render the result again until it stops changing (default true).",
            ),
        ],
        "Renders a string as a template against the same variables.",
        render,
    ),
    function(
        "renderOnce",
        &[req("toRender", "A template, often read from a variable.")],
        "Renders a string as a template once.",
        render_once,
    ),
    function(
        "fromJson",
        &[req("json", "JSON text.")],
        "Parses JSON text into a value.",
        from_json,
    ),
    function(
        "json",
        &[req("json", "JSON text.")],
        "Parses JSON text into a value (deprecated in Kestra: use `fromJson`).",
        from_json,
    ),
    function(
        "range",
        &[
            req("start", "The first number."),
            req("end", "The last number (included)."),
            opt("increment", "The step (default 1)."),
        ],
        "The whole numbers from `start` to `end`, both included.",
        range,
    ),
    function("max", &[], "The largest of its numbers.", max).variadic(),
    function("min", &[], "The smallest of its numbers.", min).variadic(),
    function("uuid", &[], "A random UUID (version 4).", uuid),
    function(
        "id",
        &[],
        "A random short id (22 characters of base62), as Kestra's IdUtils.",
        id,
    ),
    function(
        "randomInt",
        &[
            req("lower", "The smallest value."),
            req("upper", "The value above the largest (excluded)."),
        ],
        "A random whole number from `lower` up to `upper`, excluded.",
        random_int,
    ),
    function(
        "printContext",
        &[],
        "Every variable the expression can read, as a map.",
        print_context,
    ),
    function(
        "fetchContext",
        &[],
        "Every variable the expression can read, as a map.",
        print_context,
    ),
    test("null", "Whether the value is null.", is_null),
    test(
        "defined",
        "Whether the value is defined and not null; unlike other expressions it accepts an undefined value.",
        is_defined,
    ),
    test(
        "empty",
        "Whether the value is null, blank text, an empty list or an empty map.",
        is_empty,
    ),
    test("even", "Whether the number is even.", is_even),
    test("odd", "Whether the number is odd.", is_odd),
    test("iterable", "Whether the value is a list.", is_iterable),
    test("map", "Whether the value is a map.", is_map),
    test(
        "json",
        "Whether the value is text that parses as JSON.",
        is_json,
    ),
];

fn secret<'a>(call: Call<'a, '_>) -> Out<'a> {
    let name = call.text(0).unwrap_or_default();
    let value = call
        .ev
        .host
        .secret(&name)
        .ok_or_else(|| fail(format!(
            "secret {name:?} is not set: set it in the namespace (`mortar secrets set NAMESPACE {name} --value-stdin`) or define SECRET_{name} (base64 of the value) where the server runs"
        )))?;
    // Always masked, however many strings were derived before it.
    call.ev.masker.add(&value);
    call.ev.tainted_result = true;
    text(value)
}

fn now<'a>(call: Call<'a, '_>) -> Out<'a> {
    let (format, zone) = (call.text(0), call.text(1));
    super::dates::now(format.as_deref(), zone.as_deref(), None, call.ev.host.now())
        .map(Cow::Owned)
        .map_err(fail)
}

fn on_date<'a>(call: Call<'a, '_>, f: fn(&Value) -> Result<Value, String>) -> Out<'a> {
    f(call.arg(0).unwrap_or(&Value::Null))
        .map(Cow::Owned)
        .map_err(fail)
}

/// Kestra's ReadFileFunction: an execution's file by its URI, or a
/// namespace file by its path (or by the URI `fileURI` gives).
fn read<'a>(call: Call<'a, '_>) -> Out<'a> {
    let Some(path) = call.text(0) else {
        return Err(fail(
            "The 'read' function expects an argument 'path' that is a path to a namespace file or an internal storage URI.",
        ));
    };
    if path.starts_with("storage://") {
        return text(call.ev.host.read(&path).map_err(fail)?);
    }
    let flow_namespace = call
        .ev
        .context
        .get("flow")
        .and_then(|f| f.get("namespace"))
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    let version = call
        .int(2, "version")?
        .map(|v| {
            u32::try_from(v).map_err(|_| fail(format!("version {v} is not a revision number")))
        })
        .transpose()?;
    let (namespace, file) = match path.strip_prefix("kestra:///") {
        Some(rest) => {
            let Some((folders, file)) = rest.split_once("/_files/") else {
                return Err(fail(format!(
                    "{path}: Mortar's internal storage URIs are storage:///…; a kestra:/// URI names a namespace file (…/_files/…)"
                )));
            };
            // Folders are the namespace's parts: the flow's own when they match.
            let namespace = if folders == flow_namespace.replace('.', "/") {
                flow_namespace.clone()
            } else {
                folders.replace('/', ".")
            };
            (namespace, file.to_owned())
        }
        None => (call.text(1).unwrap_or(flow_namespace), path),
    };
    text(
        call.ev
            .host
            .namespace_file(&namespace, &file, version)
            .map_err(fail)?,
    )
}

/// Kestra's FileSizeFunction: only a file of the current execution, or of
/// the execution whose end triggered this one.
fn file_size<'a>(call: Call<'a, '_>) -> Out<'a> {
    let Some(path) = call.text(0) else {
        return Err(fail(
            "`fileSize` needs the URI of a file in internal storage",
        ));
    };
    let context = call.ev.context;
    let field = |root: &str, key: &str| {
        context
            .get(root)
            .and_then(|v| v.get(key))
            .and_then(Value::as_str)
            .map(str::to_owned)
    };
    let owned_by =
        |namespace: Option<String>, flow: Option<String>, execution: Option<String>| match (
            namespace, flow, execution,
        ) {
            (Some(n), Some(f), Some(e)) => {
                path.starts_with(&format!("storage:///{n}/{f}/executions/{e}/"))
            }
            _ => false,
        };
    let mine = owned_by(
        field("flow", "namespace"),
        field("flow", "id"),
        field("execution", "id"),
    );
    let parents = owned_by(
        field("trigger", "namespace"),
        field("trigger", "flowId"),
        field("trigger", "executionId"),
    );
    if !mine && !parents {
        return Err(fail(format!(
            "cannot read {path:?}: it is not a file of this execution"
        )));
    }
    owned(Value::from(call.ev.host.file_size(&path).map_err(fail)?))
}

/// Kestra's CurrentEachOutputFunction: down the outputs by each enclosing
/// iteration's value (`parents`, outermost first), then by this one's.
fn current_each_output<'a>(call: Call<'a, '_>) -> Out<'a> {
    let Some(mut outputs) = call.arg(0) else {
        return Err(fail("`currentEachOutput` expects an argument `outputs`"));
    };
    if !outputs.is_object() {
        return Err(fail(format!(
            "`currentEachOutput` expects the outputs of a task (a map), not {}",
            value::describe(outputs)
        )));
    }
    let context = call.ev.context;
    let key = |v: &Value| match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    if let Some(Value::Array(parents)) = context.get("parents") {
        for parent in parents.iter().rev() {
            if let Some(value) = parent.get("taskrun").and_then(|t| t.get("value")) {
                outputs = outputs.get(key(value)).unwrap_or(&Value::Null);
            }
        }
    }
    let own = context
        .get("taskrun")
        .and_then(|t| t.get("value"))
        .map(key)
        .unwrap_or_default();
    owned(outputs.get(own).cloned().unwrap_or(Value::Null))
}

/// Kestra's ErrorLogsFunction; the runtime reads them ahead into the context.
fn error_logs<'a>(call: Call<'a, '_>) -> Out<'a> {
    match call.ev.context.get(crate::flow::expr::ERROR_LOGS) {
        Some(logs) => Ok(Cow::Borrowed(logs)),
        None => Err(fail(
            "errorLogs() runs only where flows run, in a task's properties",
        )),
    }
}

/// Kestra's KvFunction.
fn kv<'a>(call: Call<'a, '_>) -> Out<'a> {
    let key = call
        .text(0)
        .ok_or_else(|| fail("`kv` expects an argument `key`"))?;
    let explicit = call.text(1);
    let namespace = match &explicit {
        Some(namespace) => namespace.clone(),
        None => call
            .ev
            .context
            .get("flow")
            .and_then(|f| f.get("namespace"))
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned(),
    };
    let error_on_missing = call.bool(2, "errorOnMissing")?.unwrap_or(true);
    // The flow's namespace, then its parents (company.team, then company),
    // unless a namespace is named.
    let mut current = namespace.as_str();
    loop {
        if let Some(value) = call.ev.host.kv(current, &key).map_err(fail)? {
            return owned(value);
        }
        match current.rfind('.') {
            Some(dot) if explicit.is_none() => current = &current[..dot],
            _ => break,
        }
    }
    if error_on_missing {
        Err(fail(format!(
            "the key '{key}' does not exist in the namespace '{namespace}'"
        )))
    } else {
        owned(Value::Null)
    }
}

/// Kestra's FileURIFunction.
fn file_uri<'a>(call: Call<'a, '_>) -> Out<'a> {
    let path = call
        .text(0)
        .ok_or_else(|| fail("`fileURI` needs the path of a namespace file"))?;
    let path = path.strip_prefix('/').unwrap_or(&path);
    if path.contains("../") {
        return Err(fail("the path must not contain `../`"));
    }
    let namespace = call
        .ev
        .context
        .get("flow")
        .and_then(|f| f.get("namespace"))
        .and_then(Value::as_str)
        .unwrap_or_default();
    text(format!(
        "kestra:///{}/_files/{path}",
        namespace.replace('.', "/")
    ))
}

fn encrypt<'a>(call: Call<'a, '_>) -> Out<'a> {
    let (Some(key), Some(plain)) = (call.text(0), call.text(1)) else {
        return Err(fail(
            "`encrypt` expects two arguments, `key` and `plaintext`",
        ));
    };
    text(call.ev.host.encrypt(&key, &plain).map_err(fail)?)
}

fn decrypt<'a>(call: Call<'a, '_>) -> Out<'a> {
    let (Some(key), Some(sealed)) = (call.text(0), call.text(1)) else {
        return Err(fail(
            "`decrypt` expects two arguments, `key` and `encrypted`",
        ));
    };
    text(call.ev.host.decrypt(&key, &sealed).map_err(fail)?)
}

fn render<'a>(call: Call<'a, '_>) -> Out<'a> {
    let recursive = call.bool(1, "recursive")?.unwrap_or(true);
    render_with(call, recursive)
}

fn render_once<'a>(call: Call<'a, '_>) -> Out<'a> {
    render_with(call, false)
}

/// Kestra's RenderFunction: a string renders against the same variables
/// (again and again while it changes, when recursive); anything else is
/// returned as it is.
fn render_with<'a>(mut call: Call<'a, '_>, recursive: bool) -> Out<'a> {
    let source = match call.take(0) {
        Some(Cow::Borrowed(Value::String(s))) => s.clone(),
        Some(Cow::Owned(Value::String(s))) => s,
        Some(other) => return Ok(other),
        None => return owned(Value::Null),
    };
    let mut current = source;
    for _ in 0..MAX_RENDERING {
        let rendered = call.ev.render_nested(&current)?;
        if !recursive || rendered == current {
            return text(rendered);
        }
        current = rendered;
    }
    Err(fail(format!(
        "the result still changed after {MAX_RENDERING} renderings: does a variable render itself?"
    )))
}

fn from_json<'a>(call: Call<'a, '_>) -> Out<'a> {
    match call.arg(0) {
        None => owned(Value::Null),
        Some(Value::String(source)) => {
            owned(serde_json::from_str(source).map_err(|e| fail(format!("invalid JSON: {e}")))?)
        }
        Some(other) => Err(fail(format!(
            "`json` is JSON text, not {}",
            value::describe(other)
        ))),
    }
}

fn range<'a>(call: Call<'a, '_>) -> Out<'a> {
    let start = call.int(0, "start")?.unwrap_or(0);
    let end = call.int(1, "end")?.unwrap_or(0);
    let step = call.int(2, "increment")?.unwrap_or(1);
    owned(Value::Array(call.ev.range(start, end, step)?))
}

/// Pebble's MaxFunction and MinFunction: the first argument that beats
/// every other, by number.
fn extreme<'a>(call: Call<'a, '_>, greater: bool) -> Out<'a> {
    let mut best: Option<Cow<'a, Value>> = None;
    for candidate in call.rest {
        let Some(n) = number_of(&candidate) else {
            return Err(fail(format!(
                "compares numbers, not {}",
                value::describe(&candidate)
            )));
        };
        let wins = match &best {
            None => true,
            Some(b) => {
                let b = number_of(b).map_or(f64::NAN, Num::as_f64);
                if greater {
                    n.as_f64() > b
                } else {
                    n.as_f64() < b
                }
            }
        };
        if wins {
            best = Some(candidate);
        }
    }
    Ok(best.unwrap_or(Cow::Owned(Value::Null)))
}

fn max<'a>(call: Call<'a, '_>) -> Out<'a> {
    extreme(call, true)
}

fn min<'a>(call: Call<'a, '_>) -> Out<'a> {
    extreme(call, false)
}

fn uuid<'a>(call: Call<'a, '_>) -> Out<'a> {
    let bits = (u128::from(call.ev.host.random()) << 64) | u128::from(call.ev.host.random());
    // Version 4, variant 10: the UUID's fixed bits.
    let bits = (bits & !(0xf << 76) & !(0x3 << 62)) | (0x4 << 76) | (0x2 << 62);
    let hex = format!("{bits:032x}");
    text(format!(
        "{}-{}-{}-{}-{}",
        &hex[..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..]
    ))
}

fn id<'a>(call: Call<'a, '_>) -> Out<'a> {
    const DIGITS: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    let mut bits = (u128::from(call.ev.host.random()) << 64) | u128::from(call.ev.host.random());
    let mut out = String::new();
    for _ in 0..22 {
        out.push(DIGITS[(bits % 62) as usize] as char);
        bits /= 62;
    }
    text(out)
}

fn random_int<'a>(call: Call<'a, '_>) -> Out<'a> {
    let lower = call.int(0, "lower")?.unwrap_or(0);
    let upper = call.int(1, "upper")?.unwrap_or(0);
    if upper < lower {
        return Err(fail("`upper` is less than `lower`"));
    }
    let width = upper.abs_diff(lower);
    if width == 0 {
        return owned(Value::from(lower));
    }
    owned(Value::from(
        lower.wrapping_add((call.ev.host.random() % width) as i64),
    ))
}

fn print_context<'a>(call: Call<'a, '_>) -> Out<'a> {
    // The context holds the SECRET inputs' values.
    call.ev.tainted_result |= !call.ev.secret_inputs.is_empty();
    Ok(Cow::Borrowed(call.ev.context))
}

fn is_null<'a>(call: Call<'a, '_>) -> Out<'a> {
    owned(Value::Bool(call.input.is_null()))
}

fn is_defined<'a>(call: Call<'a, '_>) -> Out<'a> {
    owned(Value::Bool(!call.input.is_null()))
}

fn is_empty<'a>(call: Call<'a, '_>) -> Out<'a> {
    owned(Value::Bool(match call.input.as_ref() {
        Value::Null => true,
        Value::String(s) => s.trim().is_empty(),
        Value::Array(items) => items.is_empty(),
        Value::Object(map) => map.is_empty(),
        _ => false,
    }))
}

fn parity(call: &Call<'_, '_>) -> Result<i64, super::eval::EvalError> {
    match number_of(&call.input) {
        Some(Num::Int(i)) => Ok(i.rem_euclid(2)),
        Some(Num::Float(f)) => Ok((f as i64).rem_euclid(2)),
        None => Err(fail(format!(
            "applies to a whole number, not {}",
            value::describe(&call.input)
        ))),
    }
}

fn is_even<'a>(call: Call<'a, '_>) -> Out<'a> {
    owned(Value::Bool(parity(&call)? == 0))
}

fn is_odd<'a>(call: Call<'a, '_>) -> Out<'a> {
    owned(Value::Bool(parity(&call)? == 1))
}

fn is_iterable<'a>(call: Call<'a, '_>) -> Out<'a> {
    owned(Value::Bool(call.input.is_array()))
}

fn is_map<'a>(call: Call<'a, '_>) -> Out<'a> {
    owned(Value::Bool(call.input.is_object()))
}

fn is_json<'a>(call: Call<'a, '_>) -> Out<'a> {
    let Value::String(source) = call.input.as_ref() else {
        return owned(Value::Bool(false));
    };
    owned(Value::Bool(
        serde_json::from_str::<serde::de::IgnoredAny>(source).is_ok(),
    ))
}
