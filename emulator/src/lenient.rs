//! Reading requests the way the service does: bodies and query strings as
//! loose JSON, numbers accepted as strings (Airflow sends `"num_workers":"2"`),
//! `True`/`False` booleans (Airflow's query strings), `null` as absent,
//! unknown fields ignored, malformed JSON refused with MALFORMED_REQUEST.

use std::collections::HashMap;

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use serde_json::{Map, Value};

use crate::error::{ApiError, ApiResult};

/// The largest JSON body accepted. A statement may be 16 MiB; DBFS blocks
/// are 1 MiB before base64. Above this the request is refused as too large.
pub(crate) const MAX_JSON_BODY: usize = 20 * 1024 * 1024;

/// A JSON object body. An empty body reads as `{}`.
pub(crate) struct Body(pub Obj);

impl<S: Send + Sync> FromRequest<S> for Body {
    type Rejection = ApiError;
    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        let bytes = Bytes::from_request(req, state)
            .await
            .map_err(|_| too_large(MAX_JSON_BODY))?;
        parse_body(&bytes).map(Body)
    }
}

pub(crate) fn too_large(limit: usize) -> ApiError {
    ApiError::new(
        axum::http::StatusCode::PAYLOAD_TOO_LARGE,
        "REQUEST_LIMIT_EXCEEDED",
        format!("The request body exceeds the limit of {limit} bytes."),
    )
}

pub(crate) fn parse_body(bytes: &[u8]) -> ApiResult<Obj> {
    if bytes.iter().all(|b| b.is_ascii_whitespace()) {
        return Ok(Obj(Map::new()));
    }
    match serde_json::from_slice::<Value>(bytes) {
        Ok(Value::Object(m)) => Ok(Obj(m)),
        Ok(_) => Err(ApiError::malformed(
            "Invalid JSON given in the body of the request - expected a map",
        )),
        Err(e) => Err(ApiError::malformed(format!(
            "Invalid JSON given in the body of the request - failed to parse: {e}"
        ))),
    }
}

/// Query-string parameters, as an object of strings.
pub(crate) struct Query(pub Obj);

impl<S: Send + Sync> FromRequestParts<S> for Query {
    type Rejection = ApiError;
    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
        let q = parts.uri.query().unwrap_or("");
        let pairs: Vec<(String, String)> = serde_urlencoded_pairs(q);
        let mut m = Map::new();
        for (k, v) in pairs {
            // Repeated keys (filter_by.cluster_states=A&...=B) become arrays.
            match m.get_mut(&k) {
                Some(Value::Array(a)) => a.push(Value::String(v)),
                Some(old) => {
                    let prev = old.take();
                    *old = Value::Array(vec![prev, Value::String(v)]);
                }
                None => {
                    m.insert(k, Value::String(v));
                }
            }
        }
        Ok(Query(Obj(m)))
    }
}

fn serde_urlencoded_pairs(q: &str) -> Vec<(String, String)> {
    q.split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (decode(k), decode(v))
        })
        .collect()
}

