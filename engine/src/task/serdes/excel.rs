//! Kestra's `io.kestra.plugin.serdes.excel` package: Ion to and from
//! `.xlsx` workbooks, a row at a time on a blocking thread.
//!
//! IonToExcel writes with rust_xlsxwriter in constant-memory mode (each row
//! goes to a temporary file as it is written, strings inline); ExcelToIon
//! reads with calamine's cell reader, a cell at a time (the workbook's
//! shared strings, which the format keeps in one table, are in memory).
//!
//! Where Mortar differs from Kestra:
//! - IonToExcel leaves a null cell empty (Kestra writes the text `null`),
//!   writes a boolean's value (Kestra's cell stays FALSE), and writes a
//!   timestamp as a date and time in `timeZoneId` (Kestra keeps the date).
//!   A struct's values go under the first record's columns, as IonToCsv.
//! - ExcelToIon gives a date cell's time too when it has one
//!   (`2024-01-15T10:30:00`; Kestra gives the date only), skips rows whose
//!   cells are all empty with `skipEmptyRows`, and `skipRows` skips the
//!   first rows with or without a header. `FORMATTED_VALUE` and
//!   `FORMATTED_STRING` give numbers as Excel's General format shows them
//!   and dates as ISO text, not with the cell's own number format; `FORMULA`
//!   gives a formula's cached result, as Kestra does, and a plain cell's
//!   value.

use super::CHARSET;
use crate::flow::registry::Kind::*;
use crate::flow::registry::{Category, TaskType, def, ex, prop, req, runner};

pub const ION_TO_EXCEL: TaskType = TaskType {
    name: "io.kestra.plugin.serdes.excel.IonToExcel",
    alias: "serdes.excel.IonToExcel",
    category: Category::Task,
    doc: "Converts Ion files to an `.xlsx` workbook: `from` one file (a sheet named `sheetsTitle`) or a map of sheet name to file. With `header`, the first record's fields name the columns, in their order; numbers, booleans and text keep their types, an Ion date or timestamp is an Excel date (formatted with `dateFormat` when `styles`), a text starting `Formula:` is a formula. At most 1,048,576 rows a sheet.",
    properties: &[
        ex(
            req(
                "from",
                Any,
                "The Ion file's storage:// URI, or a map of sheet name to URI.",
            ),
            "{{ outputs.convert.uri }}",
        ),
        CHARSET,
        def(
            "sheetsTitle",
            String,
            "\"Sheet\"",
            "The sheet's name when `from` is one URI.",
        ),
        def(
            "header",
            Boolean,
            "true",
            "Write the column names first (the records must be structs).",
        ),
        def(
            "styles",
            Boolean,
            "true",
            "Format date cells with `dateFormat` (date-times as yyyy-mm-dd hh:mm:ss); false: dates are plain serial numbers.",
        ),
        def(
            "dateFormat",
            String,
            "\"yyyy-MM-dd\"",
            "The number format of date cells (Excel reads Java's yyyy-MM-dd alike).",
        ),
        prop("timeFormat", String, "Accepted: times are written as text."),
        prop(
            "dateTimeFormat",
            String,
            "Accepted: date-times are formatted yyyy-mm-dd hh:mm:ss.",
        ),
        def(
            "timeZoneId",
            String,
            "\"UTC\"",
            "The zone a timestamp's date and time are shown in.",
        ),
    ],
    outputs: &[
        ("uri", "The storage:// URI of the workbook written."),
        ("size", "How many records it holds, all sheets together."),
    ],
    run: runner!(run::IonToExcel),
    check: None,
    aliases: &[],
};

