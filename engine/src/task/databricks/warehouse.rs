//! `sql.StartWarehouse` and `sql.StopWarehouse` (Mortar's, beside Kestra's
//! Databricks tasks): start or stop a SQL warehouse and wait for the state.

use crate::flow::registry::Kind::*;
use crate::flow::registry::{Category, TaskType, def, prop, runner};

use super::databricks;

pub const START_WAREHOUSE: TaskType = TaskType {
    name: "io.kestra.plugin.databricks.sql.StartWarehouse",
    alias: "databricks.sql.StartWarehouse",
    category: Category::Task,
    doc: "Starts a SQL warehouse and waits until it runs.",
    properties: databricks![
        prop("warehouseId", String, "The warehouse's id."),
        prop(
            "httpPath",
            String,
            "The warehouse as /sql/1.0/warehouses/<id>."
        ),
        def("wait", Boolean, "true", "Wait until the warehouse runs."),
    ],
    outputs: &[],
    run: runner!(|env| run::Switch {
        databricks: env.databricks.clone(),
        start: true
    }),
    check: None,
    aliases: &[],
};

pub const STOP_WAREHOUSE: TaskType = TaskType {
    name: "io.kestra.plugin.databricks.sql.StopWarehouse",
    alias: "databricks.sql.StopWarehouse",
    category: Category::Task,
    doc: "Stops a SQL warehouse.",
    properties: databricks![
        prop("warehouseId", String, "The warehouse's id."),
        prop(
            "httpPath",
            String,
            "The warehouse as /sql/1.0/warehouses/<id>."
        ),
        def(
            "wait",
            Boolean,
            "true",
            "Wait until the warehouse is stopped."
        ),
    ],
    outputs: &[],
    run: runner!(|env| run::Switch {
        databricks: env.databricks.clone(),
        start: false
    }),
    check: None,
    aliases: &[],
};

#[cfg(feature = "runtime")]
mod run {
    use std::sync::Arc;

    use futures::future::BoxFuture;
    use serde_json::{Value, json};

    use crate::databricks::ApiPath;
    use crate::task::databricks::run::{Databricks, wait_for};
    use crate::task::{Outputs, Runner, TaskContext, TaskError};

    pub(super) struct Switch {
        pub(super) databricks: Arc<Databricks>,
        pub(super) start: bool,
    }

    impl Runner for Switch {
        fn run<'a>(&'a self, ctx: &'a TaskContext) -> BoxFuture<'a, Result<Outputs, TaskError>> {
            Box::pin(async move {
                let client = self.databricks.client(ctx)?;
                let id = match (
                    ctx.prop("warehouseId")?.as_str(),
                    ctx.prop("httpPath")?.as_str(),
                ) {
                    (Some(id), _) if !id.is_empty() => id.to_owned(),
                    (_, Some(path)) => path
                        .trim_end_matches('/')
                        .rsplit_once("/warehouses/")
                        .map(|(_, id)| id.to_owned())
                        .ok_or_else(|| {
                            ctx.invalid(format!("httpPath {path} is not /sql/1.0/warehouses/<id>"))
                        })?,
                    _ => return Err(ctx.invalid("warehouseId (or httpPath) is required")),
                };
                let (action, target) = if self.start {
                    ("start", "RUNNING")
                } else {
                    ("stop", "STOPPED")
                };
                client
                    .post::<_, Value>(
                        ApiPath::from("/api/2.0/sql/warehouses")
                            .segment(id.as_str())
                            .segment(action),
                        &json!({}),
                    )
                    .await?;
                ctx.info(format!("warehouse {id}: {action} requested"))
                    .await;
                if ctx.prop("wait")?.as_bool().unwrap_or(true) {
                    let start = self.start;
                    wait_for(ctx, &format!("the warehouse to be {target}"), None, || {
                        let (client, id) = (client.clone(), id.clone());
                        async move {
                            let warehouse: Value = client
                                .get(
                                    ApiPath::from("/api/2.0/sql/warehouses").segment(id.as_str()),
                                    &[],
                                )
                                .await?;
                            let state = warehouse["state"].as_str().unwrap_or("");
                            if state == target {
                                return Ok(Some(()));
                            }
                            if start && matches!(state, "STOPPED" | "DELETED" | "DELETING") {
                                return Err(TaskError::Failed(format!(
                                    "warehouse {id} did not start: it is {state}"
                                )));
                            }
                            Ok(None)
                        }
                    })
                    .await?;
                    ctx.info(format!("warehouse {id} is {target}")).await;
                }
                let mut outputs = Outputs::new();
                outputs.insert("warehouseId".into(), json!(id));
                outputs.insert("state".into(), json!(target));
                Ok(outputs)
            })
        }
    }
}
