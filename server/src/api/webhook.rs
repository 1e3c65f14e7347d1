//! `/api/v1/executions/webhook/{namespace}/{flowId}/{key}`: Kestra's
//! Webhook trigger. A request whose key matches a Webhook trigger of the
//! flow starts an execution; `{{ trigger.body }}`, `trigger.headers` and
//! `trigger.parameters` hold the request, except the headers that carry
//! credentials (see [`is_credential`]): the trigger data is stored with the
//! execution and shown to anyone who can read it.

use std::collections::BTreeMap;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use engine::executor::Launch;
use engine::ids::ExecutionId;
use serde_json::{Value, json};

use super::model::ExecutionJson;
use crate::AppState;
use crate::error::ApiError;

/// Headers dropped by name: they carry credentials.
const PRIVATE_HEADERS: &[&str] = &[
    "authorization",
    "proxy-authorization",
    "cookie",
    "set-cookie",
    "x-api-key",
];

/// Parts of a header name that mark a credential (`x-databricks-token`,
/// `x-client-secret`, `x-auth-user`, `x-apikey`). A false positive costs the
/// flow one header; a miss stores a secret in the execution for good.
/// Signatures (`x-hub-signature-256`) are kept: a flow may check one, and
/// it signs one body only.
const PRIVATE_PARTS: &[&str] = &[
    "token", "secret", "password", "passwd", "api-key", "apikey", "api_key", "auth", "session",
];

/// Whether a request header is kept out of `trigger.headers`: the names in
/// [`PRIVATE_HEADERS`] and any name containing one of [`PRIVATE_PARTS`].
/// Header names arrive in lower case (HTTP/1 through hyper).
pub(crate) fn is_credential(name: &str) -> bool {
    let name = name.to_ascii_lowercase();
    PRIVATE_HEADERS.contains(&name.as_str()) || PRIVATE_PARTS.iter().any(|part| name.contains(part))
}

/// Starts an execution of the flow from its Webhook trigger whose `key` is
/// in the path. The request's headers become `trigger.headers`, except
/// `authorization`, `proxy-authorization`, `cookie`, `set-cookie`,
/// `x-api-key` and any header whose name contains `token`, `secret`,
/// `password`, `passwd`, `api-key`, `apikey`, `api_key`, `auth` or
/// `session`: those are dropped, as the trigger data is stored with the
/// execution.
#[utoipa::path(method(get, post, put), path = "/api/v1/executions/webhook/{namespace}/{flowId}/{key}", tag = "executions",
    params(("namespace" = String, Path), ("flowId" = String, Path), ("key" = String, Path, description = "The `key` of one of the flow's Webhook triggers")),
    request_body(content = String, description = "Any body: JSON becomes `trigger.body` as an object, anything else as text"),
    responses((status = 200, body = ExecutionJson), (status = 204, description = "The trigger's conditions do not hold for this request: nothing started"), (status = 404, body = crate::error::ErrorJson)))]
