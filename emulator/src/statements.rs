//! SQL Statement Execution API 2.0: execute (wait_timeout 0s or 5s–50s,
//! on_wait_timeout CONTINUE/CANCEL, named parameters), get, result chunks,
//! cancel; INLINE + JSON_ARRAY with the 25 MiB limit, and EXTERNAL_LINKS
//! (JSON_ARRAY or CSV) served by the emulator itself under
//! `/emulator/results/…`, fetched without the Authorization header.
//!
//! A statement whose text starts with the comment `/* emulator:sleep=N */`
//! runs N simulated seconds before its query, so tests can watch the
//! PENDING/RUNNING states, a wait timeout and a cancel.

use std::sync::atomic::Ordering;
use std::sync::{Arc, LazyLock};
use std::time::Duration;

use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use regex::Regex;
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

use crate::Shared;
use crate::error::{ApiError, ApiResult};
use crate::lenient::{Body, Query};
use crate::sql::{ColumnType, Param};
use crate::warehouses::WState;

/// Chunks close at this many rows or bytes, whichever comes first.
const CHUNK_ROWS: usize = 5000;
const CHUNK_BYTES: usize = 1024 * 1024;
const INLINE_LIMIT: usize = 25 * 1024 * 1024;
const MAX_STATEMENT: usize = 16 * 1024 * 1024;
/// Simulated seconds a query takes on the warehouse.
const QUERY_SECS: f64 = 0.2;
/// Terminal statements are forgotten after this long (real time)...
const RETENTION: Duration = Duration::from_secs(12 * 3600);
/// ...and their results after this long (the statement becomes CLOSED).
const RESULT_RETENTION: Duration = Duration::from_secs(3600);
/// At most this many finished statements are kept.
const MAX_KEPT: usize = 10_000;

static SLEEP_HINT: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^\s*/\*\s*emulator:sleep=(\d+(?:\.\d+)?)\s*\*/").expect("a valid built-in regex")
});

/// The simulated seconds `/* emulator:sleep=N */` asks for, else 0.
pub(crate) fn sleep_hint(sql: &str) -> f64 {
    SLEEP_HINT
        .captures(sql)
        .and_then(|c| c[1].parse::<f64>().ok())
        .unwrap_or(0.0)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SState {
    Pending,
    Running,
    Succeeded,
    Failed,
    Canceled,
    /// Succeeded, but the result is no longer kept (after an hour).
    Closed,
}

impl SState {
    fn api(self) -> &'static str {
        match self {
            Self::Pending => "PENDING",
            Self::Running => "RUNNING",
            Self::Succeeded => "SUCCEEDED",
            Self::Failed => "FAILED",
            Self::Canceled => "CANCELED",
            Self::Closed => "CLOSED",
        }
    }
    fn terminal(self) -> bool {
        matches!(
            self,
            Self::Succeeded | Self::Failed | Self::Canceled | Self::Closed
        )
    }
}

#[derive(Debug)]
pub(crate) struct ResultSet {
    columns: Vec<ColumnType>,
    chunks: Vec<Chunk>,
    total_rows: usize,
    total_bytes: usize,
    /// Estimated memory held (strings, their headers, the row vectors).
    heap_bytes: usize,
    truncated: bool,
}

#[derive(Debug)]
struct Chunk {
    row_offset: usize,
    rows: Vec<Vec<Option<String>>>,
    bytes: usize,
}

#[derive(Debug, Clone)]
pub(crate) struct Statement {
    pub id: String,
    pub state: SState,
    error: Option<(String, String)>,
    sql_state: Option<&'static str>,
    result: Option<Arc<ResultSet>>,
    external: bool,
    csv: bool,
    secret: String,
    cancel: CancellationToken,
    finished: Option<std::time::Instant>,
}

pub(crate) fn routes() -> Router<Shared> {
    Router::new()
        .route("/api/2.0/sql/statements", post(execute))
        .route("/api/2.0/sql/statements/", post(execute))
        .route("/api/2.0/sql/statements/{id}", get(get_statement))
        .route("/api/2.0/sql/statements/{id}/cancel", post(cancel))
        .route(
            "/api/2.0/sql/statements/{id}/result/chunks/{index}",
            get(chunk),
        )
        .route("/emulator/results/{id}/{index}", get(external))
}

fn not_found(id: &str) -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "NOT_FOUND",
        format!("The statement {id} was not found or has expired."),
    )
}

