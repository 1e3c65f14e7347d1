//! Path parameters checked against Kestra's rules (`engine::ids`) before
//! they reach the store or the disk. A bad one is 400 (as the KV API
//! answered bad keys before) with a message that names the parameter and
//! the rule; nothing is looked up.

use engine::ids::{ExecutionId, FlowId, Namespace, TaskRunId};

use crate::error::ApiError;

fn refuse(parameter: &str, rule: String) -> ApiError {
    ApiError::BadRequest {
        message: format!("path parameter `{parameter}`: {rule}"),
    }
}

pub(crate) fn namespace(value: &str) -> Result<Namespace, ApiError> {
    engine::ids::check_namespace(value).map_err(|rule| refuse("namespace", rule))?;
    Ok(Namespace::new(value))
}

/// A flow id; `parameter` is its name in the route (`id` or `flowId`).
pub(crate) fn flow_id(parameter: &str, value: &str) -> Result<FlowId, ApiError> {
    engine::ids::check_flow_id(value).map_err(|rule| refuse(parameter, rule))?;
    Ok(FlowId::new(value))
}

/// An execution id; `parameter` is its name in the route (`id` or `executionId`).
pub(crate) fn execution_id(parameter: &str, value: &str) -> Result<ExecutionId, ApiError> {
    engine::ids::check_id("execution id", value).map_err(|rule| refuse(parameter, rule))?;
    Ok(ExecutionId::new(value))
}

pub(crate) fn task_run_id(value: &str) -> Result<TaskRunId, ApiError> {
    engine::ids::check_id("task run id", value).map_err(|rule| refuse("taskRunId", rule))?;
    Ok(TaskRunId::new(value))
}

/// A KV key (Kestra's KVStore.validateKey).
pub(crate) fn kv_key(value: &str) -> Result<(), ApiError> {
    if engine::kv::valid_key(value) {
        return Ok(());
    }
    Err(refuse(
        "key",
        format!(
            "key {value:?} must start with a letter or digit and have only letters, digits, `.`, `_` and `-`, at most 255 characters"
        ),
    ))
}

/// A page of `size` items (1 to `max`) from page 1: its offset, checked
/// rather than wrapped.
pub(crate) fn page_offset(page: i64, size: i64, max: i64) -> Result<i64, ApiError> {
    if !(1..=max).contains(&size) {
        return Err(ApiError::BadRequest {
            message: format!("size {size} is out of range: use 1 to {max}"),
        });
    }
    page.checked_sub(1)
        .filter(|p| *p >= 0)
        .and_then(|p| p.checked_mul(size))
        .ok_or_else(|| ApiError::BadRequest {
            message: format!("page {page} is out of range: pages start at 1"),
        })
}