pub(crate) async fn webhook(
    State(state): State<AppState>,
    Path((namespace, flow_id, key)): Path<(String, String, String)>,
    Query(parameters): Query<BTreeMap<String, String>>,
    address: Option<axum::Extension<engine::auth::Address>>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<axum::response::Response, ApiError> {
    use axum::response::IntoResponse;
    let (namespace, flow_id) = (
        super::params::namespace(&namespace)?,
        super::params::flow_id("flowId", &flow_id)?,
    );
    // One answer for a missing flow and a wrong key: the key is the secret.
    let not_found = || ApiError::NotFound {
        message: format!("flow {namespace}.{flow_id} has no Webhook trigger with this key"),
    };
    let flow = state
        .store
        .get_flow(&namespace, &flow_id)
        .await?
        .ok_or_else(not_found)?;
    let model = engine::flow::parse(&flow.source)
        .flow
        .ok_or_else(not_found)?;
    let trigger = model
        .triggers
        .iter()
        .filter(|t| !t.disabled && t.kind.is_some_and(|k| k.alias == "trigger.Webhook"))
        .find(|t| {
            t.node
                .get("key")
                .and_then(|k| k.as_str())
                .is_some_and(|k| engine::auth::token::same(k, &key))
        })
        .ok_or_else(not_found)?;
    // Turned off from the UI, the API or a Toggle task: as if it were not there.
    if state
        .store
        .trigger_disabled(&namespace, &flow_id, &trigger.id.value)
        .await?
    {
        return Err(not_found());
    }
    let plan = crate::api::executions::plan_to_run(&state, &namespace, &flow_id, &flow)?;
    let body = match serde_json::from_slice::<Value>(&body) {
        Ok(json) => json,
        Err(_) if body.is_empty() => Value::Null,
        Err(_) => Value::String(String::from_utf8_lossy(&body).into_owned()),
    };
    let headers: serde_json::Map<String, Value> = headers
        .iter()
        .filter(|(name, _)| !is_credential(name.as_str()))
        .filter_map(|(name, value)| Some((name.to_string(), json!([value.to_str().ok()?]))))
        .collect();
    let inputs = trigger
        .node
        .get("inputs")
        .map(|i| i.to_json())
        .and_then(|i| i.as_object().cloned())
        .unwrap_or_default();
    let trigger_vars = json!({
        "id": trigger.id.value,
        "type": "io.kestra.plugin.core.trigger.Webhook",
        "body": body,
        "headers": headers,
        "parameters": parameters.into_iter().map(|(k, v)| (k, json!([v]))).collect::<serde_json::Map<_, _>>(),
    });
    // The trigger's conditions, over `trigger.body` and the like: when they
    // do not hold, nothing starts (204, as Kestra answers).
    if let Some(conditions) = trigger.node.get("conditions").map(|c| c.to_json()) {
        let holds = engine::flow_triggers::conditions_hold(
            &conditions,
            &trigger_vars,
            &engine::task::core::condition::Facts::default(),
        )
        .map_err(|why| ApiError::Unprocessable {
            message: format!("the Webhook trigger's conditions cannot be checked: {why}"),
            violations: Vec::new(),
        })?;
        if !holds {
            return Ok(axum::http::StatusCode::NO_CONTENT.into_response());
        }
    }
    let record = state
        .executor
        .launch(Launch {
            id: Some(ExecutionId::generate()),
            plan,
            flow_revision: flow.revision,
            inputs,
            labels: BTreeMap::new(),
            trigger_vars: Some(trigger_vars),
        })
        .await?;
    state
        .store
        .set_trigger_fired(
            &namespace,
            &flow_id,
            &trigger.id.value,
            record.id.as_str(),
            jiff::Timestamp::now().as_millisecond(),
        )
        .await?;
    let detail = json!({"flow": flow_id.as_str(), "trigger": trigger.id.value});
    let address = address.map(|a| a.0.0);
    crate::auth::audit(
        &state.store,
        "webhook",
        "execution.create",
        Some(namespace.as_str()),
        Some(record.id.as_str()),
        address,
        Some(detail),
    )
    .await;
    // Kestra's synchronous webhook: `wait` answers at the end, with the
    // flow's outputs under `returnOutputs`, as text under `text/plain`.
    let flag = |name: &str| {
        trigger
            .node
            .get(name)
            .map(|n| n.to_json())
            .is_some_and(|v| {
                v.as_bool()
                    .or_else(|| v.as_str().map(|s| s.eq_ignore_ascii_case("true")))
                    .unwrap_or(false)
            })
    };
    if !flag("wait") {
        return Ok(Json(super::executions::current(&state, &record.id).await?).into_response());
    }
    state.executor.wait(&record.id).await?;
    let ended = super::executions::current(&state, &record.id).await?;
    if !flag("returnOutputs") {
        return Ok(Json(ended).into_response());
    }
    let outputs = state
        .store
        .get_execution(&record.id)
        .await?
        .map(|e| e.outputs)
        .unwrap_or(Value::Null);
    let outputs = if outputs.is_null() {
        json!({})
    } else {
        outputs
    };
    let plain = trigger
        .node
        .get("responseContentType")
        .and_then(|n| n.as_str())
        .is_some_and(|t| t.starts_with("text/plain"));
    if plain {
        // One output is the text; several are their JSON.
        let text = match outputs.as_object().map(|o| o.values().collect::<Vec<_>>()) {
            Some(values) if values.len() == 1 => match values[0] {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            },
            _ => outputs.to_string(),
        };
        return Ok((
            [(
                axum::http::header::CONTENT_TYPE,
                "text/plain; charset=utf-8",
            )],
            text,
        )
            .into_response());
    }
    Ok(Json(outputs).into_response())
}

#[cfg(test)]
mod tests {
    #[test]
    fn credential_headers_are_recognised() {
        for name in [
            "authorization",
            "Proxy-Authorization",
            "cookie",
            "x-api-key",
            "x-databricks-token",
            "x-client-secret",
            "x-apikey",
            "x-auth-user",
            "x-session-id",
            "x-password",
        ] {
            assert!(super::is_credential(name), "{name}");
        }
        for name in [
            "content-type",
            "user-agent",
            "x-request-id",
            "x-github-event",
            "x-hub-signature-256",
            "accept",
        ] {
            assert!(!super::is_credential(name), "{name}");
        }
    }
}
