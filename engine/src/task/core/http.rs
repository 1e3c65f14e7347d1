//! Kestra's `io.kestra.plugin.core.http` package: `http.Request` and
//! `http.Download`, with Kestra's properties (its current `options` and the
//! older flat ones it still reads) and outputs.

use crate::flow::registry::Kind::*;
use crate::flow::registry::{Category, Property, TaskType, def, ex, prop, req, runner};

/// `options.timeout`.
const TIMEOUT: &[Property] = &[
    prop(
        "connectTimeout",
        Duration,
        "How long to wait for the connection; 30 seconds when unset.",
    ),
    prop(
        "readIdleTimeout",
        Duration,
        "How long the server may send nothing before the request fails; 5 minutes when unset.",
    ),
];

/// `options.auth`.
const AUTH: &[Property] = &[
    req(
        "type",
        Enum {
            values: &["BASIC", "BEARER"],
        },
        "BASIC (username and password) or BEARER (token).",
    ),
    prop("username", String, "BASIC's user."),
    prop("password", String, "BASIC's password; use secret('...')."),
    prop("token", String, "BEARER's token; use secret('...')."),
];

/// `options.proxy`.
const PROXY: &[Property] = &[
    def(
        "type",
        Enum {
            values: &["DIRECT", "HTTP"],
        },
        "\"DIRECT\"",
        "HTTP to go through the proxy; DIRECT not to.",
    ),
    prop("address", String, "The proxy's host."),
    prop("port", Integer, "The proxy's port."),
    prop("username", String, "The proxy's user."),
    prop("password", String, "The proxy's password."),
];

/// `options.ssl` and the older `sslOptions`.
const SSL: &[Property] = &[prop(
    "insecureTrustAllCertificates",
    Boolean,
    "Accept any server certificate (insecure: for tests against a self-signed server).",
)];

/// `options`: Kestra's HttpConfiguration, with its deprecated flat names.
const OPTIONS: &[Property] = &[
    prop(
        "timeout",
        Object {
            properties: TIMEOUT,
        },
        "connectTimeout and readIdleTimeout.",
    ),
    prop(
        "auth",
        Object { properties: AUTH },
        "Basic or bearer authentication.",
    ),
    prop(
        "proxy",
        Object { properties: PROXY },
        "A proxy to go through.",
    ),
    prop("ssl", Object { properties: SSL }, "TLS settings."),
    def(
        "followRedirects",
        Boolean,
        "true",
        "Follow redirections (up to 10).",
    ),
    def(
        "allowFailed",
        Boolean,
        "false",
        "A response code of 400 or more does not fail the task.",
    ),
    prop(
        "allowedResponseCodes",
        Any,
        "The only response codes that do not fail the task, such as [200, 404].",
    ),
    prop(
        "defaultCharset",
        String,
        "Accepted for Kestra compatibility; bodies are UTF-8.",
    ),
    prop(
        "logs",
        StringList,
        "Also log REQUEST_HEADERS, REQUEST_BODY, RESPONSE_HEADERS or RESPONSE_BODY (at DEBUG).",
    ),
    prop(
        "connectTimeout",
        Duration,
        "The older name of timeout.connectTimeout.",
    ),
    prop(
        "readTimeout",
        Duration,
        "The older name of timeout.readIdleTimeout.",
    ),
    prop(
        "readIdleTimeout",
        Duration,
        "The older name of timeout.readIdleTimeout.",
    ),
    prop(
        "connectionPoolIdleTimeout",
        Duration,
        "Accepted for Kestra compatibility.",
    ),
    prop(
        "maxContentLength",
        Integer,
        "The largest response body http.Request keeps, in bytes; 10 MiB when unset.",
    ),
    prop(
        "basicAuthUser",
        String,
        "The older form of auth BASIC's username.",
    ),
    prop(
        "basicAuthPassword",
        String,
        "The older form of auth BASIC's password.",
    ),
    prop(
        "proxyType",
        Enum {
            values: &["DIRECT", "HTTP"],
        },
        "The older name of proxy.type.",
    ),
    prop("proxyAddress", String, "The older name of proxy.address."),
    prop("proxyPort", Integer, "The older name of proxy.port."),
    prop("proxyUsername", String, "The older name of proxy.username."),
    prop("proxyPassword", String, "The older name of proxy.password."),
    prop("logLevel", String, "Accepted for Kestra compatibility."),
];