fn parse_wait(s: &str) -> ApiResult<u64> {
    let bad = || {
        ApiError::invalid(format!(
            "wait_timeout must be 0s or between 5s and 50s, got '{s}'."
        ))
    };
    let n: u64 = s
        .trim()
        .strip_suffix('s')
        .ok_or_else(bad)?
        .parse()
        .map_err(|_| bad())?;
    if n == 0 || (5..=50).contains(&n) {
        Ok(n)
    } else {
        Err(bad())
    }
}

async fn execute(State(state): State<Shared>, Body(body): Body) -> ApiResult<Response> {
    let sql = body.req_str("statement")?;
    if sql.len() > MAX_STATEMENT {
        return Err(ApiError::invalid(format!(
            "The statement is {} bytes; the limit is 16 MiB.",
            sql.len()
        )));
    }
    let warehouse = body.req_str("warehouse_id")?;
    let wait = parse_wait(&body.str("wait_timeout").unwrap_or_else(|| "10s".into()))?;
    let on_timeout = body
        .str("on_wait_timeout")
        .unwrap_or_else(|| "CONTINUE".into())
        .to_uppercase();
    if on_timeout != "CONTINUE" && on_timeout != "CANCEL" {
        return Err(ApiError::invalid(format!(
            "on_wait_timeout must be CONTINUE or CANCEL, got {on_timeout}"
        )));
    }
    let disposition = body
        .str("disposition")
        .unwrap_or_else(|| "INLINE".into())
        .to_uppercase();
    let format = body
        .str("format")
        .unwrap_or_else(|| "JSON_ARRAY".into())
        .to_uppercase();
    match (disposition.as_str(), format.as_str()) {
        ("INLINE", "JSON_ARRAY") | ("EXTERNAL_LINKS", "JSON_ARRAY" | "CSV") => {}
        ("INLINE", f @ ("CSV" | "ARROW_STREAM")) => {
            return Err(ApiError::invalid(format!(
                "The format {f} is only supported with EXTERNAL_LINKS disposition."
            )));
        }
        (_, "ARROW_STREAM") => {
            return Err(ApiError::invalid(
                "ARROW_STREAM results are not supported by the emulator; use JSON_ARRAY or CSV.",
            ));
        }
        (d, f) => {
            return Err(ApiError::invalid(format!(
                "Unsupported disposition/format: {d}/{f}"
            )));
        }
    }
    let row_limit = body
        .i64("row_limit")?
        .filter(|n| *n >= 0)
        .map(|n| n as usize);
    let byte_limit = body
        .i64("byte_limit")?
        .filter(|n| *n >= 0)
        .map(|n| n as usize);
    let mut params = Vec::new();
    for p in body.arr("parameters") {
        let Value::Object(m) = p else {
            return Err(ApiError::invalid("Each parameter must be an object"));
        };
        let p = crate::lenient::Obj(m);
        params.push(Param {
            name: p.req_str("name")?,
            value: p.str("value"),
            kind: p.str("type").unwrap_or_else(|| "STRING".into()),
        });
    }
    wake_warehouse(&state, &warehouse).map_err(ApiError::not_found)?;

    let id = format!("01ef{}", &uuid::Uuid::new_v4().simple().to_string()[4..]);
    let id = format!(
        "{}-{}-{}-{}-{}",
        &id[0..8],
        &id[8..12],
        &id[12..16],
        &id[16..20],
        &id[20..32]
    );
    let cancel = CancellationToken::new();
    state.statements.insert(
        id.clone(),
        Statement {
            id: id.clone(),
            state: SState::Pending,
            error: None,
            sql_state: None,
            result: None,
            external: disposition == "EXTERNAL_LINKS",
            csv: format == "CSV",
            secret: uuid::Uuid::new_v4().simple().to_string(),
            cancel: cancel.clone(),
            finished: None,
        },
    );
    if state.statement_count.fetch_add(1, Ordering::Relaxed) + 1 > MAX_KEPT + MAX_KEPT / 4 {
        sweep(&state);
    }
    let (done_tx, done_rx) = tokio::sync::oneshot::channel::<()>();
    let st = state.clone();
    let sid = id.clone();
    let limits = Limits {
        row_limit,
        byte_limit,
        inline: disposition == "INLINE",
    };
    state.spawn(async move {
        tokio::select! {
            _ = cancel.cancelled() => {}
            _ = run(&st, &sid, &warehouse, &sql, &params, limits) => {}
        }
        let _ = done_tx.send(());
    });
    if wait > 0 {
        let finished = tokio::time::timeout(Duration::from_secs(wait), done_rx)
            .await
            .is_ok();
        if !finished && on_timeout == "CANCEL" {
            cancel_statement(&state, &id);
        }
    }
    let v = state
        .statements
        .read_with(&id, |s| render(&state.url, s))
        .ok_or_else(|| not_found(&id))?;
    Ok(Json(v).into_response())
}

