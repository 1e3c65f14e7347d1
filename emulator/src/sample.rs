//! The sample workspace every emulator starts with, so the blueprints run
//! unchanged: the starter warehouse, the `main.default` schema with a
//! `files` volume, notebooks under `/Shared/mortar-examples/`, and small CSV
//! data sets under `dbfs:/databricks-datasets/mortar/`.

use bytes::Bytes;

use crate::Shared;

const AGGREGATE: &str = "# Databricks notebook source\n\
# Aggregates its input and returns its parameters as the notebook result.\n\
params = {k: v for k, v in dbutils.widgets.getAll().items()}\n\
print(\"aggregate\", params)\n";

const TRANSFORM: &str = "# Databricks notebook source\n\
# Transforms its input and returns its parameters as the notebook result.\n\
params = {k: v for k, v in dbutils.widgets.getAll().items()}\n\
print(\"transform\", params)\n";

const SALES: &str = "region,product,amount,sold_on\n\
EMEA,widget,120.50,2024-01-03\n\
EMEA,gadget,75.00,2024-01-04\n\
AMER,widget,210.00,2024-01-04\n\
AMER,gizmo,42.25,2024-01-05\n\
APAC,widget,99.90,2024-01-05\n\
APAC,gadget,150.00,2024-01-06\n\
AMER,gadget,60.00,2024-01-07\n\
EMEA,gizmo,33.30,2024-01-07\n";

const CUSTOMERS: &str = "customer_id,name,country,signup_date\n\
1,Ada Lovelace,GB,2023-03-01\n\
2,Grace Hopper,US,2023-04-12\n\
3,Katherine Johnson,US,2023-05-30\n\
4,Hedy Lamarr,AT,2023-07-19\n\
5,Radia Perlman,US,2023-09-02\n";

const ORDERS: &str = "order_id,customer_id,amount,ordered_at\n\
100,1,25.00,2024-02-01\n\
101,2,130.00,2024-02-01\n\
102,1,15.50,2024-02-03\n\
103,3,72.00,2024-02-04\n\
104,5,310.75,2024-02-06\n\
105,2,8.99,2024-02-07\n";

pub(crate) fn seed(state: &Shared) {
    crate::warehouses::seed_starter(state);
    let fs = &state.fs;
    let base = "/databricks-datasets/mortar";
    for (name, data) in [
        ("sales.csv", SALES),
        ("customers.csv", CUSTOMERS),
        ("orders.csv", ORDERS),
    ] {
        let path = format!("{base}/{name}");
        // Keep files a data directory already holds (they may have been edited).
        if fs.stat(&path).is_none()
            && let Err(e) = fs.write_file(&path, Bytes::from_static(data.as_bytes()), false)
        {
            tracing::warn!(error = %e, %path, "could not seed a sample data set");
        }
    }
    if let Err(e) = fs.mkdirs("/Volumes/main/default/files") {
        tracing::warn!(error = %e, "could not create the sample volume");
    }
    let ws = &state.workspace;
    let placed = ws.mkdirs("/Shared/mortar-examples").and_then(|()| {
        ws.put(
            "/Shared/mortar-examples/aggregate",
            "NOTEBOOK",
            Some("PYTHON".into()),
            AGGREGATE.as_bytes().to_vec(),
            true,
        )?;
        ws.put(
            "/Shared/mortar-examples/transform",
            "NOTEBOOK",
            Some("PYTHON".into()),
            TRANSFORM.as_bytes().to_vec(),
            true,
        )
    });
    if let Err(e) = placed {
        tracing::warn!(error = %e, "could not place the sample notebooks");
    }
    if let Err(e) = ws.mkdirs("/Users/mortar@example.com") {
        tracing::warn!(error = %e, "could not create the user's home folder");
    }
}
