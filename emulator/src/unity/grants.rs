//! Unity Catalog grants: `/permissions/{securable_type}/{full_name}`.

use super::*;

const SECURABLES: &[&str] = &[
    "catalog", "schema", "table", "volume", "function", "metastore", "external_location",
    "storage_credential", "connection", "share", "provider", "recipient",
];

/// The securable type (any case, as the SDK sends it) and that the object exists.
fn securable(cat: &Catalog, kind: &str, full: &str) -> ApiResult<String> {
    let kind = kind.to_lowercase();
    if !SECURABLES.contains(&kind.as_str()) {
        return Err(ApiError::invalid(format!("Invalid securable type '{kind}': one of {}", SECURABLES.join(", "))));
    }
    let found = match kind.as_str() {
        "catalog" => cat.catalogs.contains_key(full),
        "schema" => cat.schemas.contains_key(full),
        "table" => cat.tables.contains_key(full),
        "volume" => cat.volumes.contains_key(full),
        _ => true,
    };
    if !found {
        return Err(code(StatusCode::NOT_FOUND, "NOT_FOUND", format!("{kind} '{full}' does not exist.")));
    }
    Ok(kind)
}

fn assignments(grants: Option<&BTreeMap<String, BTreeSet<String>>>, principal: Option<&str>) -> Value {
    let list: Vec<Value> = grants
        .into_iter()
        .flatten()
        .filter(|(p, privileges)| !privileges.is_empty() && principal.is_none_or(|want| want == p.as_str()))
        .map(|(p, privileges)| json!({"principal": p, "privileges": privileges}))
        .collect();
    json!({ "privilege_assignments": list })
}

pub(super) async fn get_grants(
    State(state): State<Shared>,
    Path((kind, full)): Path<(String, String)>,
    Query(q): Query,
) -> ApiResult<Json<Value>> {
    let cat = state.unity.read().expect("catalog lock");
    let kind = securable(&cat, &kind, &full)?;
    Ok(Json(assignments(cat.grants.get(&(kind, full)), q.str("principal").as_deref())))
}

pub(super) async fn update_grants(
    State(state): State<Shared>,
    Path((kind, full)): Path<(String, String)>,
    Body(body): Body,
) -> ApiResult<Json<Value>> {
    let mut cat = state.unity.write().expect("catalog lock");
    let kind = securable(&cat, &kind, &full)?;
    let changes = body.arr("changes");
    let grants = cat.grants.entry((kind, full)).or_default();
    for change in changes {
        let change = Obj(change.as_object().cloned().unwrap_or_default());
        let principal = change.req_str("principal")?;
        let privileges = grants.entry(principal).or_default();
        for p in change.arr("add") {
            if let Some(p) = p.as_str() {
                privileges.insert(p.to_uppercase().replace(' ', "_"));
            }
        }
        for p in change.arr("remove") {
            if let Some(p) = p.as_str() {
                privileges.remove(&p.to_uppercase().replace(' ', "_"));
            }
        }
    }
    Ok(Json(assignments(Some(grants), None)))
}