/// Starts `warehouse` if it is stopped (a statement wakes it, as on the
/// service); the error says it does not exist.
pub(crate) fn wake_warehouse(state: &Shared, warehouse: &str) -> Result<(), String> {
    match state.warehouses.read_with(&warehouse.to_owned(), |w| w.state) {
        None | Some(WState::Deleted) => Err(format!("Warehouse {warehouse} does not exist.")),
        Some(WState::Running) => Ok(()),
        Some(_) => {
            crate::warehouses::ensure_started(state, warehouse);
            Ok(())
        }
    }
}

/// Waits until `warehouse` is RUNNING; the error says why it never will be.
pub(crate) async fn warehouse_ready(state: &Shared, warehouse: &str) -> Result<(), String> {
    loop {
        match state.warehouses.read_with(&warehouse.to_owned(), |w| w.state) {
            Some(WState::Running) => return Ok(()),
            Some(WState::Starting) => state.clock.sleep(0.5).await,
            _ => {
                return Err(format!(
                    "Warehouse {warehouse} was stopped or deleted while the statement waited for it."
                ));
            }
        }
    }
}

/// The time a statement takes on the emulator's clock: a fixed cost plus
/// what `sleep_hint` reads in it.
pub(crate) async fn query_time(state: &Shared, sql: &str) {
    state.clock.sleep(QUERY_SECS + sleep_hint(sql)).await;
}

#[derive(Clone, Copy)]
struct Limits {
    row_limit: Option<usize>,
    byte_limit: Option<usize>,
    inline: bool,
}

fn set(state: &Shared, id: &str, f: impl FnOnce(&mut Statement)) {
    state.statements.update(&id.to_owned(), |s| {
        if !s.state.terminal() {
            f(s);
            if s.state.terminal() {
                s.finished = Some(std::time::Instant::now());
            }
        }
    });
}

async fn run(
    state: &Shared,
    id: &str,
    warehouse: &str,
    sql: &str,
    params: &[Param],
    limits: Limits,
) {
    // Wait for the warehouse to come up (PENDING meanwhile).
    if let Err(message) = warehouse_ready(state, warehouse).await {
        set(state, id, |s| {
            s.state = SState::Failed;
            s.error = Some(("BAD_REQUEST".into(), message));
        });
        return;
    }
    set(state, id, |s| s.state = SState::Running);
    query_time(state, sql).await;
    match crate::unity::run_sql(state, sql, params).await {
        Ok(rows) => match chunk_rows(rows, limits) {
            Ok(result) => {
                let bytes = result.heap_bytes;
                set(state, id, |s| {
                    s.state = SState::Succeeded;
                    s.result = Some(Arc::new(result));
                });
                // Cheap running total; past the budget, recount and close
                // the oldest results (as if their hour had passed).
                if state.result_bytes.fetch_add(bytes, Ordering::Relaxed) + bytes > RESULT_BUDGET {
                    shrink(state);
                }
            }
            Err(msg) => set(state, id, |s| {
                s.state = SState::Failed;
                s.error = Some(("BAD_REQUEST".into(), msg));
            }),
        },
        Err(e) => set(state, id, |s| {
            s.state = SState::Failed;
            s.error = Some(("BAD_REQUEST".into(), e.message.clone()));
            s.sql_state = Some(e.sql_state);
        }),
    }
}

fn chunk_rows(rows: crate::sql::Rows, limits: Limits) -> Result<ResultSet, String> {
    let mut chunks: Vec<Chunk> = Vec::new();
    let mut truncated = false;
    let mut total_bytes = 0usize;
    let mut heap_bytes = 0usize;
    let mut total_rows = 0usize;
    let mut cur = Chunk {
        row_offset: 0,
        rows: Vec::new(),
        bytes: 0,
    };
    for row in rows.rows {
        if limits.row_limit.is_some_and(|n| total_rows >= n) {
            truncated = true;
            break;
        }
        let size = serde_json::to_string(&row).map(|s| s.len()).unwrap_or(0);
        if let Some(b) = limits.byte_limit
            && total_bytes + size > b
        {
            truncated = true;
            break;
        }
        if limits.inline && limits.byte_limit.is_none() && total_bytes + size > INLINE_LIMIT {
            return Err(format!(
                "The result of the statement exceeds the limit of {INLINE_LIMIT} bytes for the INLINE disposition. Use EXTERNAL_LINKS or set byte_limit."
            ));
        }
        if cur.rows.len() >= CHUNK_ROWS || (cur.bytes + size > CHUNK_BYTES && !cur.rows.is_empty())
        {
            let next = Chunk {
                row_offset: total_rows,
                rows: Vec::new(),
                bytes: 0,
            };
            chunks.push(std::mem::replace(&mut cur, next));
        }
        cur.bytes += size;
        total_bytes += size;
        heap_bytes += 32
            + row
                .iter()
                .map(|c| 32 + c.as_ref().map_or(0, String::len))
                .sum::<usize>();
        total_rows += 1;
        cur.rows.push(row);
    }
    if !cur.rows.is_empty() {
        chunks.push(cur);
    }
    Ok(ResultSet {
        columns: rows.columns,
        chunks,
        total_rows,
        total_bytes,
        heap_bytes,
        truncated,
    })
}