/// The properties both tasks have (Kestra's AbstractHttp), then their own.
macro_rules! http {
    ($($p:expr),* $(,)?) => {
        &[
            ex(req("uri", String, "The URL to call."), "https://api.example.com/v1/items"),
            def("method", String, "\"GET\"", "GET, POST, PUT, PATCH, DELETE, HEAD or OPTIONS."),
            prop("body", String, "The request's body, as text."),
            prop("formData", Map, "A form to send instead of body: URL-encoded, or multipart with contentType multipart/form-data (a storage:// value, or {name, content}, sends a file)."),
            def("contentType", String, "\"application/json\"", "The body's Content-Type."),
            prop("headers", Map, "Request headers."),
            prop("options", Object { properties: OPTIONS }, "Timeouts, authentication, redirects, proxy, TLS, which codes fail."),
            prop("sslOptions", Object { properties: SSL }, "The older name of options.ssl."),
            prop("allowFailed", Boolean, "The older name of options.allowFailed."),
            $($p),*
        ]
    };
}

pub const REQUEST: TaskType = TaskType {
    name: "io.kestra.plugin.core.http.Request",
    alias: "http.Request",
    category: Category::Task,
    doc: "Calls a URL and keeps the response: its code, headers and body (text, up to maxContentLength). A code of 400 or more fails the task unless allowed.",
    properties: http![prop(
        "encryptBody",
        Boolean,
        "Kestra's encrypted body output; Mortar does not encrypt outputs yet, so true fails the task rather than keep the body in clear."
    )],
    outputs: &[
        ("uri", "The URL called."),
        ("code", "The response's status code."),
        (
            "headers",
            "The response's headers, each name (lower case) with its list of values.",
        ),
        ("body", "The response's body as text; null when empty."),
        ("formData", "The form sent, if any."),
    ],
    run: runner!(run::Request),
    check: None,
    aliases: &["io.kestra.plugin.fs.http.Request"],
};

pub const SSE_REQUEST: TaskType = TaskType {
    name: "io.kestra.plugin.core.http.SseRequest",
    alias: "http.SseRequest",
    category: Category::Task,
    doc: "Reads a Server-Sent Events stream until the server ends it: every event (data as JSON when it parses), or the text concatJqExpression extracts from each.",
    properties: http![
        ex(
            prop(
                "concatJqExpression",
                String,
                "A jq expression applied to each event ({id, event, data}); the texts it gives are joined into `result`."
            ),
            ".data.message"
        ),
        def(
            "failedOnMissingJq",
            Boolean,
            "true",
            "Fail when the expression gives nothing for an event; false skips the event."
        ),
    ],
    outputs: &[
        ("uri", "The URL called."),
        (
            "events",
            "Every event ({id, event, data}), when no concatJqExpression is given.",
        ),
        ("size", "How many events came."),
        (
            "result",
            "The texts the expression extracted, joined, when it is given.",
        ),
    ],
    run: runner!(run::SseRequest),
    check: None,
    aliases: &[],
};

/// Polled by the scheduler (`scheduler.rs`), which calls the URL as
/// http.Request does, every `interval`.
pub const TRIGGER: TaskType = TaskType {
    name: "io.kestra.plugin.core.http.Trigger",
    alias: "http.Trigger",
    category: Category::Trigger,
    doc: "Calls a URL every interval and starts an execution when responseCondition holds for the response; `{{ trigger.body }}`, `trigger.code`, `trigger.headers` and `trigger.uri` are the response.",
    properties: http![
        def(
            "interval",
            Duration,
            "\"PT60S\"",
            "How often to call the URL."
        ),
        def(
            "responseCondition",
            String,
            "\"{{ response.statusCode < 400 }}\"",
            "Whether the response starts an execution: an expression over `response.statusCode`, `response.body` and `response.headers`."
        ),
        prop(
            "conditions",
            Conditions,
            "Further conditions, checked after responseCondition."
        ),
        prop("inputs", Map, "Inputs of the executions it starts."),
        prop("stopAfter", Any, "Accepted for Kestra compatibility."),
        prop(
            "encryptBody",
            Boolean,
            "Kestra's encrypted body; Mortar does not encrypt trigger outputs, so true is refused."
        ),
    ],
    outputs: &[
        ("uri", "The URL called."),
        ("code", "The response's status code."),
        ("headers", "Its headers."),
        ("body", "Its body as text."),
    ],
    run: None,
    check: None,
    aliases: &["io.kestra.plugin.fs.http.Trigger"],
};

