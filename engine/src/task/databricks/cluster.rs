//! `cluster.CreateCluster` and `cluster.DeleteCluster`.

use std::sync::Arc;
use std::time::Instant;

use futures::future::BoxFuture;
use serde_json::{Map, Value, json};

use super::{Databricks, bad, int, wait_for};
use crate::task::{Outputs, Runner, Runners, TaskContext, TaskError};

pub(super) fn register(runners: &mut Runners, databricks: &Arc<Databricks>) {
    runners.register("io.kestra.plugin.databricks.cluster.CreateCluster", Arc::new(CreateCluster(databricks.clone())));
    runners.register("io.kestra.plugin.databricks.cluster.DeleteCluster", Arc::new(DeleteCluster(databricks.clone())));
}

struct CreateCluster(Arc<Databricks>);

/// Kestra's property and the Databricks field it fills.
const FIELDS: &[(&str, &str)] = &[
    ("clusterName", "cluster_name"),
    ("sparkVersion", "spark_version"),
    ("nodeTypeId", "node_type_id"),
    ("driverNodeTypeId", "driver_node_type_id"),
    ("autoTerminationMinutes", "autotermination_minutes"),
    ("sparkConf", "spark_conf"),
    ("sparkEnvVars", "spark_env_vars"),
    ("customTags", "custom_tags"),
    ("policyId", "policy_id"),
    ("instancePoolId", "instance_pool_id"),
    ("dataSecurityMode", "data_security_mode"),
    ("singleUserName", "single_user_name"),
    ("runtimeEngine", "runtime_engine"),
    ("initScripts", "init_scripts"),
];

impl Runner for CreateCluster {
    fn run<'a>(&'a self, ctx: &'a TaskContext) -> BoxFuture<'a, Result<Outputs, TaskError>> {
        Box::pin(async move {
            let client = self.0.client(ctx)?;
            let props = ctx.properties.as_object().cloned().unwrap_or_default();
            let cluster_id = match ctx.checkpoint.as_ref().and_then(|c| c["cluster_id"].as_str()) {
                Some(id) => {
                    ctx.info(format!("re-attaching to cluster {id} created before a restart")).await;
                    id.to_owned()
                }
                None => {
                    let body = create_body(ctx, &props)?;
                    let created: Value = client.post("/api/2.1/clusters/create", &body).await?;
                    let id = created["cluster_id"]
                        .as_str()
                        .ok_or_else(|| TaskError::Failed(format!("clusters/create answered without a cluster_id: {created}")))?
                        .to_owned();
                    ctx.checkpoint(&json!({"cluster_id": id})).await?;
                    ctx.info(format!("created cluster {id}; waiting for it to run")).await;
                    id
                }
            };
            let started = Instant::now();
            let last_state = std::sync::Mutex::new(String::new());
            let state = wait_for(ctx, "the cluster to start", None, || {
                let (client, cluster_id, last_state) = (client.clone(), cluster_id.clone(), &last_state);
                async move {
                    let cluster: Value = client.get("/api/2.1/clusters/get", &[("cluster_id", cluster_id.clone())]).await?;
                    let state = cluster["state"].as_str().unwrap_or("UNKNOWN").to_owned();
                    let changed = last_state.lock().map(|mut last| std::mem::replace(&mut *last, state.clone()) != state).unwrap_or(false);
                    if changed {
                        let message = cluster["state_message"].as_str().unwrap_or("");
                        ctx.info(format!("cluster {cluster_id} is {state} after {:.1}s {message}", started.elapsed().as_secs_f64())).await;
                    }
                    match state.as_str() {
                        "RUNNING" => Ok(Some(state)),
                        "TERMINATED" | "TERMINATING" | "ERROR" => {
                            let reason = &cluster["termination_reason"];
                            Err(TaskError::Failed(format!(
                                "cluster {cluster_id} did not start: {state} ({}{}){}",
                                reason["code"].as_str().unwrap_or("no reason given"),
                                reason["type"].as_str().map(|t| format!(", {t}")).unwrap_or_default(),
                                cluster["state_message"].as_str().filter(|m| !m.is_empty()).map(|m| format!(": {m}")).unwrap_or_default(),
                            )))
                        }
                        _ => Ok(None),
                    }
                }
            })
            .await?;
            let mut outputs = Outputs::new();
            outputs.insert("clusterId".into(), json!(cluster_id));
            outputs.insert("clusterURI".into(), json!(format!("{}/#setting/clusters/{cluster_id}/configuration", client.host())));
            outputs.insert("state".into(), json!(state));
            Ok(outputs)
        })
    }

