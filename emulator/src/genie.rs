//! Genie: spaces, conversations and messages under `/api/2.0/genie/…`, as
//! the SDK's `genie` API speaks them. A message is answered from a small
//! rule table (words of the question → SQL over the sample data), run by
//! the SQL engine as a statement would be: its generated SQL is a `query`
//! attachment whose result `…/query-result` serves, with a `text`
//! attachment that says what it is. A question no rule knows gets a text
//! answer naming what can be asked; one with `emulator_fail` fails.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{Value, json};

use crate::Shared;
use crate::error::{ApiError, ApiResult};
use crate::lenient::{Body, Query};

/// The space every emulator starts with.
pub(crate) const SAMPLE_SPACE: &str = "01f0mortarsamplespace00";
/// How long (simulated seconds) Genie takes to answer.
const ANSWER_SECS: f64 = 2.0;

const SALES: &str = "read_files('dbfs:/databricks-datasets/mortar/sales.csv', format => 'csv', header => true)";

/// A rule: words that must all be in the question, the answer's text and SQL.
struct Rule {
    words: &'static [&'static str],
    text: &'static str,
    sql: &'static str,
}

fn rules() -> [Rule; 5] {
    [
        Rule {
            words: &["month"],
            text: "Revenue by month, from the sales data set.",
            sql: "SELECT substr(sold_on, 1, 7) AS month, round(sum(amount), 2) AS revenue FROM {SALES} GROUP BY 1 ORDER BY 1",
        },
        Rule {
            words: &["region"],
            text: "Total revenue by region, from the sales data set.",
            sql: "SELECT region, round(sum(amount), 2) AS revenue FROM {SALES} GROUP BY region ORDER BY revenue DESC",
        },
        Rule {
            words: &["product"],
            text: "Units and revenue by product, from the sales data set.",
            sql: "SELECT product, count(*) AS sales, round(sum(amount), 2) AS revenue FROM {SALES} GROUP BY product ORDER BY revenue DESC",
        },
        Rule {
            words: &["fare"],
            text: "Trips and their average fare, from samples.nyctaxi.trips.",
            sql: "SELECT count(*) AS trips, round(avg(fare_amount), 2) AS average_fare FROM samples.nyctaxi.trips",
        },
        Rule {
            words: &["trip"],
            text: "Trips by pickup zip code, from samples.nyctaxi.trips.",
            sql: "SELECT pickup_zip, count(*) AS trips FROM samples.nyctaxi.trips GROUP BY pickup_zip ORDER BY trips DESC, pickup_zip LIMIT 10",
        },
    ]
}

const HELP: &str = "I can answer questions about revenue by region, month or product (the sales data set) and about taxi trips and fares (samples.nyctaxi.trips).";

#[derive(Debug, Clone)]
pub(crate) struct Message {
    id: String,
    conversation_id: String,
    space_id: String,
    content: String,
    status: &'static str,
    pub(crate) created: i64,
    attachments: Vec<Value>,
    /// The query attachment's statement response, by attachment id.
    result: Option<(String, Value)>,
    error: Option<String>,
}

impl Message {
    fn json(&self) -> Value {
        let mut m = json!({
            "id": self.id,
            "message_id": self.id,
            "conversation_id": self.conversation_id,
            "space_id": self.space_id,
            "content": self.content,
            "status": self.status,
            "created_timestamp": self.created,
            "last_updated_timestamp": self.created,
            "user_id": 1234,
            "attachments": self.attachments,
        });
        if let Some(error) = &self.error {
            m["error"] = json!({"error": error, "type": "GENERIC_SQL_EXEC_EXCEPTION"});
        }
        m
    }
}

pub(crate) fn routes() -> Router<Shared> {
    let base = "/api/2.0/genie/spaces";
    Router::new()
        .route(base, get(list_spaces))
        .route(&format!("{base}/{{space}}"), get(get_space))
        .route(&format!("{base}/{{space}}/start-conversation"), post(start))
        .route(&format!("{base}/{{space}}/conversations/{{conversation}}/messages"), post(follow_up))
        .route(&format!("{base}/{{space}}/conversations/{{conversation}}/messages/{{message}}"), get(get_message))
        .route(
            &format!("{base}/{{space}}/conversations/{{conversation}}/messages/{{message}}/attachments/{{attachment}}/query-result"),
            get(query_result),
        )
        .route(
            &format!("{base}/{{space}}/conversations/{{conversation}}/messages/{{message}}/query-result/{{attachment}}"),
            get(query_result),
        )
}

fn space_json() -> Value {
    json!({
        "space_id": SAMPLE_SPACE,
        "title": "Mortar sample data",
        "description": "Sales (dbfs:/databricks-datasets/mortar/sales.csv) and samples.nyctaxi.trips",
        "warehouse_id": crate::warehouses::STARTER_ID,
    })
}

fn check_space(space: &str) -> ApiResult<()> {
    if space == SAMPLE_SPACE {
        Ok(())
    } else {
        Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "RESOURCE_DOES_NOT_EXIST",
            format!("Genie space {space} does not exist. The emulator has one: {SAMPLE_SPACE}."),
        ))
    }
}

async fn list_spaces(Query(_q): Query) -> Json<Value> {
    Json(json!({ "spaces": [space_json()] }))
}

async fn get_space(Path(space): Path<String>) -> ApiResult<Json<Value>> {
    check_space(&space)?;
    Ok(Json(space_json()))
}

