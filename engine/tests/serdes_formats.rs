//! The Avro, Parquet and Excel serdes tasks through the executor: CSV and
//! Ion to each format and back, column order, types and values kept, a bad
//! schema or record failing with the field named.
//!
//! With `SERDES_FORMATS_KEEP=<dir>`, the files written are copied there, so
//! that an independent reader (fastavro, pyarrow, openpyxl) can check them.

use std::sync::Arc;
use std::time::Duration;

use engine::executor::{Executor, Launch};
use engine::ids::ExecutionId;
use engine::log::Level;
use engine::plan::Plan;
use engine::state::State;
use engine::store::TaskRunRecord;
use engine::task::Runners;
use serde_json::Value;

mod support;
use support::{Harness, harness};

async fn run(h: &Harness, yaml: &str) -> (State, Vec<TaskRunRecord>, ExecutionId) {
    let executor = Executor::new(
        h.services.clone(),
        Runners::core(),
        Arc::new(|_: &str| None),
    );
    let plan = Arc::new(Plan::from_yaml(yaml).unwrap());
    let id = executor
        .launch(Launch {
            id: None,
            plan,
            flow_revision: 1,
            inputs: Default::default(),
            labels: Default::default(),
            trigger_vars: None,
        })
        .await
        .unwrap()
        .id;
    let state = tokio::time::timeout(Duration::from_secs(60), executor.wait(&id))
        .await
        .unwrap()
        .unwrap();
    (state, h.store.task_runs(&id).await.unwrap(), id)
}

fn outputs(runs: &[TaskRunRecord], task: &str) -> Value {
    runs.iter()
        .find(|r| r.task_id.as_str() == task)
        .and_then(|r| r.outputs.clone())
        .unwrap_or_else(|| panic!("no outputs of {task}: {runs:#?}"))
}

async fn errors(h: &Harness, id: &ExecutionId) -> Vec<String> {
    h.services.logs.flush().await;
    h.store
        .logs(id, Level::Error, 0, 100)
        .await
        .unwrap()
        .into_iter()
        .map(|l| l.message)
        .collect()
}

/// The text of a file of internal storage.
fn read(h: &Harness, uri: &Value) -> String {
    let path = h.services.storage.path_of(uri.as_str().unwrap()).unwrap();
    std::fs::read_to_string(path).unwrap()
}

/// Copies a file written to `$SERDES_FORMATS_KEEP/<name>`, for a manual check.
fn keep(h: &Harness, uri: &Value, name: &str) {
    if let Ok(dir) = std::env::var("SERDES_FORMATS_KEEP") {
        let path = h.services.storage.path_of(uri.as_str().unwrap()).unwrap();
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::copy(path, std::path::Path::new(&dir).join(name)).unwrap();
    }
}

const SCHEMA: &str = r#"{"type": "record", "name": "Row", "fields": [
  {"name": "id", "type": "int"},
  {"name": "name", "type": "string"},
  {"name": "price", "type": "double"},
  {"name": "active", "type": "boolean"},
  {"name": "note", "type": ["null", "string"], "default": null},
  {"name": "day", "type": {"type": "int", "logicalType": "date"}},
  {"name": "at", "type": {"type": "long", "logicalType": "timestamp-millis"}},
  {"name": "amount", "type": {"type": "bytes", "logicalType": "decimal", "precision": 9, "scale": 2}},
  {"name": "big", "type": ["null", "long"]}
]}"#;

/// What AvroToIon and ParquetToIon give for the CSV below with [`SCHEMA`].
const TYPED: &str = "{id:1,name:\"Ada\",price:1.5e0,active:true,note:null,day:2024-01-15,at:2024-01-15T10:30:00.000Z,amount:12.50,big:9007199254740993}\n\
{id:2,name:\"Bob, Jr\",price:-2.0e0,active:false,note:\"hello\",day:2023-12-31,at:2024-01-15T08:30:00.123Z,amount:-0.05,big:null}\n";

/// Indents `text` under a YAML block scalar.
fn block(text: &str) -> String {
    text.lines().map(|l| format!("      {l}\n")).collect()
}

