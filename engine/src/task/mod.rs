//! Every task and trigger type, each declared once beside its runner, in a
//! file per Kestra package (`core/kv.rs` is `io.kestra.plugin.core.kv`). A
//! declaration ([`TaskType`]) holds the properties, their kinds, defaults,
//! docs and examples, the outputs and how the runner is made; validation,
//! completion, the docs, the JSON Schema, `/api/v1/plugins` and the runtime
//! all read it. The browser's build (no `runtime` feature) keeps the
//! declarations and leaves the runners out.
//!
//! Adding a type: its declaration and runner in its package's file, and its
//! line in [`TYPES`].

pub mod core;
pub mod databricks;
pub mod jdbc;
pub mod notifications;
#[cfg(feature = "runtime")]
mod runner;
pub mod scripts;
pub mod serdes;

// The runtime half lives in `runner.rs` so that this file is the catalog;
// its names stay `task::TaskContext` and so on for the rest of the engine.
#[cfg(feature = "runtime")]
pub use runner::{
    Mask, Outputs, Purge, Runner, RunnerEnv, Runners, Services, TaskContext, TaskError, TaskRunRef,
    aliases, value_text,
};

use crate::flow::registry::TaskType;

/// Every type Mortar knows, in the order the docs list them.
pub const TYPES: &[TaskType] = &[
    core::log::LOG,
    core::debug::RETURN,
    core::debug::ECHO,
    core::output::OUTPUT_VALUES,
    core::http::TRIGGER,
    core::http::REQUEST,
    core::http::DOWNLOAD,
    core::http::SSE_REQUEST,
    core::storage::WRITE,
    core::storage::SIZE,
    core::storage::CONCAT,
    core::storage::DELETE,
    core::storage::REVERSE,
    core::storage::SPLIT,
    core::storage::PURGE_CURRENT_EXECUTION_FILES,
    core::state::GET,
    core::state::SET,
    core::state::DELETE,
    core::storage::DEDUPLICATE_ITEMS,
    core::storage::FILTER_ITEMS,
    core::storage::LOCAL_FILES,
    core::namespace::UPLOAD_FILES,
    core::namespace::DOWNLOAD_FILES,
    core::namespace::DELETE_FILES,
    core::namespace::PURGE_FILES,
    core::templating::TEMPLATED_TASK,
    core::flow::SLEEP,
    core::execution::FAIL,
    core::execution::ASSERT,
    core::execution::RESUME,
    core::execution::LABELS,
    core::execution::EXIT,
    core::execution::PURGE_EXECUTIONS,
    core::execution::SET_VARIABLES,
    core::execution::UNSET_VARIABLES,
    core::execution::COUNT,
    core::log::PURGE_LOGS,
    core::log::FETCH,
    core::metric::PUBLISH,
    core::kv::SET,
    core::kv::PUT,
    core::kv::GET,
    core::kv::DELETE,
    core::kv::GET_KEYS,
    core::kv::PURGE_KV,
    core::flow::SEQUENTIAL,
    core::flow::ALLOW_FAILURE,
    core::flow::WORKING_DIRECTORY,
    core::flow::PARALLEL,
    core::flow::DAG,
    core::flow::IF,
    core::flow::SWITCH,
    core::flow::FOR_EACH,
    core::flow::EACH_SEQUENTIAL,
    core::flow::EACH_PARALLEL,
    core::flow::LOOP_UNTIL,
    core::flow::WAIT_FOR,
    core::flow::SUBFLOW,
    core::flow::FOR_EACH_ITEM,
    core::flow::PAUSE,
    core::flow::TEMPLATE,
    databricks::cluster::CREATE_CLUSTER,
    databricks::cluster::DELETE_CLUSTER,
    databricks::cluster::RESIZE_CLUSTER,
    databricks::dbfs::UPLOAD,
    databricks::dbfs::DOWNLOAD,
    databricks::dbfs::WAIT_FOR_FILE,
    databricks::sql::QUERY,
    databricks::warehouse::START_WAREHOUSE,
    databricks::warehouse::STOP_WAREHOUSE,
    databricks::jobs::SUBMIT_RUN,
    databricks::jobs::CREATE_JOB,
    databricks::jobs::RUN_NOW,
    databricks::jobs::REPAIR_RUN,
    databricks::unity::CATALOG_CREATE,
    databricks::unity::CATALOG_GET,
    databricks::unity::CATALOG_LIST,
    databricks::unity::CATALOG_UPDATE,
    databricks::unity::CATALOG_DELETE,
    databricks::unity::SCHEMA_CREATE,
    databricks::unity::SCHEMA_GET,
    databricks::unity::SCHEMA_LIST,
    databricks::unity::SCHEMA_UPDATE,
    databricks::unity::SCHEMA_DELETE,
    databricks::unity::TABLE_GET,
    databricks::unity::TABLE_LIST,
    databricks::unity::TABLE_DELETE,
    databricks::unity::VOLUME_CREATE,
    databricks::unity::VOLUME_GET,
    databricks::unity::VOLUME_LIST,
    databricks::unity::VOLUME_UPDATE,
    databricks::unity::VOLUME_DELETE,
    databricks::unity::VOLUME_UPLOAD,
    databricks::unity::VOLUME_DOWNLOAD,
    databricks::unity::GRANT_GET,
    databricks::unity::GRANT_UPDATE,
    databricks::watch::DBFS_TRIGGER,
    databricks::watch::TABLE_TRIGGER,
    databricks::cli::DATABRICKS_CLI,
    databricks::cli::DATABRICKS_SQL_CLI,
    databricks::genie::ASK_QUESTION,
    databricks::genie::CONTINUE,
    databricks::lakebase::QUERY,
    databricks::lakebase::BATCH,
    databricks::lakebase::TRIGGER,
    databricks::zerobus::WRITE_RECORDS,
    scripts::shell::COMMANDS_TASK,
    scripts::shell::SCRIPT,
    scripts::python::COMMANDS_TASK,
    scripts::python::SCRIPT,
    scripts::node::COMMANDS_TASK,
    scripts::node::SCRIPT,
    notifications::slack::INCOMING_WEBHOOK,
    notifications::slack::EXECUTION,
    notifications::slack_app::POST,
    notifications::slack_app::CONVERSATIONS_CREATE,
    notifications::slack_app::CONVERSATIONS_INVITE,
    notifications::slack_app::CONVERSATIONS_SET_TOPIC,
    notifications::slack_app::CONVERSATIONS_HISTORY,
    notifications::slack_app::REACTIONS_ADD,
    notifications::slack_app::CANVASES_CREATE,
    notifications::teams::INCOMING_WEBHOOK,
    notifications::teams::EXECUTION,
    notifications::discord::INCOMING_WEBHOOK,
    notifications::discord::EXECUTION,
    notifications::google::INCOMING_WEBHOOK,
    notifications::google::EXECUTION,
    notifications::email::MAIL_SEND,
    notifications::email::MAIL_EXECUTION,
    serdes::csv::CSV_TO_ION,
    serdes::csv::ION_TO_CSV,
    serdes::json::JSON_TO_ION,
    serdes::json::ION_TO_JSON,
    serdes::avro::ION_TO_AVRO,
    serdes::avro::AVRO_TO_ION,
    serdes::parquet::ION_TO_PARQUET,
    serdes::parquet::PARQUET_TO_ION,
    serdes::excel::ION_TO_EXCEL,
    serdes::excel::EXCEL_TO_ION,
    jdbc::postgresql::QUERY,
    jdbc::postgresql::QUERIES,
    jdbc::postgresql::COPY_IN,
    jdbc::postgresql::COPY_OUT,
    jdbc::sqlite::QUERY,
    jdbc::sqlite::QUERIES,
    core::trigger::SCHEDULE,
    core::trigger::SCHEDULE_ON_DATES,
    core::trigger::TOGGLE,
    core::trigger::WEBHOOK,
    core::trigger::FLOW_TRIGGER,
    jdbc::postgresql::TRIGGER,
    jdbc::sqlite::TRIGGER,
    core::condition::EXECUTION_FLOW,
    core::condition::EXECUTION_STATUS,
    core::condition::EXECUTION_NAMESPACE,
    core::condition::EXECUTION_LABELS,
    core::condition::EXECUTION_OUTPUTS,
    core::condition::HAS_RETRY_ATTEMPT,
    core::condition::FLOW_CONDITION,
    core::condition::FLOW_NAMESPACE_CONDITION,
    core::condition::MULTIPLE_CONDITION,
    core::condition::PUBLIC_HOLIDAY,
    core::condition::EXPRESSION,
    core::condition::DAY_WEEK,
    core::condition::DAY_WEEK_IN_MONTH,
    core::condition::WEEKEND,
    core::condition::TIME_BETWEEN,
    core::condition::DATE_TIME_BETWEEN,
    core::condition::NOT,
    core::condition::OR,
];

