//! `cluster.CreateCluster` and `cluster.DeleteCluster`.

use crate::flow::registry::Kind::*;
use crate::flow::registry::{Category, TaskType, api, def, ex, prop, req, runner};

use super::databricks;

pub const CREATE_CLUSTER: TaskType = TaskType {
    name: "io.kestra.plugin.databricks.cluster.CreateCluster",
    alias: "databricks.cluster.CreateCluster",
    category: Category::Task,
    doc: "Creates a cluster and waits until it runs.",
    properties: databricks![
        api(
            ex(
                req("clusterName", String, "The cluster's name."),
                "mortar-{{ execution.id }}"
            ),
            "cluster_name"
        ),
        api(
            ex(
                req("sparkVersion", String, "The Databricks runtime."),
                "15.4.x-scala2.12"
            ),
            "spark_version"
        ),
        api(
            ex(
                prop("nodeTypeId", String, "The instance type."),
                "i3.xlarge"
            ),
            "node_type_id"
        ),
        api(
            prop(
                "driverNodeTypeId",
                String,
                "The driver's instance type; nodeTypeId when unset."
            ),
            "driver_node_type_id"
        ),
        prop("numWorkers", Integer, "A fixed number of workers."),
        prop("minWorkers", Integer, "With maxWorkers: autoscaling."),
        prop("maxWorkers", Integer, "With minWorkers: autoscaling."),
        prop(
            "autoscale",
            Map,
            "minWorkers and maxWorkers, as one mapping."
        ),
        api(
            prop(
                "autoTerminationMinutes",
                Integer,
                "Terminate the cluster after this many idle minutes."
            ),
            "autotermination_minutes"
        ),
        api(prop("sparkConf", Map, "Spark configuration."), "spark_conf"),
        api(
            prop("sparkEnvVars", Map, "Environment variables."),
            "spark_env_vars"
        ),
        api(prop("customTags", Map, "Tags."), "custom_tags"),
        api(prop("policyId", String, "A cluster policy."), "policy_id"),
        api(
            prop("instancePoolId", String, "An instance pool."),
            "instance_pool_id"
        ),
        api(
            prop("dataSecurityMode", String, "Unity Catalog access mode."),
            "data_security_mode"
        ),
        api(
            prop(
                "singleUserName",
                String,
                "The user of a single-user cluster."
            ),
            "single_user_name"
        ),
        api(
            prop(
                "runtimeEngine",
                Enum {
                    values: &["STANDARD", "PHOTON"]
                },
                "The runtime engine."
            ),
            "runtime_engine"
        ),
        api(prop("initScripts", Any, "Init scripts."), "init_scripts"),
    ],
    outputs: &[
        ("clusterId", "The new cluster's id."),
        ("clusterURI", "Its page in the workspace."),
        ("state", "Its state."),
    ],
    run: runner!(|env| run::CreateCluster(env.databricks.clone())),
    check: None,
    aliases: &[],
};

pub const DELETE_CLUSTER: TaskType = TaskType {
    name: "io.kestra.plugin.databricks.cluster.DeleteCluster",
    alias: "databricks.cluster.DeleteCluster",
    category: Category::Task,
    doc: "Terminates a cluster (or deletes it permanently).",
    properties: databricks![
        ex(
            req("clusterId", String, "The cluster to delete."),
            "{{ outputs.create_cluster.clusterId }}"
        ),
        def(
            "permanent",
            Boolean,
            "false",
            "Delete the cluster permanently rather than terminate it."
        ),
        def(
            "wait",
            Boolean,
            "true",
            "Wait until the cluster is terminated."
        ),
    ],
    outputs: &[],
    run: runner!(|env| run::DeleteCluster(env.databricks.clone())),
    check: None,
    aliases: &[],
};

/// Not one of Kestra's types (its plugin has none): resizing a running
/// cluster, what "scale computational resources up or down" asks.
pub const RESIZE_CLUSTER: TaskType = TaskType {
    name: "io.kestra.plugin.databricks.cluster.ResizeCluster",
    alias: "databricks.cluster.ResizeCluster",
    category: Category::Task,
    doc: "Resizes a running cluster to a fixed number of workers or to autoscaling bounds, and waits until it runs again.",
    properties: databricks![
        ex(
            req("clusterId", String, "The cluster to resize; it must be running."),
            "{{ outputs.create_cluster.clusterId }}"
        ),
        prop("numWorkers", Integer, "A fixed number of workers."),
        prop("minWorkers", Integer, "With maxWorkers: autoscaling between them."),
        prop("maxWorkers", Integer, "With minWorkers: autoscaling between them."),
        prop(
            "autoscale",
            Map,
            "minWorkers and maxWorkers, as one mapping."
        ),
        def(
            "wait",
            Boolean,
            "true",
            "Wait until the cluster is running at its new size."
        ),
    ],
    outputs: &[
        ("clusterId", "The cluster's id."),
        ("numWorkers", "Its fixed number of workers, when not autoscaling."),
        ("autoscale", "Its autoscaling bounds (`min_workers`, `max_workers`), when autoscaling."),
        ("state", "Its state."),
    ],
    run: runner!(|env| run::ResizeCluster(env.databricks.clone())),
    check: None,
    aliases: &[],
};