#[tokio::test]
async fn csv_goes_to_avro_and_back_typed_by_the_schema() {
    let h = harness().await;
    let yaml = format!(
        r#"
id: avro
namespace: company.team
tasks:
  - id: csv
    type: io.kestra.plugin.core.storage.Write
    content: "id,name,price,active,note,day,at,amount,big\n1,Ada,1.5,true,,2024-01-15,2024-01-15T10:30:00Z,12.5,9007199254740993\n2,\"Bob, Jr\",-2,no,hello,2023-12-31,2024-01-15T10:30:00.123+02:00,-0.05,NA\n"
    extension: .csv
  - id: to_ion
    type: io.kestra.plugin.serdes.csv.CsvToIon
    from: "{{{{ outputs.csv.uri }}}}"
  - id: to_avro
    type: io.kestra.plugin.serdes.avro.IonToAvro
    from: "{{{{ outputs.to_ion.uri }}}}"
    schema: |
{schema}
  - id: back
    type: io.kestra.plugin.serdes.avro.AvroToIon
    from: "{{{{ outputs.to_avro.uri }}}}"
  - id: again
    type: io.kestra.plugin.serdes.avro.IonToAvro
    from: "{{{{ outputs.back.uri }}}}"
    schema: |
{schema}
  - id: back_again
    type: io.kestra.plugin.serdes.avro.AvroToIon
    from: "{{{{ outputs.again.uri }}}}"
  - id: inferred
    type: io.kestra.plugin.serdes.avro.IonToAvro
    from: "{{{{ outputs.back.uri }}}}"
  - id: inferred_back
    type: io.kestra.plugin.serdes.avro.AvroToIon
    from: "{{{{ outputs.inferred.uri }}}}"
"#,
        schema = block(SCHEMA)
    );
    let (state, runs, id) = run(&h, &yaml).await;
    assert_eq!(
        state,
        State::Success,
        "{runs:#?} {:?}",
        errors(&h, &id).await
    );
    assert_eq!(outputs(&runs, "to_avro")["size"], 2);
    assert_eq!(read(&h, &outputs(&runs, "back")["uri"]), TYPED);
    // Ion's dates and timestamps read back into the same Avro types.
    assert_eq!(read(&h, &outputs(&runs, "back_again")["uri"]), TYPED);
    // Without a schema, Kestra's inference: each field a union of null and
    // the type seen; a timestamp is a local-timestamp-millis, an Ion decimal
    // a string.
    assert_eq!(
        read(&h, &outputs(&runs, "inferred_back")["uri"]),
        "{id:1,name:\"Ada\",price:1.5e0,active:true,note:null,day:2024-01-15,at:LocalDateTime::\"2024-01-15T10:30:00\",amount:\"12.5\",big:9007199254740993}\n\
         {id:2,name:\"Bob, Jr\",price:-2.0e0,active:false,note:\"hello\",day:2023-12-31,at:LocalDateTime::\"2024-01-15T08:30:00.123\",amount:\"-0.05\",big:null}\n"
    );
    let (metrics, _) = h
        .store
        .execution_metrics(&id, &Default::default())
        .await
        .unwrap();
    assert!(
        metrics
            .iter()
            .any(|m| m.metric.name == "records" && m.metric.value == 2.0)
    );
    keep(&h, &outputs(&runs, "to_avro")["uri"], "typed.avro");
    keep(&h, &outputs(&runs, "inferred")["uri"], "inferred.avro");
}

#[tokio::test]
async fn a_bad_schema_or_record_fails_naming_the_field() {
    let h = harness().await;
    let flow = |content: &str, extra: &str| {
        format!(
            "id: bad\nnamespace: company.team\ntasks:\n  - id: ion\n    type: io.kestra.plugin.core.storage.Write\n    content: {content:?}\n    extension: .ion\n  - id: to_avro\n    type: io.kestra.plugin.serdes.avro.IonToAvro\n    from: \"{{{{ outputs.ion.uri }}}}\"\n{extra}"
        )
    };
    let schema = "    schema: '{\"type\": \"record\", \"name\": \"R\", \"fields\": [{\"name\": \"id\", \"type\": \"int\"}, {\"name\": \"tag\", \"type\": [\"null\", \"string\"]}]}'\n";

    // Not an Avro schema.
    let (state, _, id) = run(
        &h,
        &flow("{id:1}\n", "    schema: '{\"type\": \"record\", \"name\": \"R\", \"fields\": [{\"name\": \"id\", \"type\": \"integer\"}]}'\n"),
    )
    .await;
    assert_eq!(state, State::Failed);
    let logged = errors(&h, &id).await.join("\n");
    assert!(logged.contains("not a valid Avro schema"), "{logged}");

    // A value that is not the field's type.
    let (state, _, id) = run(&h, &flow("{id:1}\n{id:\"abc\"}\n", schema)).await;
    assert_eq!(state, State::Failed);
    let logged = errors(&h, &id).await.join("\n");
    assert!(
        logged.contains("line 2: field 'id': cannot read \"abc\" as an int"),
        "{logged}"
    );

    // A missing value in a field that is not nullable.
    let (state, _, id) = run(&h, &flow("{tag:\"x\"}\n", schema)).await;
    assert_eq!(state, State::Failed);
    let logged = errors(&h, &id).await.join("\n");
    assert!(
        logged.contains("field 'id': null, but the field is not nullable"),
        "{logged}"
    );

    // A field the strict schema does not have.
    let strict = format!("{schema}    strictSchema: true\n");
    let (state, _, id) = run(&h, &flow("{id:1,tag:\"x\",extra:2}\n", &strict)).await;
    assert_eq!(state, State::Failed);
    let logged = errors(&h, &id).await.join("\n");
    assert!(
        logged.contains("field 'extra' is not in the schema (strictSchema)"),
        "{logged}"
    );

    // Without strictSchema the field is left out; with onBadLines SKIP a
    // record that does not fit is.
    let lenient = format!("{schema}    onBadLines: SKIP\n");
    let (state, runs, _) = run(
        &h,
        &flow("{id:1,tag:\"x\",extra:2}\n{id:\"abc\"}\n", &lenient),
    )
    .await;
    assert_eq!(state, State::Success);
    assert_eq!(outputs(&runs, "to_avro")["size"], 1);
}