fn new_message(state: &Shared, space: &str, conversation: &str, content: String) -> Message {
    let message = Message {
        id: uuid::Uuid::new_v4().simple().to_string(),
        conversation_id: conversation.to_owned(),
        space_id: space.to_owned(),
        content,
        status: "SUBMITTED",
        created: state.clock.now_ms(),
        attachments: Vec::new(),
        result: None,
        error: None,
    };
    state.genie.insert(message.id.clone(), message.clone());
    let (st, id) = (state.clone(), message.id.clone());
    state.spawn(async move { answer(&st, &id).await });
    message
}

/// Works the message out as Genie would: EXECUTING_QUERY, then COMPLETED
/// (or FAILED) with its attachments.
async fn answer(state: &Shared, id: &str) {
    state.genie.update(&id.to_owned(), |m| m.status = "EXECUTING_QUERY");
    state.clock.sleep(ANSWER_SECS).await;
    let Some(message) = state.genie.get(&id.to_owned()) else { return };
    let question = message.content.to_lowercase();
    if question.contains("emulator_fail") {
        state.genie.update(&id.to_owned(), |m| {
            m.status = "FAILED";
            m.error = Some("The question could not be answered (emulator_fail).".into());
        });
        return;
    }
    let Some(rule) = rules().into_iter().find(|r| r.words.iter().all(|w| question.contains(w))) else {
        state.genie.update(&id.to_owned(), |m| {
            m.status = "COMPLETED";
            m.attachments = vec![json!({"attachment_id": uuid::Uuid::new_v4().simple().to_string(), "text": {"content": HELP}})];
        });
        return;
    };
    let sql = rule.sql.replace("{SALES}", SALES);
    let statement = uuid::Uuid::new_v4().to_string();
    let outcome = crate::unity::run_sql(state, &sql, &[]).await;
    let query_id = uuid::Uuid::new_v4().simple().to_string();
    state.genie.update(&id.to_owned(), |m| match outcome {
        Ok(rows) => {
            let columns: Vec<Value> = rows
                .columns
                .iter()
                .enumerate()
                .map(|(i, c)| json!({"name": c.name, "position": i, "type_name": c.type_name, "type_text": c.type_text}))
                .collect();
            let count = rows.rows.len();
            let response = json!({
                "statement_id": statement,
                "status": {"state": "SUCCEEDED"},
                "manifest": {
                    "format": "JSON_ARRAY",
                    "schema": {"column_count": columns.len(), "columns": columns},
                    "total_row_count": count,
                    "total_chunk_count": 1,
                    "chunks": [{"chunk_index": 0, "row_offset": 0, "row_count": count}],
                    "truncated": false,
                },
                "result": {"chunk_index": 0, "row_offset": 0, "row_count": count, "data_array": rows.rows},
            });
            m.status = "COMPLETED";
            m.attachments = vec![
                json!({"attachment_id": query_id, "query": {"id": query_id, "query": sql, "title": rule.text, "description": rule.text, "statement_id": statement, "query_result_metadata": {"row_count": count}}}),
                json!({"attachment_id": uuid::Uuid::new_v4().simple().to_string(), "text": {"content": rule.text}}),
            ];
            m.result = Some((query_id.clone(), response));
        }
        Err(e) => {
            m.status = "FAILED";
            m.error = Some(e.message);
        }
    });
}

async fn start(State(state): State<Shared>, Path(space): Path<String>, Body(body): Body) -> ApiResult<Json<Value>> {
    check_space(&space)?;
    let content = body.req_str("content")?;
    let conversation = uuid::Uuid::new_v4().simple().to_string();
    let message = new_message(&state, &space, &conversation, content.clone());
    Ok(Json(json!({
        "conversation_id": conversation,
        "message_id": message.id,
        "conversation": {"id": conversation, "conversation_id": conversation, "space_id": space, "title": content, "created_timestamp": message.created},
        "message": message.json(),
    })))
}

async fn follow_up(
    State(state): State<Shared>,
    Path((space, conversation)): Path<(String, String)>,
    Body(body): Body,
) -> ApiResult<Json<Value>> {
    check_space(&space)?;
    let content = body.req_str("content")?;
    let known = !state.genie.filter(|m| m.conversation_id == conversation && m.space_id == space).is_empty();
    if !known {
        return Err(ApiError::not_found(format!("Conversation {conversation} does not exist in space {space}.")));
    }
    Ok(Json(new_message(&state, &space, &conversation, content).json()))
}

fn find(state: &Shared, space: &str, conversation: &str, message: &str) -> ApiResult<Message> {
    check_space(space)?;
    state
        .genie
        .get(&message.to_owned())
        .filter(|m| m.conversation_id == conversation)
        .ok_or_else(|| ApiError::not_found(format!("Message {message} does not exist in conversation {conversation}.")))
}

async fn get_message(
    State(state): State<Shared>,
    Path((space, conversation, message)): Path<(String, String, String)>,
) -> ApiResult<Json<Value>> {
    Ok(Json(find(&state, &space, &conversation, &message)?.json()))
}

async fn query_result(
    State(state): State<Shared>,
    Path((space, conversation, message, attachment)): Path<(String, String, String, String)>,
) -> ApiResult<Json<Value>> {
    let found = find(&state, &space, &conversation, &message)?;
    match found.result {
        Some((id, response)) if id == attachment => Ok(Json(json!({"statement_response": response}))),
        _ => Err(ApiError::not_found(format!("Message {message} has no query attachment {attachment}."))),
    }
}
