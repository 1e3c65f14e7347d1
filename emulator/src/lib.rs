//! A local Databricks workspace speaking the real REST API (see
//! `../shared/databricks-api.md`). Under construction.