pub const DOWNLOAD: TaskType = TaskType {
    name: "io.kestra.plugin.core.http.Download",
    alias: "http.Download",
    category: Category::Task,
    doc: "Downloads a URL's response into internal storage, streamed, named after the Content-Disposition header or the URL's last segment.",
    properties: http![
        def(
            "failOnEmptyResponse",
            Boolean,
            "true",
            "Fail when the response is empty."
        ),
        ex(
            prop(
                "saveAs",
                String,
                "The file's name in internal storage, instead of the server's or the URL's."
            ),
            "orders.csv"
        ),
    ],
    outputs: &[
        ("uri", "The storage:// URI of the file."),
        ("code", "The response's status code."),
        ("length", "The file's size in bytes."),
        (
            "headers",
            "The response's headers, each name (lower case) with its list of values.",
        ),
    ],
    run: runner!(run::Download),
    check: None,
    aliases: &["io.kestra.plugin.fs.http.Download"],
};

#[cfg(feature = "runtime")]
mod run {
    use std::time::Duration;

    use futures::TryStreamExt;
    use futures::future::BoxFuture;
    use serde::Deserialize;
    use serde_json::{Map, Value, json};

    use crate::storage::{SCHEME, Storage};
    use crate::task::core::as_text as text;
    use crate::task::core::parse_duration;
    use crate::task::{Outputs, Runner, TaskContext, TaskError};

    const CONNECT_TIMEOUT: Duration = Duration::from_secs(30);
    /// Kestra's default read idle timeout.
    const READ_IDLE_TIMEOUT: Duration = Duration::from_secs(300);
    /// Kestra's default maxContentLength for a body kept in the outputs.
    const MAX_CONTENT_LENGTH: u64 = 10 * 1024 * 1024;

    #[derive(Deserialize, Default)]
    #[serde(rename_all = "camelCase")]
    struct Http {
        uri: String,
        #[serde(default)]
        method: Option<String>,
        #[serde(default)]
        body: Option<Value>,
        #[serde(default)]
        form_data: Option<Map<String, Value>>,
        #[serde(default)]
        content_type: Option<String>,
        #[serde(default)]
        headers: Option<Map<String, Value>>,
        #[serde(default)]
        options: Options,
        #[serde(default)]
        ssl_options: Option<Ssl>,
        #[serde(default)]
        allow_failed: Option<bool>,
    }

    #[derive(Deserialize, Default)]
    #[serde(rename_all = "camelCase")]
    struct Options {
        timeout: Option<Timeout>,
        auth: Option<Auth>,
        proxy: Option<Proxy>,
        ssl: Option<Ssl>,
        follow_redirects: Option<bool>,
        allow_failed: Option<bool>,
        allowed_response_codes: Option<Value>,
        logs: Option<Vec<String>>,
        connect_timeout: Option<String>,
        read_timeout: Option<String>,
        read_idle_timeout: Option<String>,
        max_content_length: Option<u64>,
        basic_auth_user: Option<String>,
        basic_auth_password: Option<String>,
        proxy_type: Option<String>,
        proxy_address: Option<String>,
        proxy_port: Option<u16>,
        proxy_username: Option<String>,
        proxy_password: Option<String>,
    }

    #[derive(Deserialize, Default)]
    #[serde(rename_all = "camelCase")]
    struct Timeout {
        connect_timeout: Option<String>,
        read_idle_timeout: Option<String>,
    }

    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Auth {
        #[serde(rename = "type")]
        kind: String,
        username: Option<String>,
        password: Option<String>,
        token: Option<String>,
    }

    #[derive(Deserialize, Default)]
    #[serde(rename_all = "camelCase")]
    struct Proxy {
        #[serde(rename = "type")]
        kind: Option<String>,
        address: Option<String>,
        port: Option<u16>,
        username: Option<String>,
        password: Option<String>,
    }

    #[derive(Deserialize, Default)]
    #[serde(rename_all = "camelCase")]
    struct Ssl {
        insecure_trust_all_certificates: Option<bool>,
    }

    fn duration(
        ctx: &TaskContext,
        name: &str,
        text: Option<&str>,
    ) -> Result<Option<Duration>, TaskError> {
        text.map(|t| parse_duration(t).map_err(|m| ctx.invalid(format!("options.{name}: {m}"))))
            .transpose()
    }

