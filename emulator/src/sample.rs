//! The sample workspace every emulator starts with, so the blueprints run
//! unchanged: the starter warehouse, the `main.default` schema with a
//! `files` volume, notebooks under `/Shared/mortar-examples/`, and small CSV
//! data sets under `dbfs:/databricks-datasets/mortar/`, and a small copy of
//! the `samples.nyctaxi.trips` table every Databricks workspace has (Kestra's
//! blueprints query it).

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
    crate::unity::seed(state);
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

/// 20 trips of `samples.nyctaxi.trips`, its columns and types.
const TRIPS: &str = "INSERT INTO trips VALUES
('2016-02-14 16:52:13', '2016-02-14 17:16:04', 4.94, 19.0, 10282, 10171),
('2016-02-04 18:44:19', '2016-02-04 18:46:00', 0.28, 3.5, 10110, 10110),
('2016-02-17 17:13:57', '2016-02-17 17:17:55', 0.7, 5.0, 10103, 10023),
('2016-02-18 10:36:07', '2016-02-18 10:41:45', 0.8, 6.0, 10022, 10017),
('2016-02-22 14:14:41', '2016-02-22 14:31:52', 4.51, 17.0, 10110, 10282),
('2016-02-05 06:45:02', '2016-02-05 06:50:26', 1.8, 7.0, 10009, 10065),
('2016-02-15 15:03:28', '2016-02-15 15:18:45', 2.58, 12.0, 10153, 10199),
('2016-02-25 19:09:26', '2016-02-25 19:24:50', 1.4, 11.0, 10112, 10069),
('2016-02-13 16:28:18', '2016-02-13 16:36:36', 1.21, 7.5, 10023, 10153),
('2016-02-14 00:03:48', '2016-02-14 00:10:24', 0.6, 6.0, 10012, 10003),
('2016-02-16 08:29:58', '2016-02-16 08:38:39', 1.2, 7.5, 10003, 10011),
('2016-02-11 22:49:09', '2016-02-11 23:06:40', 6.35, 20.5, 10001, 11222),
('2016-02-21 10:39:41', '2016-02-21 10:48:18', 2.13, 9.0, 10017, 10128),
('2016-02-27 14:48:26', '2016-02-27 15:06:53', 3.06, 14.5, 10036, 10024),
('2016-02-08 13:37:07', '2016-02-08 13:47:48', 1.14, 8.5, 10016, 10036),
('2016-02-01 21:39:43', '2016-02-01 21:49:23', 2.65, 10.5, 10119, 10021),
('2016-02-26 12:11:52', '2016-02-26 12:38:03', 9.75, 31.0, 11371, 10019),
('2016-02-09 09:58:43', '2016-02-09 10:13:27', 1.97, 11.0, 10025, 10019),
('2016-02-19 23:04:44', '2016-02-19 23:13:49', 2.3, 9.5, 10011, 10128),
('2016-02-23 07:15:43', '2016-02-23 07:28:59', 2.66, 11.5, 10021, 10014)";

/// Creates the sample tables the SQL engine starts with.
pub(crate) async fn seed_tables(state: &Shared) {
    for statement in [
        "CREATE TABLE IF NOT EXISTS samples.nyctaxi.trips (tpep_pickup_datetime TIMESTAMP, tpep_dropoff_datetime TIMESTAMP, trip_distance DOUBLE, fare_amount DOUBLE, pickup_zip INT, dropoff_zip INT)",
        TRIPS,
    ] {
        if let Err(e) = crate::unity::run_sql(state, statement, &[]).await {
            tracing::warn!(error = %e, "could not seed the sample tables");
            return;
        }
    }
}