#[cfg(feature = "runtime")]
mod run {
    use std::sync::Arc;
    use std::time::Instant;

    use futures::future::BoxFuture;
    use serde_json::{Map, Value, json};

    use crate::task::databricks::run::{Databricks, int, wait_for};
    use crate::task::{Outputs, Runner, TaskContext, TaskError};

    pub(super) struct CreateCluster(pub(super) Arc<Databricks>);

    impl Runner for CreateCluster {
        fn run<'a>(&'a self, ctx: &'a TaskContext) -> BoxFuture<'a, Result<Outputs, TaskError>> {
            Box::pin(async move {
                let client = self.0.client(ctx)?;
                let props = ctx.properties.as_object().cloned().unwrap_or_default();
                let cluster_id = match ctx
                    .checkpoint
                    .as_ref()
                    .and_then(|c| c["cluster_id"].as_str())
                {
                    Some(id) => {
                        ctx.info(format!(
                            "re-attaching to cluster {id} created before a restart"
                        ))
                        .await;
                        id.to_owned()
                    }
                    None => {
                        let body = create_body(ctx, &props)?;
                        let created: Value = client.post("/api/2.1/clusters/create", &body).await?;
                        let id = created["cluster_id"]
                            .as_str()
                            .ok_or_else(|| {
                                TaskError::Failed(format!(
                                    "clusters/create answered without a cluster_id: {created}"
                                ))
                            })?
                            .to_owned();
                        ctx.checkpoint(&json!({"cluster_id": id})).await?;
                        ctx.info(format!("created cluster {id}; waiting for it to run"))
                            .await;
                        id
                    }
                };
                let started = Instant::now();
                let last_state = std::sync::Mutex::new(String::new());
                let state = wait_for(ctx, "the cluster to start", None, || {
                    let (client, cluster_id, last_state) =
                        (client.clone(), cluster_id.clone(), &last_state);
                    async move {
                        let cluster: Value = client
                            .get(
                                "/api/2.1/clusters/get",
                                &[("cluster_id", cluster_id.clone())],
                            )
                            .await?;
                        let state = cluster["state"].as_str().unwrap_or("UNKNOWN").to_owned();
                        let changed = last_state
                            .lock()
                            .map(|mut last| std::mem::replace(&mut *last, state.clone()) != state)
                            .unwrap_or(false);
                        if changed {
                            let message = cluster["state_message"].as_str().unwrap_or("");
                            ctx.info(format!(
                                "cluster {cluster_id} is {state} after {:.1}s {message}",
                                started.elapsed().as_secs_f64()
                            ))
                            .await;
                        }
                        match state.as_str() {
                            "RUNNING" => Ok(Some(state)),
                            "TERMINATED" | "TERMINATING" | "ERROR" => {
                                let reason = &cluster["termination_reason"];
                                Err(TaskError::Failed(format!(
                                    "cluster {cluster_id} did not start: {state} ({}{}){}",
                                    reason["code"].as_str().unwrap_or("no reason given"),
                                    reason["type"]
                                        .as_str()
                                        .map(|t| format!(", {t}"))
                                        .unwrap_or_default(),
                                    cluster["state_message"]
                                        .as_str()
                                        .filter(|m| !m.is_empty())
                                        .map(|m| format!(": {m}"))
                                        .unwrap_or_default(),
                                )))
                            }
                            _ => Ok(None),
                        }
                    }
                })
                .await?;
                let mut outputs = Outputs::new();
                outputs.insert("clusterId".into(), json!(cluster_id));
                outputs.insert(
                    "clusterURI".into(),
                    json!(format!(
                        "{}/#setting/clusters/{cluster_id}/configuration",
                        client.host()
                    )),
                );
                outputs.insert("state".into(), json!(state));
                Ok(outputs)
            })
        }

