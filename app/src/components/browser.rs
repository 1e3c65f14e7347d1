//! Requests the browser sends itself: the multipart upload of the Execute
//! form (with XMLHttpRequest, whose upload reports its progress, so that
//! files stream rather than pass through a server function) and the REST
//! actions on an execution (with `fetch`). Only called from event
//! handlers, so only ever run in the browser.

use wasm_bindgen::JsCast;
use wasm_bindgen::closure::Closure;
use wasm_bindgen_futures::JsFuture;

/// A finished response: its status and body text.
pub(crate) struct Answer {
    pub status: u16,
    pub body: String,
}

impl Answer {
    pub(crate) fn ok(&self) -> bool {
        (200..300).contains(&self.status)
    }

    /// The `message` of Mortar's error body, or the body itself.
    pub(crate) fn message(&self) -> String {
        serde_json::from_str::<serde_json::Value>(&self.body)
            .ok()
            .and_then(|v| v["message"].as_str().map(str::to_owned))
            .unwrap_or_else(|| format!("the server answered {}: {}", self.status, self.body))
    }
}

/// Sends `method url` with an optional form body; a network failure is an
/// error in words.
pub(crate) async fn send(
    method: &str,
    url: &str,
    form: Option<&web_sys::FormData>,
) -> Result<Answer, String> {
    let init = web_sys::RequestInit::new();
    init.set_method(method);
    if let Some(form) = form {
        init.set_body(form);
    }
    let sent = headers(&[])?;
    init.set_headers(&sent);
    fetch(url, &init).await
}

/// POSTs `form` to `url`, calling `progress(sent, total)` in bytes as the
/// body goes out (`fetch` cannot tell how much of a body has gone).
pub(crate) async fn upload(
    url: &str,
    form: &web_sys::FormData,
    progress: impl Fn(f64, f64) + 'static,
) -> Result<Answer, String> {
    let broke = || "the upload broke off; check that Mortar is running".to_owned();
    let xhr = web_sys::XmlHttpRequest::new().map_err(|_| "this browser cannot send a form")?;
    xhr.open("POST", url).map_err(|_| broke())?;
    if let Some(token) = crate::auth::csrf() {
        xhr.set_request_header(crate::auth::CSRF_HEADER, &token)
            .map_err(|_| broke())?;
    }
    let on_progress =
        Closure::<dyn FnMut(web_sys::ProgressEvent)>::new(move |event: web_sys::ProgressEvent| {
            if event.length_computable() {
                progress(event.loaded(), event.total());
            }
        });
    xhr.upload()
        .map_err(|_| broke())?
        .set_onprogress(Some(on_progress.as_ref().unchecked_ref()));
    // Settles when the answer has come (load) or the request failed.
    let settled = js_sys::Promise::new(&mut |resolve, reject| {
        xhr.set_onload(Some(&resolve));
        xhr.set_onerror(Some(&reject));
        xhr.set_onabort(Some(&reject));
    });
    xhr.send_with_opt_form_data(Some(form))
        .map_err(|_| broke())?;
    let result = JsFuture::from(settled).await;
    drop(on_progress);
    result.map_err(|_| broke())?;
    let status = xhr.status().map_err(|_| broke())?;
    let body = xhr.response_text().ok().flatten().unwrap_or_default();
    Ok(Answer { status, body })
}

/// Sends `method url` with a text body and headers (a KV value and its
/// `ttl`, a JSON request).
pub(crate) async fn send_text(
    method: &str,
    url: &str,
    body: &str,
    headers: &[(&str, &str)],
) -> Result<Answer, String> {
    let init = web_sys::RequestInit::new();
    init.set_method(method);
    init.set_body(&wasm_bindgen::JsValue::from_str(body));
    let sent = self::headers(headers)?;
    init.set_headers(&sent);
    fetch(url, &init).await
}

/// `extra` and the page's CSRF token, which every state-changing request
/// of a session must carry.
fn headers(extra: &[(&str, &str)]) -> Result<web_sys::Headers, String> {
    let sent = web_sys::Headers::new().map_err(|_| "no headers")?;
    for (name, value) in extra {
        sent.set(name, value)
            .map_err(|_| format!("the header {name} cannot be sent"))?;
    }
    if let Some(token) = crate::auth::csrf() {
        sent.set(crate::auth::CSRF_HEADER, &token)
            .map_err(|_| "the CSRF token cannot be sent")?;
    }
    Ok(sent)
}

async fn fetch(url: &str, init: &web_sys::RequestInit) -> Result<Answer, String> {
    let window = web_sys::window().ok_or("no window")?;
    let response = JsFuture::from(window.fetch_with_str_and_init(url, init))
        .await
        .map_err(|_| "the server cannot be reached; check that Mortar is running".to_owned())?;
    let response: web_sys::Response = response
        .dyn_into()
        .map_err(|_| "fetch did not give a response")?;
    let status = response.status();
    let text = response.text().map_err(|_| "the answer has no body")?;
    let body = JsFuture::from(text)
        .await
        .map_err(|_| "the answer broke off")?
        .as_string()
        .unwrap_or_default();
    Ok(Answer { status, body })
}

/// Percent-encodes a path segment or query value. Plain Rust, not the
/// browser's `encodeURIComponent`: addresses are also built on the server,
/// and both sides must render the same text.
pub(crate) fn encode(text: &str) -> String {
    let mut out = String::new();
    for byte in text.bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(byte as char)
            }
            other => out.push_str(&format!("%{other:02X}")),
        }
    }
    out
}