/// Percent-decodes a query component (`+` is a space).
pub(crate) fn decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3])
                    .ok()
                    .and_then(|h| u8::from_str_radix(h, 16).ok());
                match hex {
                    Some(b) => {
                        out.push(b);
                        i += 2;
                    }
                    None => out.push(b'%'),
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// A JSON object read leniently.
#[derive(Debug, Clone, Default)]
pub(crate) struct Obj(pub Map<String, Value>);

impl Obj {
    /// The value, with `null` read as absent.
    pub fn get(&self, k: &str) -> Option<&Value> {
        self.0.get(k).filter(|v| !v.is_null())
    }
    pub fn str(&self, k: &str) -> Option<String> {
        match self.get(k)? {
            Value::String(s) => Some(s.clone()),
            Value::Number(n) => Some(n.to_string()),
            Value::Bool(b) => Some(b.to_string()),
            _ => None,
        }
    }
    pub fn req_str(&self, k: &str) -> ApiResult<String> {
        match self.str(k) {
            Some(s) if !s.is_empty() => Ok(s),
            _ => Err(ApiError::missing(k)),
        }
    }
    /// An int64 sent as a number or a numeric string.
    pub fn i64(&self, k: &str) -> ApiResult<Option<i64>> {
        match self.get(k) {
            None => Ok(None),
            Some(v) => as_i64(v).map(Some).ok_or_else(|| {
                ApiError::invalid(format!(
                    "Invalid value for field {k}: expected an integer, got {v}"
                ))
            }),
        }
    }
    pub fn req_i64(&self, k: &str) -> ApiResult<i64> {
        self.i64(k)?.ok_or_else(|| ApiError::missing(k))
    }
    /// A boolean sent as `true`, `"true"` or Airflow's `"True"`.
    pub fn bool(&self, k: &str) -> ApiResult<Option<bool>> {
        match self.get(k) {
            None => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(*b)),
            Some(Value::String(s)) if s.eq_ignore_ascii_case("true") => Ok(Some(true)),
            Some(Value::String(s)) if s.eq_ignore_ascii_case("false") => Ok(Some(false)),
            Some(Value::String(s)) if s.is_empty() => Ok(None),
            Some(v) => Err(ApiError::invalid(format!(
                "Invalid value for field {k}: expected a boolean, got {v}"
            ))),
        }
    }
    pub fn flag(&self, k: &str) -> ApiResult<bool> {
        Ok(self.bool(k)?.unwrap_or(false))
    }
    pub fn obj(&self, k: &str) -> Option<Obj> {
        match self.get(k)? {
            Value::Object(m) => Some(Obj(m.clone())),
            _ => None,
        }
    }
    pub fn arr(&self, k: &str) -> Vec<Value> {
        match self.get(k) {
            Some(Value::Array(a)) => a.clone(),
            Some(v @ Value::String(_)) => vec![v.clone()],
            _ => Vec::new(),
        }
    }
    /// The object with nulls removed, for echoing specs back.
    pub fn cleaned(&self) -> Map<String, Value> {
        let mut m = self.0.clone();
        strip_nulls(&mut m);
        m
    }
}

pub(crate) fn strip_nulls(m: &mut Map<String, Value>) {
    m.retain(|_, v| !v.is_null());
    for v in m.values_mut() {
        if let Value::Object(inner) = v {
            strip_nulls(inner);
        }
    }
}

pub(crate) fn as_i64(v: &Value) -> Option<i64> {
    match v {
        Value::Number(n) => n
            .as_i64()
            .or_else(|| n.as_f64().filter(|f| f.fract() == 0.0).map(|f| f as i64)),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// A map of string values (notebook_params and friends), numbers stringified.
pub(crate) fn string_map(v: Option<&Value>) -> HashMap<String, String> {
    let mut out = HashMap::new();
    if let Some(Value::Object(m)) = v {
        for (k, v) in m {
            let s = match v {
                Value::String(s) => s.clone(),
                Value::Null => continue,
                other => other.to_string(),
            };
            out.insert(k.clone(), s);
        }
    }
    out
}

/// Whether a request carries a multipart form (DBFS put and workspace
/// import accept one beside JSON).
pub(crate) fn is_multipart(req: &axum::extract::Request) -> bool {
    req.headers()
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("multipart/form-data"))
}

/// Every field of a multipart form, by name, in order.
pub(crate) async fn multipart_fields(
    req: axum::extract::Request,
) -> Result<Vec<(String, bytes::Bytes)>, crate::error::ApiError> {
    use axum::extract::FromRequest;
    let mut form = axum::extract::Multipart::from_request(req, &())
        .await
        .map_err(|e| crate::error::ApiError::malformed(format!("Invalid multipart body: {e}")))?;
    let mut fields = Vec::new();
    while let Some(field) = form
        .next_field()
        .await
        .map_err(|e| crate::error::ApiError::malformed(e.to_string()))?
    {
        let name = field.name().unwrap_or("").to_owned();
        let bytes = field
            .bytes()
            .await
            .map_err(|e| crate::error::ApiError::malformed(e.to_string()))?;
        fields.push((name, bytes));
    }
    Ok(fields)
}