fn link(id: &str, i: usize) -> String {
    format!("/api/2.0/sql/statements/{id}/result/chunks/{i}")
}

fn chunk_json(url: &str, s: &Statement, r: &ResultSet, i: usize) -> Value {
    let c = &r.chunks[i];
    let mut v = json!({ "chunk_index": i, "row_offset": c.row_offset, "row_count": c.rows.len() });
    let next = (i + 1 < r.chunks.len()).then_some(i + 1);
    if s.external {
        let expiration = httpdate_iso(std::time::SystemTime::now() + Duration::from_secs(900));
        let mut l = json!({
            "external_link": format!("{url}/emulator/results/{}/{i}?sig={}", s.id, s.secret),
            "expiration": expiration,
            "http_headers": {},
            "chunk_index": i, "row_offset": c.row_offset, "row_count": c.rows.len(), "byte_count": c.bytes,
        });
        if let Some(n) = next {
            l["next_chunk_index"] = json!(n);
            l["next_chunk_internal_link"] = json!(link(&s.id, n));
        }
        v["external_links"] = json!([l]);
        v["byte_count"] = json!(c.bytes);
    } else {
        v["data_array"] = json!(c.rows);
    }
    if let Some(n) = next {
        v["next_chunk_index"] = json!(n);
        v["next_chunk_internal_link"] = json!(link(&s.id, n));
    }
    v
}

/// RFC 3339 in UTC, for external link expirations.
fn httpdate_iso(t: std::time::SystemTime) -> String {
    let secs = t
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    // Civil-from-days (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        (rem / 60) % 60,
        rem % 60
    )
}

fn render(url: &str, s: &Statement) -> Value {
    let mut status = json!({ "state": s.state.api() });
    if let Some((code, message)) = &s.error {
        status["error"] = json!({ "error_code": code, "message": message });
    }
    if let Some(st) = s.sql_state {
        status["sql_state"] = json!(st);
    }
    let mut v = json!({ "statement_id": s.id, "status": status });
    if let (SState::Succeeded, Some(r)) = (s.state, &s.result) {
        let columns: Vec<Value> = r
            .columns
            .iter()
            .enumerate()
            .map(|(i, c)| json!({"name": c.name, "position": i, "type_name": c.type_name, "type_text": c.type_text}))
            .collect();
        let mut manifest = json!({
            "format": if s.csv { "CSV" } else { "JSON_ARRAY" },
            "schema": { "column_count": columns.len(), "columns": columns },
            "total_chunk_count": r.chunks.len(),
            "total_row_count": r.total_rows,
            "truncated": r.truncated,
        });
        if s.external {
            manifest["total_byte_count"] = json!(r.total_bytes);
        }
        if !r.chunks.is_empty() {
            let chunks: Vec<Value> = r
                .chunks
                .iter()
                .enumerate()
                .map(|(i, c)| json!({"chunk_index": i, "row_offset": c.row_offset, "row_count": c.rows.len(), "byte_count": c.bytes}))
                .collect();
            manifest["chunks"] = json!(chunks);
            v["result"] = chunk_json(url, s, r, 0);
        } else {
            v["result"] = json!({});
        }
        v["manifest"] = manifest;
    }
    v
}

/// Bytes of results kept in memory, at most about this many: a client
/// running statements flat out cannot grow memory without bound.
const RESULT_BUDGET: usize = 64 * 1024 * 1024;

/// Closes the oldest results until the kept ones fit in half the budget.
fn shrink(state: &Shared) {
    let mut kept: Vec<(std::time::Instant, String, usize)> = state
        .statements
        .filter(|s| s.result.is_some())
        .into_iter()
        .filter_map(|s| Some((s.finished?, s.id, s.result.map_or(0, |r| r.heap_bytes))))
        .collect();
    kept.sort();
    let mut total: usize = kept.iter().map(|k| k.2).sum();
    for (_, id, bytes) in kept {
        if total <= RESULT_BUDGET / 2 {
            break;
        }
        state.statements.update(&id, |s| {
            if s.state == SState::Succeeded {
                s.state = SState::Closed;
                s.result = None;
            }
        });
        total -= bytes;
    }
    state.result_bytes.store(total, Ordering::Relaxed);
}

