//! Kestra's tenant paths. Kestra's API puts the tenant in the path,
//! `/api/v1/{tenant}/…`, and its open-source edition serves the tenant
//! `main`; its clients (`kestrapy`, the `kestra` package) call those paths.
//! Mortar has one tenant, `main`: a request under `/api/v1/main/…` is
//! served as the same request without it, before routing, so every route
//! answers on both paths with nothing declared twice. Another tenant
//! matches no route and gets the API's JSON 404, which names the tenants.

use axum::extract::Request;
use axum::http::Uri;
use axum::middleware::Next;
use axum::response::Response;

/// The tenants that exist.
pub const TENANTS: &[&str] = &["main"];

/// Serves `/api/v1/main/…` as `/api/v1/…`, and Kestra 2.0's action paths
/// as the older ones.
pub async fn strip(mut request: Request, next: Next) -> Response {
    if let Some(uri) = without_tenant(request.uri()) {
        *request.uri_mut() = uri;
    }
    if let Some(uri) = older_action(request.uri()) {
        *request.uri_mut() = uri;
    }
    next.run(request).await
}

/// Kestra 2.0 moved an execution's actions under `/actions/`
/// (`/executions/{id}/actions/kill`, which `kestrapy` 2 calls); both paths
/// answer, served by the same operation.
const ACTIONS: &[&str] = &["kill", "restart", "resume", "replay", "labels"];

/// `/api/v1/executions/{id}/actions/{action}` as `/api/v1/executions/{id}/{action}`.
fn older_action(uri: &Uri) -> Option<Uri> {
    let rest = uri.path().strip_prefix("/api/v1/executions/")?;
    let (id, tail) = rest.split_once("/actions/")?;
    if id.contains('/') || !ACTIONS.contains(&tail) {
        return None;
    }
    let path = format!("/api/v1/executions/{id}/{tail}");
    let target = match uri.query() {
        Some(query) => format!("{path}?{query}"),
        None => path,
    };
    target.parse().ok()
}

fn without_tenant(uri: &Uri) -> Option<Uri> {
    let rest = uri.path().strip_prefix("/api/v1/")?;
    let (tenant, tail) = rest.split_once('/').unwrap_or((rest, ""));
    if !TENANTS.contains(&tenant) {
        return None;
    }
    let path = if tail.is_empty() {
        "/api/v1".to_owned()
    } else {
        format!("/api/v1/{tail}")
    };
    let target = match uri.query() {
        Some(query) => format!("{path}?{query}"),
        None => path,
    };
    target.parse().ok()
}

/// Adds `/api/v1/{tenant}/…` beside each `/api/v1/…` path of the OpenAPI
/// document, with the `tenant` path parameter, as Kestra's document has.
pub fn document(mut doc: utoipa::openapi::OpenApi) -> utoipa::openapi::OpenApi {
    use utoipa::openapi::path::{Parameter, ParameterIn};
    let tenant = {
        let mut parameter = Parameter::new("tenant");
        parameter.parameter_in = ParameterIn::Path;
        parameter.description = Some(format!("The tenant: {}", TENANTS.join(", ")));
        parameter
    };
    // Kestra 2.0's action paths beside the older ones.
    let actions: Vec<(String, utoipa::openapi::PathItem)> = doc
        .paths
        .paths
        .iter()
        .filter_map(|(path, item)| {
            let (head, action) = path.rsplit_once('/')?;
            if !(head.starts_with("/api/v1/executions/{") && ACTIONS.contains(&action)) {
                return None;
            }
            let mut item = item.clone();
            for operation in [&mut item.get, &mut item.put, &mut item.post, &mut item.delete]
                .into_iter()
                .flatten()
            {
                if let Some(id) = &mut operation.operation_id {
                    id.push_str("_action");
                }
            }
            Some((format!("{head}/actions/{action}"), item))
        })
        .collect();
    doc.paths.paths.extend(actions);
    let mut added = Vec::new();
    for (path, item) in &doc.paths.paths {
        let Some(rest) = path.strip_prefix("/api/v1/") else {
            continue;
        };
        let mut item = item.clone();
        for operation in [
            &mut item.get,
            &mut item.put,
            &mut item.post,
            &mut item.delete,
            &mut item.patch,
        ]
        .into_iter()
        .flatten()
        {
            operation
                .parameters
                .get_or_insert_with(Vec::new)
                .insert(0, utoipa::openapi::RefOr::T(tenant.clone()));
            if let Some(id) = &mut operation.operation_id {
                id.push_str("_tenant");
            }
        }
        added.push((format!("/api/v1/{{tenant}}/{rest}"), item));
    }
    doc.paths.paths.extend(added);
    doc
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn main_is_stripped_and_other_paths_are_kept() {
        let rewrite = |s: &str| without_tenant(&s.parse().unwrap()).map(|u| u.to_string());
        assert_eq!(
            rewrite("/api/v1/main/flows/search?q=x").as_deref(),
            Some("/api/v1/flows/search?q=x")
        );
        assert_eq!(
            rewrite("/api/v1/main/executions/abc").as_deref(),
            Some("/api/v1/executions/abc")
        );
        assert_eq!(rewrite("/api/v1/flows/main/x"), None);
        assert_eq!(rewrite("/api/v1/other/flows"), None);
        assert_eq!(rewrite("/flows/main"), None);
        let action = |s: &str| older_action(&s.parse().unwrap()).map(|u| u.to_string());
        assert_eq!(
            action("/api/v1/executions/abc/actions/kill?x=1").as_deref(),
            Some("/api/v1/executions/abc/kill?x=1")
        );
        assert_eq!(action("/api/v1/executions/abc/actions/eval"), None);
        assert_eq!(action("/api/v1/executions/a/b/actions/kill"), None);
    }
}