pub const EXCEL_TO_ION: TaskType = TaskType {
    name: "io.kestra.plugin.serdes.excel.ExcelToIon",
    alias: "serdes.excel.ExcelToIon",
    category: Category::Task,
    doc: "Converts each sheet of an `.xlsx` workbook to an Ion file (`uris`, by sheet name), a row at a time: with `header`, each row a struct named by the first row's cells, in their order (`Column<n>` for an empty one); without, a list. Numbers are doubles, as Excel keeps them; a date cell is ISO text.",
    properties: &[
        ex(
            req("from", String, "The workbook's storage:// URI."),
            "{{ outputs.download.uri }}",
        ),
        prop(
            "sheetsTitle",
            StringList,
            "The sheets to convert (all when empty).",
        ),
        CHARSET,
        def(
            "valueRender",
            Enum {
                values: &["FORMATTED_VALUE", "UNFORMATTED_VALUE", "FORMULA"],
            },
            "\"UNFORMATTED_VALUE\"",
            "Values as typed; as text (FORMATTED_VALUE, numbers in Excel's General format); or a formula's cached result (FORMULA).",
        ),
        def(
            "dateTimeRender",
            Enum {
                values: &["SERIAL_NUMBER", "FORMATTED_STRING", "UNFORMATTED_VALUE"],
            },
            "\"UNFORMATTED_VALUE\"",
            "Date cells as ISO text (UNFORMATTED_VALUE, FORMATTED_STRING) or as Excel's serial number.",
        ),
        def(
            "header",
            Boolean,
            "true",
            "The first row names the columns.",
        ),
        def(
            "skipEmptyRows",
            Boolean,
            "false",
            "Skip rows whose cells are all empty.",
        ),
        def(
            "skipRows",
            Integer,
            "0",
            "Rows to skip at the top of each sheet (a title above the table).",
        ),
    ],
    outputs: &[
        (
            "uris",
            "The storage:// URI of each sheet's Ion file, by sheet name.",
        ),
        ("size", "How many rows were converted, all sheets together."),
    ],
    run: runner!(run::ExcelToIon),
    check: None,
    aliases: &[],
};

#[cfg(feature = "runtime")]
pub(crate) mod run {
    use std::io::{BufRead, Write};
    use std::path::PathBuf;

    use calamine::{DataRef, Reader as _};
    use futures::future::BoxFuture;
    use rust_xlsxwriter::{Format, Workbook, Worksheet, XlsxError};
    use serde_json::{Map, Value};

    use super::super::ion::{Raw, iso_instant, raw_kinds};
    use super::super::run::{create, done, files, io, line, open, source_of, target_of};
    use crate::log::Level;
    use crate::task::{Outputs, Runner, TaskContext, TaskError};

    /// Excel's last row (1,048,576 rows, numbered from 0).
    const MAX_ROWS: u32 = 1_048_576;

    fn xlsx(e: XlsxError) -> TaskError {
        TaskError::Failed(format!("writing the workbook: {e}"))
    }

    pub(in super::super) struct IonToExcel;

    impl Runner for IonToExcel {
        fn run<'a>(&'a self, ctx: &'a TaskContext) -> BoxFuture<'a, Result<Outputs, TaskError>> {
            Box::pin(async move {
                let (sheets, uri, target) = match ctx.prop("from")? {
                    Value::String(_) => {
                        let (source, uri, target) = files(ctx, ".xlsx")?;
                        let title = ctx
                            .prop("sheetsTitle")?
                            .as_str()
                            .unwrap_or("Sheet")
                            .to_owned();
                        (vec![(title, source)], uri, target)
                    }
                    Value::Object(map) => {
                        let mut sheets = Vec::new();
                        for (title, from) in map {
                            let from = from.as_str().ok_or_else(|| {
                                ctx.invalid(format!(
                                    "from.{title}: the sheet's storage:// URI, not {from}"
                                ))
                            })?;
                            sheets.push((title.clone(), source_of(ctx, from)?));
                        }
                        if sheets.is_empty() {
                            return Err(ctx.invalid("from: no sheet"));
                        }
                        let (uri, target) = target_of(ctx, ".xlsx")?;
                        (sheets, uri, target)
                    }
                    other => {
                        return Err(ctx.invalid(format!(
                            "from: a storage:// URI or a map of sheet name to URI, not {other}"
                        )));
                    }
                };
                check_charset(ctx)?;
                let header = ctx.flag("header", true)?;
                let styles = ctx.flag("styles", true)?;
                let date_format = ctx
                    .prop("dateFormat")?
                    .as_str()
                    .unwrap_or("yyyy-MM-dd")
                    .to_owned();
                let zone_name = ctx.prop("timeZoneId")?.as_str().unwrap_or("UTC").to_owned();
                let zone = jiff::tz::TimeZone::get(&zone_name)
                    .map_err(|e| ctx.invalid(format!("timeZoneId {zone_name}: {e}")))?;
                let size = tokio::task::spawn_blocking(move || -> Result<u64, TaskError> {
                    let mut workbook = Workbook::new();
                    if let Some(dir) = target.parent() {
                        workbook.set_tempdir(dir).map_err(xlsx)?;
                    }
                    let cells = Cells {
                        styles,
                        date: Format::new().set_num_format(&date_format),
                        date_time: Format::new().set_num_format("yyyy-mm-dd hh:mm:ss"),
                        zone,
                    };
                    let mut size = 0u64;
                    for (title, source) in &sheets {
                        let sheet = workbook
                            .add_worksheet_with_constant_memory()
                            .map_err(xlsx)?;
                        sheet
                            .set_name(title)
                            .map_err(|e| TaskError::Failed(format!("sheet name {title:?}: {e}")))?;
                        size +=
                            write_sheet(sheet, open(source)?, header, &cells).map_err(
                                |e| match e {
                                    TaskError::Failed(m) => {
                                        TaskError::Failed(format!("sheet {title}: {m}"))
                                    }
                                    other => other,
                                },
                            )?;
                    }
                    workbook.save(&target).map_err(xlsx)?;
                    Ok(size)
                })
                .await
                .map_err(|e| TaskError::Failed(format!("the conversion stopped: {e}")))??;
                done(ctx, uri, size).await
            })
        }
    }