#[tokio::test]
async fn ion_goes_to_parquet_and_back() {
    let h = harness().await;
    let yaml = format!(
        r#"
id: parquet
namespace: company.team
tasks:
  - id: csv
    type: io.kestra.plugin.core.storage.Write
    content: "id,name,price,active,note,day,at,amount,big\n1,Ada,1.5,true,,2024-01-15,2024-01-15T10:30:00Z,12.5,9007199254740993\n2,\"Bob, Jr\",-2,no,hello,2023-12-31,2024-01-15T10:30:00.123+02:00,-0.05,NA\n"
    extension: .csv
  - id: to_ion
    type: io.kestra.plugin.serdes.csv.CsvToIon
    from: "{{{{ outputs.csv.uri }}}}"
  - id: to_parquet
    type: io.kestra.plugin.serdes.parquet.IonToParquet
    from: "{{{{ outputs.to_ion.uri }}}}"
    schema: |
{schema}
  - id: back
    type: io.kestra.plugin.serdes.parquet.ParquetToIon
    from: "{{{{ outputs.to_parquet.uri }}}}"
  - id: snappy
    type: io.kestra.plugin.serdes.parquet.IonToParquet
    from: "{{{{ outputs.back.uri }}}}"
    compressionCodec: SNAPPY
    parquetVersion: V1
    rowGroupSize: 10
  - id: snappy_back
    type: io.kestra.plugin.serdes.parquet.ParquetToIon
    from: "{{{{ outputs.snappy.uri }}}}"
  - id: zstd
    type: io.kestra.plugin.serdes.parquet.IonToParquet
    from: "{{{{ outputs.back.uri }}}}"
    compressionCodec: ZSTD
    schema: |
{schema}
  - id: zstd_back
    type: io.kestra.plugin.serdes.parquet.ParquetToIon
    from: "{{{{ outputs.zstd.uri }}}}"
"#,
        schema = block(SCHEMA)
    );
    let (state, runs, id) = run(&h, &yaml).await;
    assert_eq!(
        state,
        State::Success,
        "{runs:#?} {:?}",
        errors(&h, &id).await
    );
    assert_eq!(outputs(&runs, "to_parquet")["size"], 2);
    assert_eq!(read(&h, &outputs(&runs, "back")["uri"]), TYPED);
    assert_eq!(read(&h, &outputs(&runs, "zstd_back")["uri"]), TYPED);
    // An inferred schema, one row group per record (rowGroupSize 10 bytes).
    assert_eq!(
        read(&h, &outputs(&runs, "snappy_back")["uri"]),
        "{id:1,name:\"Ada\",price:1.5e0,active:true,note:null,day:2024-01-15,at:LocalDateTime::\"2024-01-15T10:30:00\",amount:\"12.5\",big:9007199254740993}\n\
         {id:2,name:\"Bob, Jr\",price:-2.0e0,active:false,note:\"hello\",day:2023-12-31,at:LocalDateTime::\"2024-01-15T08:30:00.123\",amount:\"-0.05\",big:null}\n"
    );
    keep(&h, &outputs(&runs, "to_parquet")["uri"], "typed.parquet");
    keep(
        &h,
        &outputs(&runs, "snappy")["uri"],
        "inferred-snappy.parquet",
    );
    keep(&h, &outputs(&runs, "zstd")["uri"], "typed-zstd.parquet");
}