/// Forgets statements that ended longer ago than the service keeps them.
pub(crate) fn sweep(state: &Shared) {
    state
        .statements
        .retain(|s| s.finished.is_none_or(|t| t.elapsed() < RETENTION));
    // Past MAX_KEPT finished statements the oldest go early, so a client
    // that runs statements flat out cannot grow memory for twelve hours.
    let mut done: Vec<(std::time::Instant, String)> = state
        .statements
        .filter(|s| s.finished.is_some())
        .into_iter()
        .filter_map(|s| s.finished.map(|t| (t, s.id)))
        .collect();
    if done.len() > MAX_KEPT {
        done.sort();
        for (_, id) in &done[..done.len() - MAX_KEPT] {
            state.statements.remove(id);
        }
    }
    state.statements.for_each_mut(|s| {
        if s.state == SState::Succeeded
            && s.finished.is_some_and(|t| t.elapsed() >= RESULT_RETENTION)
        {
            s.state = SState::Closed;
            s.result = None;
        }
    }); // Recount, so execute knows when the next sweep is due.
    let count = state.statements.filter(|s| s.finished.is_none()).len() + done.len().min(MAX_KEPT);
    state.statement_count.store(count, Ordering::Relaxed);
}

async fn get_statement(
    State(state): State<Shared>,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    state
        .statements
        .read_with(&id, |s| render(&state.url, s))
        .map(Json)
        .ok_or_else(|| not_found(&id))
}

fn cancel_statement(state: &Shared, id: &str) {
    set(state, id, |s| {
        s.state = SState::Canceled;
        s.cancel.cancel();
    });
}

async fn cancel(State(state): State<Shared>, Path(id): Path<String>) -> ApiResult<Json<Value>> {
    if state.statements.get(&id).is_none() {
        return Err(not_found(&id));
    }
    cancel_statement(&state, &id);
    Ok(Json(json!({})))
}

fn result_of(
    state: &Shared,
    id: &str,
    index: &str,
) -> ApiResult<(Statement, Arc<ResultSet>, usize)> {
    let s = state
        .statements
        .get(&id.to_owned())
        .ok_or_else(|| not_found(id))?;
    let i: usize = index
        .parse()
        .map_err(|_| ApiError::invalid(format!("Invalid chunk index {index}")))?;
    let r = match (&s.state, &s.result) {
        (SState::Succeeded, Some(r)) => r.clone(),
        (st, _) => {
            return Err(ApiError::invalid_state(format!(
                "The statement {id} is {}; results are only available once it SUCCEEDED.",
                st.api()
            )));
        }
    };
    if i >= r.chunks.len() {
        return Err(ApiError::invalid(format!(
            "Chunk index {i} is out of range: the result has {} chunks.",
            r.chunks.len()
        )));
    }
    Ok((s, r, i))
}

async fn chunk(
    State(state): State<Shared>,
    Path((id, index)): Path<(String, String)>,
) -> ApiResult<Json<Value>> {
    let (s, r, i) = result_of(&state, &id, &index)?;
    Ok(Json(chunk_json(&state.url, &s, &r, i)))
}

/// An external link: no Authorization (presigned URLs must be fetched
/// without it); the signature in the query string stands in for it.
async fn external(
    State(state): State<Shared>,
    Path((id, index)): Path<(String, String)>,
    Query(q): Query,
) -> ApiResult<Response> {
    let (s, r, i) = result_of(&state, &id, &index)?;
    if q.str("sig").as_deref() != Some(s.secret.as_str()) {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "PERMISSION_DENIED",
            "Request signature does not match.",
        ));
    }
    let c = &r.chunks[i];
    let (body, ctype) = if s.csv {
        let mut w = csv::Writer::from_writer(Vec::new());
        if i == 0 {
            let _ = w.write_record(r.columns.iter().map(|c| c.name.as_str()));
        }
        for row in &c.rows {
            let _ = w.write_record(row.iter().map(|v| v.as_deref().unwrap_or("null")));
        }
        (w.into_inner().unwrap_or_default(), "text/csv")
    } else {
        (
            serde_json::to_vec(&c.rows).unwrap_or_default(),
            "application/json",
        )
    };
    let mut resp = body.into_response();
    resp.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(ctype));
    Ok(resp)
}