    fn check_charset(ctx: &TaskContext) -> Result<(), TaskError> {
        match ctx
            .prop("charset")?
            .as_str()
            .map(|c| c.trim().to_ascii_uppercase())
        {
            None => Ok(()),
            Some(c) if c == "UTF-8" || c == "UTF8" => Ok(()),
            Some(other) => Err(ctx.invalid(format!(
                "charset {other}: Mortar reads and writes UTF-8 only"
            ))),
        }
    }

    /// How IonToExcel writes a value.
    struct Cells {
        styles: bool,
        date: Format,
        date_time: Format,
        zone: jiff::tz::TimeZone,
    }

    /// Writes the records of one Ion file as the rows of `sheet`; returns
    /// how many.
    fn write_sheet(
        sheet: &mut Worksheet,
        ion: impl BufRead,
        header: bool,
        cells: &Cells,
    ) -> Result<u64, TaskError> {
        let mut row = 0u32;
        let mut columns: Option<Vec<String>> = None;
        let mut size = 0u64;
        let next_row = |row: &mut u32| -> Result<u32, TaskError> {
            if *row >= MAX_ROWS {
                return Err(TaskError::Failed(format!(
                    "an Excel sheet holds at most {MAX_ROWS} rows; split the records over several sheets (`from` as a map)"
                )));
            }
            *row += 1;
            Ok(*row - 1)
        };
        for (number, text) in ion.lines().enumerate() {
            let text = text.map_err(io)?;
            if text.trim().is_empty() {
                continue;
            }
            let fail = |m: String| TaskError::Failed(format!("line {}: {m}", number + 1));
            let (value, fields) = crate::flow::pebble::convert::ion_fields(&text)
                .map_err(|e| fail(format!("not an Ion value: {e}")))?;
            match (fields, value) {
                (Some(fields), _) => {
                    let kinds = raw_kinds(&text);
                    let names = columns
                        .get_or_insert_with(|| fields.iter().map(|(k, _)| k.clone()).collect());
                    if header && size == 0 {
                        let at = next_row(&mut row)?;
                        for (col, name) in names.iter().enumerate() {
                            sheet
                                .write_string(at, col as u16, name)
                                .map_err(|e| fail(e.to_string()))?;
                        }
                    }
                    let at = next_row(&mut row)?;
                    for (col, name) in names.iter().enumerate() {
                        // Usually the record's own fields are the columns, in order.
                        let index = match fields.get(col) {
                            Some((k, _)) if k == name => Some(col),
                            _ => fields.iter().position(|(k, _)| k == name),
                        };
                        if let Some(i) = index {
                            let kind = kinds.get(i).copied().unwrap_or(Raw::Other);
                            cells
                                .write(sheet, at, col, &fields[i].1, kind)
                                .map_err(|e| fail(e.to_string()))?;
                        }
                    }
                }
                (None, Value::Array(items)) => {
                    if header {
                        return Err(fail(
                            "Invalid data of type List with header: a list record has no column names; set header: false".into(),
                        ));
                    }
                    let at = next_row(&mut row)?;
                    for (col, item) in items.iter().enumerate() {
                        cells
                            .write(sheet, at, col, item, Raw::Other)
                            .map_err(|e| fail(e.to_string()))?;
                    }
                }
                (None, other) => {
                    let at = next_row(&mut row)?;
                    cells
                        .write(sheet, at, 0, &other, Raw::Other)
                        .map_err(|e| fail(e.to_string()))?;
                }
            }
            size += 1;
        }
        Ok(size)
    }