    /// The client and request a task's properties describe.
    fn prepare(ctx: &TaskContext, props: &Http) -> Result<reqwest::RequestBuilder, TaskError> {
        let options = &props.options;
        let timeout = options.timeout.as_ref();
        let connect = duration(
            ctx,
            "timeout.connectTimeout",
            timeout.and_then(|t| t.connect_timeout.as_deref()),
        )?
        .or(duration(
            ctx,
            "connectTimeout",
            options.connect_timeout.as_deref(),
        )?)
        .unwrap_or(CONNECT_TIMEOUT);
        let read = duration(
            ctx,
            "timeout.readIdleTimeout",
            timeout.and_then(|t| t.read_idle_timeout.as_deref()),
        )?
        .or(duration(
            ctx,
            "readIdleTimeout",
            options.read_idle_timeout.as_deref(),
        )?)
        .or(duration(
            ctx,
            "readTimeout",
            options.read_timeout.as_deref(),
        )?)
        .unwrap_or(READ_IDLE_TIMEOUT);
        let redirects = if options.follow_redirects.unwrap_or(true) {
            reqwest::redirect::Policy::limited(10)
        } else {
            reqwest::redirect::Policy::none()
        };
        let insecure = options
            .ssl
            .as_ref()
            .or(props.ssl_options.as_ref())
            .and_then(|s| s.insecure_trust_all_certificates)
            .unwrap_or(false);
        let mut builder = crate::http::client_builder()
            .connect_timeout(connect)
            .read_timeout(read)
            .redirect(redirects)
            .danger_accept_invalid_certs(insecure);
        if let Some(proxy) = proxy(ctx, options)? {
            builder = builder.proxy(proxy);
        }
        let client = builder
            .build()
            .map_err(|e| TaskError::Failed(format!("the HTTP client could not be set up: {e}")))?;

        let url = reqwest::Url::parse(props.uri.trim())
            .map_err(|e| ctx.invalid(format!("uri {:?} is not a URL: {e}", props.uri)))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(ctx.invalid(format!(
                "uri {:?} is not an http:// or https:// URL",
                props.uri
            )));
        }
        let method_text = props
            .method
            .as_deref()
            .unwrap_or("GET")
            .trim()
            .to_ascii_uppercase();
        let method = reqwest::Method::from_bytes(method_text.as_bytes())
            .map_err(|_| ctx.invalid(format!("method {method_text:?} is not an HTTP method")))?;
        let mut request = client.request(method, url);

