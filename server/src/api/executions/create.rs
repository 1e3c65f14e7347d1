//! Creating an execution: `POST /api/v1/executions/{namespace}/{flowId}`
//! with its inputs (multipart, form or JSON), labels and schedule.

use super::*;

#[derive(Deserialize, utoipa::IntoParams)]
pub(crate) struct CreateParams {
    /// Answer once the execution has ended.
    #[serde(default)]
    wait: bool,
}

#[utoipa::path(post, path = "/api/v1/executions/{namespace}/{flowId}", tag = "executions",
    params(("namespace" = String, Path), ("flowId" = String, Path), CreateParams,
           ("labels" = Option<String>, Query, description = "`key:value`; repeat the parameter for several labels")),
    request_body(content = Object, content_type = "multipart/form-data", description = "Inputs as form fields; a FILE input as a file part named after it. JSON (an object of inputs) is accepted too."),
    responses((status = 200, body = ExecutionJson), (status = 404, body = crate::error::ErrorJson), (status = 422, description = "Invalid inputs, every problem listed", body = crate::error::ErrorJson)))]
/// `POST /api/v1/executions/{namespace}/{flowId}[?wait=true][&labels=k:v]`:
/// starts an execution. Inputs come as a multipart form (a file input is a
/// file part named after the input, streamed into internal storage) or as
/// a JSON object. With `wait=true` the answer comes once it has ended.
pub(crate) async fn create(
    State(state): State<AppState>,
    caller: Caller,
    Path((namespace, flow_id)): Path<(String, String)>,
    Query(params): Query<CreateParams>,
    axum::extract::RawQuery(raw_query): axum::extract::RawQuery,
    request: axum::extract::Request,
) -> Result<Json<ExecutionJson>, ApiError> {
    let (namespace, flow_id) = (
        crate::api::params::namespace(&namespace)?,
        crate::api::params::flow_id("flowId", &flow_id)?,
    );
    caller.require(Role::Operator, Some(namespace.as_str()))?;
    let Some(flow) = state.store.get_flow(&namespace, &flow_id).await? else {
        return Err(ApiError::NotFound {
            message: format!("flow {namespace}.{flow_id} does not exist"),
        });
    };
    let plan = crate::api::executions::plan_to_run(&state, &namespace, &flow_id, &flow)?;
    let mut labels = BTreeMap::new();
    let pairs: Vec<(String, String)> =
        serde_urlencoded::from_str(raw_query.as_deref().unwrap_or("")).unwrap_or_default();
    for (_, value) in pairs.into_iter().filter(|(k, _)| k == "labels") {
        let (k, v) = value.split_once(':').ok_or_else(|| ApiError::BadRequest {
            message: format!("label {value:?} must be key:value"),
        })?;
        labels.insert(k.to_owned(), v.to_owned());
    }
    let id = ExecutionId::generate();
    let inputs = read_inputs(&state, &namespace, &flow_id, &id, &plan, request).await?;
    let record = state
        .executor
        .launch(Launch {
            id: Some(id),
            plan,
            flow_revision: flow.revision,
            inputs,
            labels,
            trigger_vars: None,
        })
        .await?;
    caller
        .audit(
            &state.store,
            "execution.create",
            Some(namespace.as_str()),
            Some(record.id.as_str()),
            Some(serde_json::json!({"flow": flow_id.as_str()})),
        )
        .await;
    if params.wait {
        state.executor.wait(&record.id).await?;
    }
    Ok(Json(current(&state, &record.id).await?))
}

/// The last part of a file name a client sent (a browser may send a path,
/// `C:\\Users\\x\\a.csv` or `../a.csv`); `Storage::execution_uri` then
/// keeps it to safe characters and a bounded length.
fn client_file_name(name: &str) -> String {
    name.rsplit(['/', '\\'])
        .next()
        .unwrap_or_default()
        .to_owned()
}

/// Inputs from a multipart form (files streamed to storage) or JSON.
pub(super) async fn read_inputs(
    state: &AppState,
    namespace: &Namespace,
    flow_id: &FlowId,
    id: &ExecutionId,
    plan: &Plan,
    request: axum::extract::Request,
) -> Result<Map<String, Value>, ApiError> {
    use axum::extract::FromRequest;
    let content_type = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    let mut inputs = Map::new();
    if content_type.starts_with("multipart/form-data") {
        let length: u64 = request
            .headers()
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse().ok())
            .unwrap_or(u64::MAX);
        let mut form = axum::extract::Multipart::from_request(request, state)
            .await
            .map_err(|e| ApiError::BadRequest {
                message: format!("the form cannot be read: {}", e.body_text()),
            })?;
        let mut first = true;
        loop {
            let field = match form.next_field().await {
                Ok(Some(field)) => field,
                Ok(None) => break,
                // A form without a single part (a flow without inputs) is
                // only its closing boundary, which the parser refuses.
                Err(_) if first && length < 256 => break,
                Err(e) => {
                    return Err(ApiError::BadRequest {
                        message: format!("the form cannot be read: {e}"),
                    });
                }
            };
            first = false;
            let name = field.name().unwrap_or_default().to_owned();
            let is_file_input = plan.inputs.iter().any(|d| d.id == name && d.kind == "FILE");
            if let Some(file_name) = field
                .file_name()
                .map(client_file_name)
                .filter(|_| is_file_input)
            {
                let uri =
                    Storage::execution_uri(namespace, flow_id, id, &format!("{name}-{file_name}"));
                // The body limit is ours, counted as the file streams (axum's
                // 2 MiB default is lifted on this route).
                let max = state.max_upload;
                let mut received = 0_u64;
                use futures::TryStreamExt;
                let stream = field.map_err(std::io::Error::other).and_then(move |chunk| {
                    received += chunk.len() as u64;
                    let result = if received > max {
                        Err(std::io::Error::new(
                            std::io::ErrorKind::FileTooLarge,
                            "over the limit",
                        ))
                    } else {
                        Ok(chunk)
                    };
                    futures::future::ready(result)
                });
                let reader = tokio_util::io::StreamReader::new(Box::pin(stream));
                state.storage.write(&uri, reader).await.map_err(|e| match e {
                    engine::storage::StorageError::Io { source, .. } if source.kind() == std::io::ErrorKind::FileTooLarge => ApiError::TooLarge {
                        message: format!(
                            "the upload of {name} is larger than {max} bytes, the most a FILE input takes; raise it with `mortar serve --max-upload BYTES`"
                        ),
                    },
                    engine::storage::StorageError::Io { source, .. } if source.kind() == std::io::ErrorKind::Other => {
                        ApiError::BadRequest { message: format!("the upload of {name} broke off: {source}") }
                    }
                    other => ApiError::Internal(other.to_string()),
                })?;
                inputs.insert(name, Value::String(uri));
            } else {
                let text = field.text().await.map_err(|e| ApiError::BadRequest {
                    message: format!("input {name}: {e}"),
                })?;
                inputs.insert(name, Value::String(text));
            }
        }
    } else if content_type.starts_with("application/json") {
        let bytes = axum::body::to_bytes(request.into_body(), 16 * 1024 * 1024)
            .await
            .map_err(|e| ApiError::BadRequest {
                message: format!("the body cannot be read: {e}"),
            })?;
        if !bytes.is_empty() {
            inputs = serde_json::from_slice(&bytes).map_err(|e| ApiError::BadRequest {
                message: format!("the body must be a JSON object of inputs: {e}"),
            })?;
        }
    }
    Ok(inputs)
}