    impl Cells {
        fn write(
            &self,
            sheet: &mut Worksheet,
            row: u32,
            col: usize,
            value: &Value,
            raw: Raw,
        ) -> Result<(), XlsxError> {
            let col = u16::try_from(col).unwrap_or(u16::MAX);
            match value {
                Value::Null => {}
                Value::Bool(b) => {
                    sheet.write_boolean(row, col, *b)?;
                }
                Value::Number(n) => {
                    sheet.write_number(row, col, n.as_f64().unwrap_or_default())?;
                }
                Value::String(s) => match self.serial(s, raw) {
                    Some((serial, has_time)) => {
                        let format = if has_time {
                            &self.date_time
                        } else {
                            &self.date
                        };
                        if self.styles {
                            sheet.write_number_with_format(row, col, serial, format)?;
                        } else {
                            sheet.write_number(row, col, serial)?;
                        }
                    }
                    None => match s.strip_prefix("Formula:") {
                        Some(formula) => {
                            sheet.write_formula(row, col, formula)?;
                        }
                        None => {
                            sheet.write_string(row, col, s)?;
                        }
                    },
                },
                other => {
                    sheet.write_string(row, col, other.to_string())?;
                }
            }
            Ok(())
        }

        /// Excel's serial number of an Ion date or timestamp (days since
        /// 1899-12-30, the time as the fraction), and whether it has a time.
        fn serial(&self, text: &str, raw: Raw) -> Option<(f64, bool)> {
            let epoch = jiff::civil::date(1899, 12, 30);
            let local = match raw {
                Raw::Date => text
                    .get(..10)?
                    .parse::<jiff::civil::Date>()
                    .ok()?
                    .to_datetime(jiff::civil::Time::midnight()),
                Raw::Timestamp => iso_instant(text, &self.zone)?
                    .to_zoned_datetime(self.zone.clone())
                    .datetime(),
                Raw::DateTime => text.parse::<jiff::civil::DateTime>().ok()?,
                _ => return None,
            };
            let days = local
                .date()
                .since((jiff::Unit::Day, epoch))
                .ok()?
                .get_days();
            let time = local.time();
            let seconds = f64::from(time.hour()) * 3600.0
                + f64::from(time.minute()) * 60.0
                + f64::from(time.second())
                + f64::from(time.subsec_nanosecond()) / 1e9;
            Some((f64::from(days) + seconds / 86_400.0, raw != Raw::Date))
        }
    }

    #[derive(Clone, Copy, PartialEq)]
    enum Render {
        Formatted,
        Unformatted,
        Formula,
    }

    #[derive(Clone, Copy, PartialEq)]
    enum DateRender {
        Serial,
        Formatted,
        Unformatted,
    }

    pub(in super::super) struct ExcelToIon;