        if let Some(auth) = &options.auth {
            request = match auth.kind.to_ascii_uppercase().as_str() {
                "BASIC" => request.basic_auth(
                    auth.username.clone().unwrap_or_default(),
                    auth.password.clone(),
                ),
                "BEARER" => request.bearer_auth(
                    auth.token
                        .clone()
                        .ok_or_else(|| ctx.invalid("options.auth of type BEARER needs a token"))?,
                ),
                other => {
                    return Err(ctx.invalid(format!(
                        "options.auth.type {other:?} is not BASIC or BEARER"
                    )));
                }
            };
        } else if let (Some(user), Some(password)) =
            (&options.basic_auth_user, &options.basic_auth_password)
        {
            request = request.basic_auth(user, Some(password));
        }
        for (name, value) in props.headers.iter().flatten() {
            request = request.header(name.as_str(), text(value));
        }
        Ok(request)
    }

    fn proxy(ctx: &TaskContext, options: &Options) -> Result<Option<reqwest::Proxy>, TaskError> {
        let given = options.proxy.as_ref();
        let kind = given
            .and_then(|p| p.kind.clone())
            .or(options.proxy_type.clone())
            .unwrap_or_else(|| "DIRECT".into());
        let address = given
            .and_then(|p| p.address.clone())
            .or(options.proxy_address.clone());
        let port = given.and_then(|p| p.port).or(options.proxy_port);
        match (kind.to_ascii_uppercase().as_str(), address, port) {
            ("DIRECT", _, _) => Ok(None),
            ("HTTP", Some(address), Some(port)) => {
                let mut proxy = reqwest::Proxy::all(format!("http://{address}:{port}"))
                    .map_err(|e| ctx.invalid(format!("options.proxy: {e}")))?;
                let user = given
                    .and_then(|p| p.username.clone())
                    .or(options.proxy_username.clone());
                let password = given
                    .and_then(|p| p.password.clone())
                    .or(options.proxy_password.clone());
                if let Some(user) = user {
                    proxy = proxy.basic_auth(&user, password.as_deref().unwrap_or(""));
                }
                Ok(Some(proxy))
            }
            ("HTTP", _, _) => {
                Err(ctx.invalid("options.proxy of type HTTP needs an address and a port"))
            }
            (other, _, _) => Err(ctx.invalid(format!(
                "options.proxy type {other:?} is not supported: use HTTP or DIRECT"
            ))),
        }
    }

    /// The body: the form (URL-encoded or multipart), else `body` with
    /// `contentType`.
    async fn with_body(
        ctx: &TaskContext,
        props: &Http,
        mut request: reqwest::RequestBuilder,
    ) -> Result<reqwest::RequestBuilder, TaskError> {
        let content_type = props
            .content_type
            .clone()
            .unwrap_or_else(|| "application/json".into());
        if let Some(form) = props.form_data.as_ref().filter(|f| !f.is_empty()) {
            if content_type.eq_ignore_ascii_case("multipart/form-data") {
                let mut multipart = reqwest::multipart::Form::new();
                for (key, value) in form {
                    let part = match value {
                        Value::String(s) if s.starts_with(SCHEME) => {
                            file_part(ctx, s, None).await?
                        }
                        Value::Object(file)
                            if file.contains_key("name") && file.contains_key("content") =>
                        {
                            let content = file["content"].as_str().ok_or_else(|| {
                                ctx.invalid(format!(
                                    "formData.{key}.content must be a storage:// URI"
                                ))
                            })?;
                            file_part(ctx, content, Some(text(&file["name"]))).await?
                        }
                        Value::String(s) => reqwest::multipart::Part::text(s.clone()),
                        other => reqwest::multipart::Part::text(other.to_string()),
                    };
                    multipart = multipart.part(key.clone(), part);
                }
                request = request.multipart(multipart);
            } else {
                let pairs: Vec<(String, String)> =
                    form.iter().map(|(k, v)| (k.clone(), text(v))).collect();
                request = request.form(&pairs);
            }
        } else if let Some(body) = &props.body {
            request = request
                .header(reqwest::header::CONTENT_TYPE, content_type)
                .body(text(body));
        }
        Ok(request)
    }

    async fn file_part(
        ctx: &TaskContext,
        uri: &str,
        name: Option<String>,
    ) -> Result<reqwest::multipart::Part, TaskError> {
        let (file, size) = ctx.storage.open(uri).await?;
        let name = name.unwrap_or_else(|| uri.rsplit('/').next().unwrap_or("file").to_owned());
        let stream = tokio_util::io::ReaderStream::new(file);
        Ok(
            reqwest::multipart::Part::stream_with_length(reqwest::Body::wrap_stream(stream), size)
                .file_name(name),
        )
    }

    /// Sends, stopping at once on a kill.
    async fn send(
        ctx: &TaskContext,
        request: reqwest::RequestBuilder,
    ) -> Result<reqwest::Response, TaskError> {
        tokio::select! {
            () = ctx.cancel.cancelled() => Err(TaskError::Killed),
            sent = request.send() => sent.map_err(|e| TaskError::Failed(ctx.mask(&format!("the request failed: {}", describe(&e))))),
        }
    }

    fn describe(error: &reqwest::Error) -> String {
        let mut text = error.to_string();
        let mut source = std::error::Error::source(error);
        while let Some(cause) = source {
            text.push_str(&format!(": {cause}"));
            source = cause.source();
        }
        text
    }

    /// Headers as Kestra outputs them: each name with its list of values.
    fn headers(response: &reqwest::Response) -> Value {
        let mut map = Map::new();
        for (name, value) in response.headers() {
            let entry = map
                .entry(name.as_str().to_owned())
                .or_insert_with(|| Value::Array(Vec::new()));
            if let Value::Array(values) = entry {
                values.push(Value::String(
                    String::from_utf8_lossy(value.as_bytes()).into_owned(),
                ));
            }
        }
        Value::Object(map)
    }

    /// Whether `code` fails the task: outside allowedResponseCodes when
    /// given, else 400 or more unless allowFailed.
    fn refused(ctx: &TaskContext, props: &Http, code: u16) -> Result<bool, TaskError> {
        if let Some(allowed) = &props.options.allowed_response_codes {
            let codes: Vec<u64> = match allowed {
                Value::Array(items) => items.iter().map(|v| v.as_u64().or_else(|| v.as_str()?.trim().parse().ok())).collect::<Option<_>>(),
                Value::String(s) => serde_json::from_str::<Vec<u64>>(s).ok(),
                _ => None,
            }
            .ok_or_else(|| ctx.invalid("options.allowedResponseCodes must be a list of status codes such as [200, 404]"))?;
            return Ok(!codes.contains(&u64::from(code)));
        }
        let allow_failed = props
            .options
            .allow_failed
            .or(props.allow_failed)
            .unwrap_or(false);
        Ok(code >= 400 && !allow_failed)
    }

    fn wants_log(props: &Http, what: &str) -> bool {
        props
            .options
            .logs
            .iter()
            .flatten()
            .any(|l| l.eq_ignore_ascii_case(what))
    }

    pub(super) struct SseRequest;

    /// One event of a stream, as Kestra's HttpSseEvent: its `data` as JSON
    /// when it parses, else as text.
    fn sse_event(id: Option<&str>, event: Option<&str>, data: &[String]) -> Value {
        let text = data.join("\n");
        let data = serde_json::from_str::<Value>(&text).unwrap_or(Value::String(text));
        json!({"id": id, "event": event, "data": data})
    }

    impl Runner for SseRequest {
        fn run<'a>(&'a self, ctx: &'a TaskContext) -> BoxFuture<'a, Result<Outputs, TaskError>> {
            Box::pin(async move {
                let props: Http = ctx.properties()?;
                let jq = ctx
                    .prop("concatJqExpression")?
                    .as_str()
                    .filter(|e| !e.trim().is_empty())
                    .map(str::to_owned);
                let strict = ctx.prop("failedOnMissingJq")?.as_bool().unwrap_or(true);
                let request = with_body(ctx, &props, prepare(ctx, &props)?)
                    .await?
                    .header(reqwest::header::ACCEPT, "text/event-stream");
                let (client, request) = request.build_split();
                let request = request
                    .map_err(|e| ctx.invalid(format!("the request cannot be built: {e}")))?;
                let url = request.url().to_string();
                let response =
                    send(ctx, reqwest::RequestBuilder::from_parts(client, request)).await?;
                let code = response.status().as_u16();
                if refused(ctx, &props, code)? {
                    return Err(TaskError::Failed(
                        ctx.mask(&format!("Failed http request with response code '{code}'")),
                    ));
                }
                // The SSE wire format: lines, an empty one ends an event.
                let mut events = Vec::new();
                let (mut pending, mut data, mut id, mut name) = (
                    Vec::<u8>::new(),
                    Vec::<std::string::String>::new(),
                    None::<std::string::String>,
                    None::<std::string::String>,
                );
                let mut stream = response.bytes_stream();
                loop {
                    let chunk = tokio::select! {
                        () = ctx.cancel.cancelled() => return Err(TaskError::Killed),
                        chunk = stream.try_next() => chunk.map_err(|e| TaskError::Failed(ctx.mask(&format!("reading the stream failed: {}", describe(&e)))))?,
                    };
                    let done = chunk.is_none();
                    if let Some(chunk) = chunk {
                        pending.extend_from_slice(&chunk);
                    } else if !pending.is_empty() {
                        pending.push(b'\n');
                    }
                    while let Some(end) = pending.iter().position(|b| *b == b'\n') {
                        let line: Vec<u8> = pending.drain(..=end).collect();
                        let line = std::string::String::from_utf8_lossy(&line)
                            .trim_end_matches(['\n', '\r'])
                            .to_owned();
                        if line.is_empty() {
                            if !data.is_empty() || id.is_some() || name.is_some() {
                                events.push(sse_event(id.as_deref(), name.as_deref(), &data));
                            }
                            (data, id, name) = (Vec::new(), None, None);
                            continue;
                        }
                        let (field, value) =
                            line.split_once(':').map_or((line.as_str(), ""), |(f, v)| {
                                (f, v.strip_prefix(' ').unwrap_or(v))
                            });
                        match field {
                            "data" => data.push(value.to_owned()),
                            "id" => id = Some(value.to_owned()),
                            "event" => name = Some(value.to_owned()),
                            _ => {}
                        }
                    }
                    if done {
                        if !data.is_empty() {
                            events.push(sse_event(id.as_deref(), name.as_deref(), &data));
                        }
                        break;
                    }
                }
                ctx.info(format!("{url} sent {} events", events.len()))
                    .await;
                let mut outputs = Outputs::new();
                outputs.insert("uri".into(), json!(url));
                outputs.insert("size".into(), json!(events.len()));
                match jq {
                    None => {
                        outputs.insert("events".into(), Value::Array(events));
                    }
                    Some(expression) => {
                        let mut texts = Vec::new();
                        for event in &events {
                            let found = crate::flow::pebble::convert::jq(event, &expression)
                                .ok()
                                .and_then(|v| match v {
                                    Value::Array(mut items) if !items.is_empty() => {
                                        Some(items.remove(0))
                                    }
                                    Value::Array(_) | Value::Null => None,
                                    other => Some(other),
                                });
                            match found {
                                Some(Value::String(text)) => texts.push(text),
                                Some(v @ (Value::Number(_) | Value::Bool(_))) => {
                                    texts.push(v.to_string())
                                }
                                other => {
                                    let message = format!(
                                        "Failed to resolve JQ expression '{expression}' and value '{event}'"
                                    );
                                    if strict {
                                        return Err(TaskError::Failed(ctx.mask(&match other {
                                            Some(v) => {
                                                format!("{message}: expected a text value, not {v}")
                                            }
                                            None => message,
                                        })));
                                    }
                                    ctx.log(
                                        crate::log::Level::Debug,
                                        format!("{message}. Skipping this event."),
                                    )
                                    .await;
                                }
                            }
                        }
                        outputs.insert("result".into(), json!(texts.concat()));
                    }
                }
                Ok(outputs)
            })
        }
    }

    pub(super) struct Request;

    impl Runner for Request {
        fn run<'a>(&'a self, ctx: &'a TaskContext) -> BoxFuture<'a, Result<Outputs, TaskError>> {
            Box::pin(async move {
                let props: Http = ctx.properties()?;
                if ctx.prop("encryptBody")?.as_bool() == Some(true) {
                    return Err(ctx.invalid("encryptBody: Mortar does not encrypt outputs yet; remove it (the body is masked like every output) or keep the response out of the outputs with http.Download"));
                }
                let request = with_body(ctx, &props, prepare(ctx, &props)?).await?;
                let (client, request) = request.build_split();
                let request = request
                    .map_err(|e| ctx.invalid(format!("the request cannot be built: {e}")))?;
                let url = request.url().to_string();
                let method = request.method().to_string();
                if wants_log(&props, "REQUEST_HEADERS") {
                    ctx.log(
                        crate::log::Level::Debug,
                        format!(
                            "request headers: {:?}",
                            request.headers().keys().collect::<Vec<_>>()
                        ),
                    )
                    .await;
                }
                let response =
                    send(ctx, reqwest::RequestBuilder::from_parts(client, request)).await?;
                let code = response.status().as_u16();
                let headers = headers(&response);
                let limit = props
                    .options
                    .max_content_length
                    .unwrap_or(MAX_CONTENT_LENGTH);
                let mut body = Vec::new();
                let mut stream = response.bytes_stream();
                loop {
                    let chunk = tokio::select! {
                        () = ctx.cancel.cancelled() => return Err(TaskError::Killed),
                        chunk = stream.try_next() => chunk.map_err(|e| TaskError::Failed(ctx.mask(&format!("reading the response failed: {}", describe(&e)))))?,
                    };
                    let Some(chunk) = chunk else { break };
                    if (body.len() + chunk.len()) as u64 > limit {
                        return Err(TaskError::Failed(format!(
                            "the response of {method} {} is larger than options.maxContentLength ({limit} bytes): raise it, or use http.Download to store a large response as a file",
                            ctx.mask(&url)
                        )));
                    }
                    body.extend_from_slice(&chunk);
                }
                let body = match std::string::String::from_utf8(body) {
                    Ok(text) => text,
                    Err(_) => return Err(TaskError::Failed("the response body is not valid UTF-8 text: http.Request keeps text only; use http.Download to store it as a file".into())),
                };
                ctx.info(format!(
                    "{method} {url} answered {code} ({} bytes)",
                    body.len()
                ))
                .await;
                if wants_log(&props, "RESPONSE_BODY") {
                    ctx.log(crate::log::Level::Debug, format!("response body: {body}"))
                        .await;
                }
                if refused(ctx, &props, code)? {
                    let excerpt: std::string::String = body.chars().take(500).collect();
                    return Err(TaskError::Failed(ctx.mask(&format!(
                        "Failed http request with response code '{code}': {excerpt}"
                    ))));
                }
                let mut outputs = Outputs::new();
                outputs.insert("uri".into(), json!(url));
                outputs.insert("code".into(), json!(code));
                outputs.insert("headers".into(), headers);
                outputs.insert(
                    "body".into(),
                    if body.is_empty() {
                        Value::Null
                    } else {
                        Value::String(body)
                    },
                );
                if let Some(form) = props.form_data.filter(|f| !f.is_empty()) {
                    outputs.insert("formData".into(), Value::Object(form));
                }
                Ok(outputs)
            })
        }
    }

    pub(super) struct Download;

    impl Runner for Download {
        fn run<'a>(&'a self, ctx: &'a TaskContext) -> BoxFuture<'a, Result<Outputs, TaskError>> {
            Box::pin(async move {
                let props: Http = ctx.properties()?;
                let request = with_body(ctx, &props, prepare(ctx, &props)?).await?;
                let response = send(ctx, request).await?;
                let url = response.url().clone();
                let code = response.status().as_u16();
                let headers = headers(&response);
                let expected = response.content_length();
                let chosen = ctx
                    .prop("saveAs")?
                    .as_str()
                    .map(|n| n.rsplit(['/', '\\']).next().unwrap_or_default().to_owned())
                    .filter(|n| !n.is_empty());
                let name = chosen
                    .or_else(|| {
                        response
                            .headers()
                            .get(reqwest::header::CONTENT_DISPOSITION)
                            .and_then(|v| v.to_str().ok())
                            .and_then(filename_from_disposition)
                    })
                    .or_else(|| {
                        url.path_segments()
                            .and_then(|mut s| s.next_back())
                            .filter(|s| !s.is_empty())
                            .map(str::to_owned)
                    })
                    .unwrap_or_else(|| "download".into());
                let uri = Storage::execution_uri(
                    &ctx.namespace,
                    &ctx.flow_id,
                    &ctx.execution_id,
                    &format!("{}-{name}", ctx.task_id),
                );
                let refused = refused(ctx, &props, code)?;
                let allowed_failure = code >= 400 && !refused;
                if refused {
                    let excerpt: std::string::String = response
                        .text()
                        .await
                        .unwrap_or_default()
                        .chars()
                        .take(500)
                        .collect();
                    return Err(TaskError::Failed(ctx.mask(&format!(
                        "Failed http request with response code '{code}': {excerpt}"
                    ))));
                }
                // As Kestra: an allowed failure keeps its code and headers and an empty file.
                let length = if allowed_failure {
                    ctx.storage.write(&uri, tokio::io::empty()).await?
                } else {
                    let stream = response.bytes_stream().map_err(std::io::Error::other);
                    let reader = tokio_util::io::StreamReader::new(stream);
                    tokio::select! {
                        () = ctx.cancel.cancelled() => return Err(TaskError::Killed),
                        written = ctx.storage.write(&uri, reader) => written.map_err(|e| TaskError::Failed(ctx.mask(&format!("downloading {url} failed: {e}"))))?,
                    }
                };
                if let Some(expected) = expected
                    && !allowed_failure
                    && expected != length
                {
                    return Err(TaskError::Failed(format!(
                        "Invalid size, got {length}, expected {expected}"
                    )));
                }
                if length == 0 {
                    if ctx.prop("failOnEmptyResponse")?.as_bool().unwrap_or(true)
                        && !props
                            .options
                            .allow_failed
                            .or(props.allow_failed)
                            .unwrap_or(false)
                    {
                        return Err(TaskError::Failed(format!(
                            "No response from server: {} answered {code} with an empty body (failOnEmptyResponse)",
                            ctx.mask(url.as_str())
                        )));
                    }
                    ctx.log(
                        crate::log::Level::Warn,
                        format!("File '{}' is empty", ctx.mask(url.as_str())),
                    )
                    .await;
                }
                ctx.info(format!(
                    "downloaded {length} bytes from {} ({code}) to {uri}",
                    ctx.mask(url.as_str())
                ))
                .await;
                let mut outputs = Outputs::new();
                outputs.insert("uri".into(), json!(uri));
                outputs.insert("code".into(), json!(code));
                outputs.insert("length".into(), json!(length));
                outputs.insert("headers".into(), headers);
                Ok(outputs)
            })
        }
    }

    /// The file name of a Content-Disposition header, as Kestra reads it:
    /// `filename*=UTF-8''name` over `filename="name"`, without any path.
    fn filename_from_disposition(header: &str) -> Option<std::string::String> {
        let mut name = None;
        for part in header.split(';').map(str::trim) {
            if let Some(encoded) = part.strip_prefix("filename*=") {
                let value = encoded.rsplit('\'').next().unwrap_or(encoded);
                name = Some(percent_decode(value.trim_matches('"')));
            } else if let Some(plain) = part.strip_prefix("filename=")
                && name.is_none()
            {
                name = Some(plain.trim_matches('"').to_owned());
            }
        }
        name.map(|n| n.rsplit(['/', '\\']).next().unwrap_or_default().to_owned())
            .filter(|n| !n.is_empty() && n != "." && n != "..")
    }

    fn percent_decode(text: &str) -> std::string::String {
        url::form_urlencoded::parse(format!("x={}", text.replace('+', "%2B")).as_bytes())
            .next()
            .map(|(_, v)| v.into_owned())
            .unwrap_or_default()
    }

    #[cfg(test)]
    mod tests {
        #[test]
        fn file_names_come_from_content_disposition_without_paths() {
            use super::filename_from_disposition as name;
            assert_eq!(
                name("attachment; filename=\"report.csv\"").as_deref(),
                Some("report.csv")
            );
            assert_eq!(
                name("attachment; filename=plain.txt").as_deref(),
                Some("plain.txt")
            );
            assert_eq!(
                name("attachment; filename=\"a.txt\"; filename*=UTF-8''r%C3%A9sum%C3%A9.pdf")
                    .as_deref(),
                Some("résumé.pdf")
            );
            assert_eq!(
                name("attachment; filename=\"../../etc/passwd\"").as_deref(),
                Some("passwd")
            );
            assert_eq!(name("attachment; filename=\"..\"").as_deref(), None);
            assert_eq!(name("inline").as_deref(), None);
        }
    }
}