#[cfg(all(test, feature = "runtime"))]
mod tests {
    use super::*;
    use crate::flow::registry::Category;

    #[test]
    fn every_task_has_a_runner_under_each_of_its_names_and_only_tasks_do() {
        let runners = Runners::core();
        for task_type in TYPES {
            // flow.Pause and execution.Exit are the tasks the executor runs itself.
            // flow.Template's runner only reports a template not found.
            // A watching trigger is the task its own polls run.
            let polls_itself = crate::polling::POLLED
                .iter()
                .any(|p| p.trigger.name == task_type.name && p.task.name == task_type.name);
            let own_runner = (task_type.category == Category::Task
                || polls_itself
                || task_type.name == core::flow::TEMPLATE.name)
                && ![
                    core::flow::PAUSE.name,
                    core::execution::EXIT.name,
                    core::execution::SET_VARIABLES.name,
                    core::execution::UNSET_VARIABLES.name,
                ]
                .contains(&task_type.name);
            assert_eq!(task_type.run.is_some(), own_runner, "{}", task_type.name);
            assert_eq!(
                task_type.check.is_some(),
                task_type.category == Category::Condition,
                "{}",
                task_type.name
            );
            if task_type.run.is_some() {
                for name in aliases(task_type.name)
                    .iter()
                    .chain([&task_type.alias.to_owned()])
                {
                    assert!(runners.get(name).is_some(), "{name}");
                }
            }
        }
    }
}