#[tokio::test]
async fn a_nested_field_is_refused_for_parquet() {
    let h = harness().await;
    let yaml = "id: nested\nnamespace: company.team\ntasks:\n  - id: ion\n    type: io.kestra.plugin.core.storage.Write\n    content: \"{id:1,tags:[\\\"a\\\"]}\\n\"\n    extension: .ion\n  - id: to_parquet\n    type: io.kestra.plugin.serdes.parquet.IonToParquet\n    from: \"{{ outputs.ion.uri }}\"\n";
    let (state, _, id) = run(&h, yaml).await;
    assert_eq!(state, State::Failed);
    let logged = errors(&h, &id).await.join("\n");
    assert!(logged.contains("field 'tags': an array"), "{logged}");
}

#[tokio::test]
async fn ion_goes_to_excel_and_back_keeping_the_columns() {
    let h = harness().await;
    let ion = "{zeta:1,alpha:\"Ada\",price:1.5e0,active:true,note:null,day:2024-01-15,at:2024-01-15T10:30:00.000Z}\n\
               {zeta:2,alpha:\"Bob\",price:-2.25e0,active:false,note:\"x, y\",day:2023-12-31,at:null}\n";
    let yaml = format!(
        r#"
id: excel
namespace: company.team
tasks:
  - id: ion
    type: io.kestra.plugin.core.storage.Write
    content: {ion:?}
    extension: .ion
  - id: second
    type: io.kestra.plugin.core.storage.Write
    content: "{{b:\"two\",a:2}}\n"
    extension: .ion
  - id: to_excel
    type: io.kestra.plugin.serdes.excel.IonToExcel
    from: "{{{{ outputs.ion.uri }}}}"
    sheetsTitle: Data
  - id: back
    type: io.kestra.plugin.serdes.excel.ExcelToIon
    from: "{{{{ outputs.to_excel.uri }}}}"
  - id: serial
    type: io.kestra.plugin.serdes.excel.ExcelToIon
    from: "{{{{ outputs.to_excel.uri }}}}"
    dateTimeRender: SERIAL_NUMBER
    header: false
    skipRows: 1
  - id: sheets
    type: io.kestra.plugin.serdes.excel.IonToExcel
    from:
      First: "{{{{ outputs.ion.uri }}}}"
      Second: "{{{{ outputs.second.uri }}}}"
  - id: one_sheet
    type: io.kestra.plugin.serdes.excel.ExcelToIon
    from: "{{{{ outputs.sheets.uri }}}}"
    sheetsTitle: [Second]
"#
    );
    let (state, runs, id) = run(&h, &yaml).await;
    assert_eq!(
        state,
        State::Success,
        "{runs:#?} {:?}",
        errors(&h, &id).await
    );
    assert_eq!(outputs(&runs, "to_excel")["size"], 2);
    let back = outputs(&runs, "back");
    assert_eq!(back["size"], 2);
    // Excel keeps every number as a double, as Kestra reads them; a date
    // cell is ISO text.
    assert_eq!(
        read(&h, &back["uris"]["Data"]),
        "{zeta:1.0e0,alpha:\"Ada\",price:1.5e0,active:true,note:null,day:\"2024-01-15\",at:\"2024-01-15T10:30:00\"}\n\
         {zeta:2.0e0,alpha:\"Bob\",price:-2.25e0,active:false,note:\"x, y\",day:\"2023-12-31\",at:null}\n"
    );
    assert_eq!(
        read(&h, &outputs(&runs, "serial")["uris"]["Data"]),
        "[1.0e0,\"Ada\",1.5e0,true,null,45306.0e0,45306.4375e0]\n[2.0e0,\"Bob\",-2.25e0,false,\"x, y\",45291.0e0,null]\n"
    );
    let one = outputs(&runs, "one_sheet");
    assert_eq!(one["size"], 1);
    assert_eq!(one["uris"].as_object().unwrap().len(), 1);
    assert_eq!(read(&h, &one["uris"]["Second"]), "{b:\"two\",a:2.0e0}\n");
    assert_eq!(outputs(&runs, "sheets")["size"], 3);
    let (metrics, _) = h
        .store
        .execution_metrics(&id, &Default::default())
        .await
        .unwrap();
    assert!(
        metrics
            .iter()
            .any(|m| m.metric.name == "sheets" && m.metric.value == 2.0)
    );
    keep(&h, &outputs(&runs, "to_excel")["uri"], "data.xlsx");
    keep(&h, &outputs(&runs, "sheets")["uri"], "sheets.xlsx");
}
