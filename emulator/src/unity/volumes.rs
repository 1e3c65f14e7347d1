//! Unity Catalog volumes: the directories under `/Volumes/…` the Files API
//! serves once the volume exists.

use super::*;

pub(super) fn no_volume(full: &str) -> ApiError {
    code(StatusCode::NOT_FOUND, "VOLUME_DOES_NOT_EXIST", format!("Volume '{full}' does not exist."))
}

pub(super) fn volume_dir(full: &str) -> String {
    format!("/Volumes/{}", full.replace('.', "/"))
}

pub(super) async fn create_volume(
    State(state): State<Shared>,
    Extension(p): Extension<Principal>,
    Body(body): Body,
) -> ApiResult<Json<Value>> {
    let catalog = body.req_str("catalog_name")?;
    let schema = body.req_str("schema_name")?;
    let name = body.req_str("name")?;
    check_name("volume", &name)?;
    let kind = body.str("volume_type").unwrap_or_else(|| "MANAGED".into()).to_uppercase();
    if !["MANAGED", "EXTERNAL"].contains(&kind.as_str()) {
        return Err(ApiError::invalid(format!("Invalid volume_type '{kind}': MANAGED or EXTERNAL")));
    }
    if kind == "EXTERNAL" && body.str("storage_location").is_none() {
        return Err(ApiError::invalid("An EXTERNAL volume needs a storage_location"));
    }
    let full = format!("{catalog}.{schema}.{name}");
    let out = {
        let mut cat = state.unity.write().expect("catalog lock");
        if !cat.catalogs.contains_key(&catalog) {
            return Err(no_catalog(&catalog));
        }
        if !cat.schemas.contains_key(&format!("{catalog}.{schema}")) {
            return Err(no_schema(&format!("{catalog}.{schema}")));
        }
        if cat.volumes.contains_key(&full) {
            return Err(exists("Volume", &full));
        }
        let mut fields = base_fields(&state, &p, &name, &full, &body);
        fields.insert("catalog_name".into(), json!(catalog));
        fields.insert("schema_name".into(), json!(schema));
        fields.insert("volume_type".into(), json!(kind));
        fields.insert("volume_id".into(), json!(uuid::Uuid::new_v4().to_string()));
        let location = body
            .str("storage_location")
            .unwrap_or_else(|| format!("s3://emulator-metastore/{}/volumes/{}", METASTORE, uuid::Uuid::new_v4()));
        fields.insert("storage_location".into(), json!(location));
        let entry = Entry { fields };
        let out = Value::Object(entry.fields.clone());
        cat.volumes.insert(full.clone(), entry);
        out
    };
    state.fs.mkdirs(&volume_dir(&full)).map_err(|e| ApiError::invalid(e.to_string()))?;
    Ok(Json(out))
}

pub(super) async fn list_volumes(State(state): State<Shared>, Query(q): Query) -> ApiResult<Json<Value>> {
    let catalog = q.req_str("catalog_name")?;
    let schema = q.req_str("schema_name")?;
    let full = format!("{catalog}.{schema}");
    let cat = state.unity.read().expect("catalog lock");
    if !cat.schemas.contains_key(&full) {
        return Err(no_schema(&full));
    }
    let items = Catalog::listed(&cat.volumes, &format!("{full}."));
    drop(cat);
    paged("volumes", items, &q)
}

pub(super) async fn get_volume(State(state): State<Shared>, Path(full): Path<String>) -> ApiResult<Json<Value>> {
    let cat = state.unity.read().expect("catalog lock");
    cat.volumes.get(&full).map(|e| Json(Value::Object(e.fields.clone()))).ok_or_else(|| no_volume(&full))
}

pub(super) async fn update_volume(
    State(state): State<Shared>,
    Extension(p): Extension<Principal>,
    Path(full): Path<String>,
    Body(body): Body,
) -> ApiResult<Json<Value>> {
    let (out, renamed) = {
        let mut cat = state.unity.write().expect("catalog lock");
        let mut entry = cat.volumes.get(&full).cloned().ok_or_else(|| no_volume(&full))?;
        update_fields(&state, &p, &mut entry, &body);
        match body.str("new_name").filter(|n| !full.ends_with(&format!(".{n}"))) {
            Some(new) => {
                check_name("volume", &new)?;
                let parent = full.rsplit_once('.').map(|(p, _)| p).unwrap_or_default();
                let new_full = format!("{parent}.{new}");
                if cat.volumes.contains_key(&new_full) {
                    return Err(exists("Volume", &new_full));
                }
                cat.volumes.remove(&full);
                entry.fields.insert("name".into(), json!(new));
                entry.fields.insert("full_name".into(), json!(new_full));
                let out = Value::Object(entry.fields.clone());
                cat.volumes.insert(new_full.clone(), entry);
                (out, Some(new_full))
            }
            None => {
                let out = Value::Object(entry.fields.clone());
                cat.volumes.insert(full.clone(), entry);
                (out, None)
            }
        }
    };
    if let Some(new_full) = renamed {
        state
            .fs
            .rename(&volume_dir(&full), &volume_dir(&new_full))
            .map_err(|e| ApiError::invalid(e.to_string()))?;
    }
    Ok(Json(out))
}

pub(super) async fn delete_volume(State(state): State<Shared>, Path(full): Path<String>) -> ApiResult<Json<Value>> {
    if state.unity.write().expect("catalog lock").volumes.remove(&full).is_none() {
        return Err(no_volume(&full));
    }
    remove_volume_files(&state, std::slice::from_ref(&full));
    Ok(Json(json!({})))
}

pub(super) fn remove_volume_files(state: &Shared, volumes: &[String]) {
    for full in volumes {
        let dir = volume_dir(full);
        if state.fs.stat(&dir).is_some()
            && let Err(e) = state.fs.delete(&dir, true)
        {
            tracing::warn!(volume = %full, error = %e, "removing a deleted volume's files");
        }
    }
}