    impl Runner for ExcelToIon {
        fn run<'a>(&'a self, ctx: &'a TaskContext) -> BoxFuture<'a, Result<Outputs, TaskError>> {
            Box::pin(async move {
                let from = ctx
                    .prop("from")?
                    .as_str()
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .ok_or_else(|| ctx.invalid("from: the workbook's storage:// URI is missing"))?
                    .to_owned();
                let source = source_of(ctx, &from)?;
                check_charset(ctx)?;
                let selected: Vec<String> = match ctx.prop("sheetsTitle")? {
                    Value::Null => Vec::new(),
                    Value::Array(items) => items
                        .iter()
                        .map(|v| v.as_str().map_or_else(|| v.to_string(), str::to_owned))
                        .collect(),
                    Value::String(s) => vec![s.clone()],
                    other => {
                        return Err(
                            ctx.invalid(format!("sheetsTitle: a list of sheet names, not {other}"))
                        );
                    }
                };
                let render = match ctx.prop("valueRender")?.as_str() {
                    None | Some("UNFORMATTED_VALUE") => Render::Unformatted,
                    Some("FORMATTED_VALUE") => Render::Formatted,
                    Some("FORMULA") => Render::Formula,
                    Some(other) => {
                        return Err(ctx.invalid(format!(
                            "valueRender {other}: FORMATTED_VALUE, UNFORMATTED_VALUE or FORMULA"
                        )));
                    }
                };
                let dates = match ctx.prop("dateTimeRender")?.as_str() {
                    None | Some("UNFORMATTED_VALUE") => DateRender::Unformatted,
                    Some("SERIAL_NUMBER") => DateRender::Serial,
                    Some("FORMATTED_STRING") => DateRender::Formatted,
                    Some(other) => {
                        return Err(ctx.invalid(format!(
                            "dateTimeRender {other}: SERIAL_NUMBER, FORMATTED_STRING or UNFORMATTED_VALUE"
                        )));
                    }
                };
                if render == Render::Formatted || dates == DateRender::Formatted {
                    ctx.log(
                        Level::Warn,
                        "FORMATTED_VALUE/FORMATTED_STRING: Mortar writes numbers as Excel's General format shows them and dates as ISO text, not with the cells' own number formats",
                    )
                    .await;
                }
                let options = Sheet {
                    header: ctx.flag("header", true)?,
                    skip_empty: ctx.flag("skipEmptyRows", false)?,
                    skip_rows: match ctx.prop("skipRows")? {
                        Value::Null => 0,
                        Value::Number(n) => n.as_u64().unwrap_or(0),
                        Value::String(s) => s.trim().parse().unwrap_or(0),
                        _ => 0,
                    },
                    render,
                    dates,
                };
                // The Ion files' URIs, made here where the task run is known.
                let base = target_of(ctx, "")?;
                let (sheets, uris, size) = tokio::task::spawn_blocking(move || {
                    let file = std::fs::File::open(&source).map_err(io)?;
                    let mut workbook =
                        calamine::Xlsx::new(std::io::BufReader::with_capacity(1 << 16, file))
                            .map_err(|e| {
                                TaskError::Failed(format!(
                                    "not an .xlsx workbook Mortar can read: {e}"
                                ))
                            })?;
                    let names = workbook.sheet_names();
                    if let Some(missing) = selected.iter().find(|s| !names.contains(s)) {
                        return Err(TaskError::Failed(format!(
                            "sheetsTitle: the workbook has no sheet {missing:?} (it has {})",
                            names.join(", ")
                        )));
                    }
                    let mut uris = Map::new();
                    let mut size = 0u64;
                    for (index, name) in names.iter().enumerate() {
                        if !selected.is_empty() && !selected.contains(name) {
                            continue;
                        }
                        let uri = format!("{}-{index}.ion", base.0);
                        let path = PathBuf::from(format!("{}-{index}.ion", base.1.display()));
                        let mut reader = workbook
                            .worksheet_cells_reader(name)
                            .map_err(|e| TaskError::Failed(format!("sheet {name}: {e}")))?;
                        let mut out = create(&path)?;
                        let mut rows = Rows::new(&options);
                        let mut current: Option<u32> = None;
                        let mut cells: Vec<(u32, Value)> = Vec::new();
                        loop {
                            let cell = reader
                                .next_cell()
                                .map_err(|e| TaskError::Failed(format!("sheet {name}: {e}")))?;
                            let row_of = cell.as_ref().map(|c| c.get_position().0);
                            if current.is_some()
                                && row_of != current
                                && let Some(text) = rows.row(std::mem::take(&mut cells))
                            {
                                line(&mut out, &text)?;
                                size += 1;
                            }
                            let Some(cell) = cell else { break };
                            current = row_of;
                            let value = options.value(cell.get_value());
                            cells.push((cell.get_position().1, value));
                        }
                        out.flush().map_err(io)?;
                        uris.insert(name.clone(), Value::String(uri));
                    }
                    Ok::<_, TaskError>((names.len(), uris, size))
                })
                .await
                .map_err(|e| TaskError::Failed(format!("the conversion stopped: {e}")))??;
                ctx.metrics([(
                    "counter",
                    "sheets".to_owned(),
                    sheets as f64,
                    Default::default(),
                )])
                .await?;
                ctx.info(format!("wrote {size} rows of {} sheets", uris.len()))
                    .await;
                let mut outputs = Outputs::new();
                outputs.insert("uris".into(), Value::Object(uris));
                outputs.insert("size".into(), size.into());
                Ok(outputs)
            })
        }
    }

    /// ExcelToIon's options for every sheet.
    struct Sheet {
        header: bool,
        skip_empty: bool,
        skip_rows: u64,
        render: Render,
        dates: DateRender,
    }