        /// A killed execution terminates the cluster it created.
        fn cancel<'a>(
            &'a self,
            ctx: &'a TaskContext,
            checkpoint: &'a Value,
        ) -> BoxFuture<'a, Result<(), TaskError>> {
            Box::pin(async move {
                let Some(id) = checkpoint["cluster_id"].as_str() else {
                    return Ok(());
                };
                let client = self.0.client(ctx)?;
                match client
                    .post::<_, Value>("/api/2.1/clusters/delete", &json!({"cluster_id": id}))
                    .await
                {
                    Ok(_) => {
                        ctx.info(format!(
                            "terminating cluster {id}, which this execution created"
                        ))
                        .await;
                        Ok(())
                    }
                    Err(error) if error.is_not_found() => Ok(()),
                    Err(error) => Err(error.into()),
                }
            })
        }
    }

    fn create_body(ctx: &TaskContext, props: &Map<String, Value>) -> Result<Value, TaskError> {
        let mut body = Map::new();
        // The properties Databricks takes as they are, by their declared field.
        for (kestra, databricks) in super::CREATE_CLUSTER
            .properties
            .iter()
            .filter_map(|p| Some((p.name, p.api?)))
        {
            if let Some(value) = props.get(kestra).filter(|v| !v.is_null()) {
                let value = if kestra == "autoTerminationMinutes" {
                    int(value).map(Value::from).unwrap_or(value.clone())
                } else {
                    value.clone()
                };
                body.insert(databricks.to_owned(), value);
            }
        }
        if !body.contains_key("cluster_name") {
            return Err(ctx.invalid("clusterName is required"));
        }
        if !body.contains_key("spark_version") {
            return Err(ctx.invalid("sparkVersion is required, such as 15.4.x-scala2.12"));
        }
        match (
            props.get("numWorkers").filter(|v| !v.is_null()),
            props.get("autoscale").and_then(Value::as_object),
        ) {
            (Some(workers), _) => {
                let workers = int(workers).ok_or_else(|| {
                    ctx.invalid(format!("numWorkers {workers} is not a whole number"))
                })?;
                body.insert("num_workers".into(), json!(workers));
            }
            (None, Some(autoscale)) => {
                let get = |k: &str| autoscale.get(k).and_then(int);
                let (Some(min), Some(max)) = (get("minWorkers"), get("maxWorkers")) else {
                    return Err(ctx.invalid("autoscale needs minWorkers and maxWorkers"));
                };
                body.insert(
                    "autoscale".into(),
                    json!({"min_workers": min, "max_workers": max}),
                );
            }
            // Kestra's CreateCluster takes the autoscale bounds at the top level.
            (None, None) => match (
                props.get("minWorkers").and_then(int),
                props.get("maxWorkers").and_then(int),
            ) {
                (Some(min), Some(max)) => {
                    body.insert(
                        "autoscale".into(),
                        json!({"min_workers": min, "max_workers": max}),
                    );
                }
                (None, None) => {
                    body.insert("num_workers".into(), json!(0));
                }
                _ => return Err(ctx.invalid("give both minWorkers and maxWorkers, or numWorkers")),
            },
        }
        // Traceability: the cluster says which execution made it.
        let tags = body.entry("custom_tags").or_insert_with(|| json!({}));
        if let Value::Object(tags) = tags {
            tags.entry("mortar_execution")
                .or_insert_with(|| json!(ctx.execution_id.as_str()));
        }
        Ok(Value::Object(body))
    }

    /// `num_workers`, or `autoscale` from `autoscale` or the top-level
    /// `minWorkers`/`maxWorkers` (as CreateCluster reads them).
    fn size(ctx: &TaskContext, props: &Map<String, Value>) -> Result<(&'static str, Value), TaskError> {
        if let Some(workers) = props.get("numWorkers").filter(|v| !v.is_null()) {
            let workers = int(workers)
                .filter(|n| *n >= 0)
                .ok_or_else(|| ctx.invalid(format!("numWorkers {workers} is not a whole number of workers")))?;
            return Ok(("num_workers", json!(workers)));
        }
        let bounds = match props.get("autoscale").and_then(Value::as_object) {
            Some(a) => (a.get("minWorkers").and_then(int), a.get("maxWorkers").and_then(int)),
            None => (props.get("minWorkers").and_then(int), props.get("maxWorkers").and_then(int)),
        };
        match bounds {
            (Some(min), Some(max)) if 0 <= min && min <= max => {
                Ok(("autoscale", json!({"min_workers": min, "max_workers": max})))
            }
            (Some(min), Some(max)) => Err(ctx.invalid(format!(
                "minWorkers ({min}) must be at least 0 and at most maxWorkers ({max})"
            ))),
            _ => Err(ctx.invalid(
                "give numWorkers, or minWorkers and maxWorkers (or autoscale with both)",
            )),
        }
    }

    pub(super) struct ResizeCluster(pub(super) Arc<Databricks>);

    impl Runner for ResizeCluster {
        fn run<'a>(&'a self, ctx: &'a TaskContext) -> BoxFuture<'a, Result<Outputs, TaskError>> {
            Box::pin(async move {
                let client = self.0.client(ctx)?;
                let props = ctx.properties.as_object().cloned().unwrap_or_default();
                let id = props
                    .get("clusterId")
                    .and_then(Value::as_str)
                    .filter(|s| !s.is_empty())
                    .ok_or_else(|| ctx.invalid("clusterId is required"))?
                    .to_owned();
                let (field, value) = size(ctx, &props)?;
                client
                    .post::<_, Value>(
                        "/api/2.1/clusters/resize",
                        &json!({"cluster_id": id, field: value}),
                    )
                    .await?;
                ctx.info(format!("resizing cluster {id} to {field} {value}"))
                    .await;
                let wait = props.get("wait").and_then(Value::as_bool).unwrap_or(true);
                let state = if wait {
                    wait_for(ctx, "the cluster to resize", None, || {
                        let (client, id) = (client.clone(), id.clone());
                        async move {
                            let cluster: Value =
                                client.get("/api/2.1/clusters/get", &[("cluster_id", id.clone())]).await?;
                            match cluster["state"].as_str().unwrap_or("UNKNOWN") {
                                "RUNNING" => Ok(Some("RUNNING".to_owned())),
                                "RESIZING" | "PENDING" | "RESTARTING" => Ok(None),
                                other => Err(TaskError::Failed(format!(
                                    "cluster {id} is {other} while resizing{}",
                                    cluster["state_message"].as_str().map(|m| format!(": {m}")).unwrap_or_default()
                                ))),
                            }
                        }
                    })
                    .await?
                } else {
                    "RESIZING".to_owned()
                };
                let mut outputs = Outputs::new();
                outputs.insert("clusterId".into(), json!(id));
                outputs.insert(
                    if field == "num_workers" { "numWorkers" } else { "autoscale" }.into(),
                    value,
                );
                outputs.insert("state".into(), json!(state));
                Ok(outputs)
            })
        }
    }

    pub(super) struct DeleteCluster(pub(super) Arc<Databricks>);

    impl Runner for DeleteCluster {
        fn run<'a>(&'a self, ctx: &'a TaskContext) -> BoxFuture<'a, Result<Outputs, TaskError>> {
            Box::pin(async move {
                let client = self.0.client(ctx)?;
                let props = &ctx.properties;
                let id = props["clusterId"]
                    .as_str()
                    .filter(|s| !s.is_empty())
                    .ok_or_else(|| ctx.invalid("clusterId is required"))?
                    .to_owned();
                let permanent = props["permanent"].as_bool().unwrap_or(false);
                let wait = props["wait"].as_bool().unwrap_or(true);
                match client
                    .post::<_, Value>("/api/2.1/clusters/delete", &json!({"cluster_id": id}))
                    .await
                {
                    Ok(_) => {}
                    Err(error) if error.is_not_found() => {
                        ctx.info(format!(
                            "cluster {id} does not exist any more: nothing to delete"
                        ))
                        .await;
                        return Ok(Outputs::new());
                    }
                    Err(error) => return Err(error.into()),
                }
                ctx.info(format!("terminating cluster {id}")).await;
                if wait || permanent {
                    wait_for(ctx, "the cluster to terminate", None, || {
                        let (client, id) = (client.clone(), id.clone());
                        async move {
                            match client
                                .get::<Value>("/api/2.1/clusters/get", &[("cluster_id", id)])
                                .await
                            {
                                Ok(cluster) => Ok((cluster["state"] == "TERMINATED").then_some(())),
                                Err(error) if error.is_not_found() => Ok(Some(())),
                                Err(error) => Err(error.into()),
                            }
                        }
                    })
                    .await?;
                    ctx.info(format!("cluster {id} is TERMINATED")).await;
                }
                if permanent {
                    client
                        .post::<_, Value>(
                            "/api/2.1/clusters/permanent-delete",
                            &json!({"cluster_id": id}),
                        )
                        .await?;
                    ctx.info(format!("cluster {id} is deleted permanently"))
                        .await;
                }
                Ok(Outputs::new())
            })
        }
    }
}