    /// A killed execution terminates the cluster it created.
    fn cancel<'a>(&'a self, ctx: &'a TaskContext, checkpoint: &'a Value) -> BoxFuture<'a, Result<(), TaskError>> {
        Box::pin(async move {
            let Some(id) = checkpoint["cluster_id"].as_str() else { return Ok(()) };
            let client = self.0.client(ctx)?;
            match client.post::<_, Value>("/api/2.1/clusters/delete", &json!({"cluster_id": id})).await {
                Ok(_) => {
                    ctx.info(format!("terminating cluster {id}, which this execution created")).await;
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
    for (kestra, databricks) in FIELDS {
        if let Some(value) = props.get(*kestra).filter(|v| !v.is_null()) {
            let value = if *kestra == "autoTerminationMinutes" { int(value).map(Value::from).unwrap_or(value.clone()) } else { value.clone() };
            body.insert((*databricks).to_owned(), value);
        }
    }
    if !body.contains_key("cluster_name") {
        return Err(bad(ctx, "clusterName is required"));
    }
    if !body.contains_key("spark_version") {
        return Err(bad(ctx, "sparkVersion is required, such as 15.4.x-scala2.12"));
    }
    match (props.get("numWorkers").filter(|v| !v.is_null()), props.get("autoscale").and_then(Value::as_object)) {
        (Some(workers), _) => {
            let workers = int(workers).ok_or_else(|| bad(ctx, format!("numWorkers {workers} is not a whole number")))?;
            body.insert("num_workers".into(), json!(workers));
        }
        (None, Some(autoscale)) => {
            let get = |k: &str| autoscale.get(k).and_then(int);
            let (Some(min), Some(max)) = (get("minWorkers"), get("maxWorkers")) else {
                return Err(bad(ctx, "autoscale needs minWorkers and maxWorkers"));
            };
            body.insert("autoscale".into(), json!({"min_workers": min, "max_workers": max}));
        }
        // Kestra's CreateCluster takes the autoscale bounds at the top level.
        (None, None) => match (props.get("minWorkers").and_then(int), props.get("maxWorkers").and_then(int)) {
            (Some(min), Some(max)) => {
                body.insert("autoscale".into(), json!({"min_workers": min, "max_workers": max}));
            }
            (None, None) => {
                body.insert("num_workers".into(), json!(0));
            }
            _ => return Err(bad(ctx, "give both minWorkers and maxWorkers, or numWorkers")),
        },
    }
    // Traceability: the cluster says which execution made it.
    let tags = body.entry("custom_tags").or_insert_with(|| json!({}));
    if let Value::Object(tags) = tags {
        tags.entry("mortar_execution").or_insert_with(|| json!(ctx.execution_id.as_str()));
    }
    Ok(Value::Object(body))
}

struct DeleteCluster(Arc<Databricks>);

impl Runner for DeleteCluster {
    fn run<'a>(&'a self, ctx: &'a TaskContext) -> BoxFuture<'a, Result<Outputs, TaskError>> {
        Box::pin(async move {
            let client = self.0.client(ctx)?;
            let props = &ctx.properties;
            let id = props["clusterId"].as_str().filter(|s| !s.is_empty()).ok_or_else(|| bad(ctx, "clusterId is required"))?.to_owned();
            let permanent = props["permanent"].as_bool().unwrap_or(false);
            let wait = props["wait"].as_bool().unwrap_or(true);
            match client.post::<_, Value>("/api/2.1/clusters/delete", &json!({"cluster_id": id})).await {
                Ok(_) => {}
                Err(error) if error.is_not_found() => {
                    ctx.info(format!("cluster {id} does not exist any more: nothing to delete")).await;
                    return Ok(Outputs::new());
                }
                Err(error) => return Err(error.into()),
            }
            ctx.info(format!("terminating cluster {id}")).await;
            if wait || permanent {
                wait_for(ctx, "the cluster to terminate", None, || {
                    let (client, id) = (client.clone(), id.clone());
                    async move {
                        match client.get::<Value>("/api/2.1/clusters/get", &[("cluster_id", id)]).await {
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
                client.post::<_, Value>("/api/2.1/clusters/permanent-delete", &json!({"cluster_id": id})).await?;
                ctx.info(format!("cluster {id} is deleted permanently")).await;
            }
            Ok(Outputs::new())
        })
    }
}