    impl Sheet {
        /// A cell's value as Kestra's `extractCellValue` gives it.
        fn value(&self, cell: &DataRef<'_>) -> Value {
            let number = |f: f64| -> Value {
                if self.render == Render::Formatted {
                    Value::String(general(f))
                } else {
                    Value::from(f)
                }
            };
            match cell {
                DataRef::Empty | DataRef::Error(_) => Value::Null,
                DataRef::String(s) => Value::String(s.clone()),
                DataRef::SharedString(s) => Value::String((*s).to_owned()),
                DataRef::Bool(b) if self.render == Render::Formatted => {
                    Value::String(if *b { "TRUE" } else { "FALSE" }.into())
                }
                DataRef::Bool(b) => Value::Bool(*b),
                DataRef::Int(i) => number(*i as f64),
                DataRef::Float(f) => number(*f),
                DataRef::DateTime(dt) if dt.is_duration() => number(dt.as_f64()),
                DataRef::DateTime(dt) => match self.dates {
                    DateRender::Serial => number(dt.as_f64()),
                    DateRender::Formatted | DateRender::Unformatted => {
                        let (y, mo, d, h, mi, s, ms) = dt.to_ymd_hms_milli();
                        let date = format!("{y:04}-{mo:02}-{d:02}");
                        Value::String(if (h, mi, s, ms) == (0, 0, 0, 0) {
                            date
                        } else if ms == 0 {
                            format!("{date}T{h:02}:{mi:02}:{s:02}")
                        } else {
                            format!("{date}T{h:02}:{mi:02}:{s:02}.{ms:03}")
                        })
                    }
                },
                DataRef::DateTimeIso(s) | DataRef::DurationIso(s) => Value::String(s.clone()),
            }
        }
    }

    /// A number as Excel's General format shows it: whole numbers without a
    /// decimal point, others with at most 10 significant digits.
    fn general(f: f64) -> String {
        if f.fract() == 0.0 && f.abs() < 1e11 {
            return format!("{f:.0}");
        }
        let text = format!(
            "{:.*}",
            9usize.saturating_sub(f.abs().log10().floor().max(0.0) as usize),
            f
        );
        if text.contains('.') {
            text.trim_end_matches('0').trim_end_matches('.').to_owned()
        } else {
            text
        }
    }

    /// Turns a sheet's rows into Ion lines, as Kestra's ExcelToIon reads them.
    struct Rows<'o> {
        options: &'o Sheet,
        /// Rows seen, to skip `skipRows`.
        seen: u64,
        /// The columns read: from the header's first cell to its last (or
        /// from the first to the first data row's last without header).
        columns: Option<(u32, u32)>,
        names: Vec<String>,
    }

    impl<'o> Rows<'o> {
        fn new(options: &'o Sheet) -> Self {
            Self {
                options,
                seen: 0,
                columns: None,
                names: Vec::new(),
            }
        }

        /// The Ion line of one row of cells (column, value), if it is one.
        fn row(&mut self, cells: Vec<(u32, Value)>) -> Option<String> {
            self.seen += 1;
            if self.seen <= self.options.skip_rows {
                return None;
            }
            let last = cells.iter().map(|(c, _)| *c).max().map_or(0, |c| c + 1);
            let Some((first, end)) = self.columns else {
                if self.options.header {
                    let first = cells.iter().map(|(c, _)| *c).min().unwrap_or(0);
                    self.names = (first..last)
                        .map(
                            |col| match cells.iter().find(|(c, _)| *c == col).map(|(_, v)| v) {
                                None | Some(Value::Null) => format!("Column{col}"),
                                Some(Value::String(s)) => s.clone(),
                                Some(Value::Number(n)) if n.is_f64() => {
                                    let f = n.as_f64().unwrap_or_default();
                                    if f.fract() == 0.0 && f.abs() < 1e7 {
                                        format!("{f:.1}")
                                    } else {
                                        n.to_string()
                                    }
                                }
                                Some(other) => other.to_string(),
                            },
                        )
                        .collect();
                    self.columns = Some((first, last));
                    return None;
                }
                self.columns = Some((0, last));
                return self.row_line(0, last, cells);
            };
            self.row_line(first, end, cells)
        }

        fn row_line(&self, first: u32, end: u32, cells: Vec<(u32, Value)>) -> Option<String> {
            let mut values = vec![Value::Null; end.saturating_sub(first) as usize];
            for (col, value) in cells {
                if col >= first && col < end {
                    values[(col - first) as usize] = value;
                }
            }
            if self.options.skip_empty && values.iter().all(Value::is_null) {
                return None;
            }
            Some(if self.options.header {
                crate::flow::pebble::convert::ion_struct(
                    self.names.iter().map(String::as_str).zip(values.iter()),
                )
            } else {
                crate::flow::pebble::convert::ion_text(&Value::Array(values))
            })
        }
    }
}
