//! The flow model from the outside: the blueprints validate, each kind of
//! problem comes with its position and its fix, and no input makes the
//! parser or the validator panic.

use std::path::Path;

use engine::flow::{self, Severity};

/// Parses `source` and compares every problem as `line:col: message`
/// (messages compared by their start, so the hints can grow).
fn check(source: &str, expected: &[&str]) {
    let parsed = flow::parse(source);
    let got: Vec<String> = parsed
        .problems
        .iter()
        .map(|p| format!("{}:{}: {}", p.line, p.column, p.message))
        .collect();
    assert_eq!(got.len(), expected.len(), "got {got:#?}");
    for (got, want) in got.iter().zip(expected) {
        assert!(
            got.starts_with(want),
            "got {got:?}, want it to start with {want:?}\nall: {got:#?}"
        );
    }
}

fn blueprints() -> Vec<(String, String)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/flows");
    let dir = if dir.exists() {
        dir
    } else {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../blueprints")
    };
    let mut all: Vec<(String, String)> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yml" || e == "yaml"))
        .map(|p| {
            (
                p.file_name().unwrap().to_string_lossy().into_owned(),
                std::fs::read_to_string(&p).unwrap(),
            )
        })
        .collect();
    all.sort();
    assert!(all.len() >= 5, "blueprints in {dir:?}");
    all
}

#[test]
fn every_blueprint_parses_and_validates_without_problems() {
    for (name, source) in blueprints() {
        let parsed = flow::parse(&source);
        assert!(parsed.problems.is_empty(), "{name}: {:#?}", parsed.problems);
        let flow = parsed.flow.unwrap();
        assert!(!flow.tasks.is_empty(), "{name}");
        let graph = flow::graph::graph(&flow);
        for task in flow.all_tasks() {
            assert!(
                graph.nodes.iter().any(|n| n.uid == task.id.value),
                "{name}: {} is not in the graph",
                task.id.value
            );
        }
    }
}

#[test]
fn the_hello_world_model_keeps_positions() {
    let (_, source) = blueprints()
        .into_iter()
        .find(|(n, _)| n == "hello_world.yml")
        .unwrap();
    let flow = flow::parse(&source).flow.unwrap();
    assert_eq!(flow.id.value, "hello_world");
    assert_eq!((flow.id.span.start.line, flow.id.span.start.column), (1, 5));
    assert_eq!(flow.inputs[0].id.value, "name");
    let fan_out = flow.task("fan_out").unwrap();
    assert_eq!(fan_out.short_type(), "flow.Parallel");
    assert_eq!(
        fan_out
            .children()
            .map(|t| t.id.value.as_str())
            .collect::<Vec<_>>(),
        ["left", "right"]
    );
}

#[test]
fn the_dag_blueprint_has_its_dependencies_in_the_graph_and_in_order() {
    use flow::graph::{EdgeKind, dag_order, graph};
    let (_, source) = blueprints()
        .into_iter()
        .find(|(n, _)| n == "databricks_dag.yml")
        .unwrap();
    let flow = flow::parse(&source).flow.unwrap();
    let graph = graph(&flow);
    let deps: Vec<(&str, &str)> = graph
        .edges
        .iter()
        .filter(|e| e.kind == EdgeKind::Dependency)
        .map(|e| (e.from.as_str(), e.to.as_str()))
        .collect();
    assert_eq!(
        deps,
        [
            ("cluster", "transform"),
            ("upload", "transform"),
            ("transform", "check")
        ]
    );
    assert!(
        graph
            .edges
            .iter()
            .any(|e| e.kind == EdgeKind::Error && e.to == "warn")
    );
    assert!(
        graph
            .edges
            .iter()
            .any(|e| e.kind == EdgeKind::Finally && e.to == "cleanup")
    );
    let order: Vec<&str> = dag_order(flow.task("pipeline").unwrap())
        .unwrap()
        .iter()
        .map(|t| t.id.value.as_str())
        .collect();
    assert_eq!(order, ["cluster", "upload", "transform", "check"]);
}

#[test]
fn syntax_errors_have_a_position() {
    let parsed = flow::parse(
        "id: a\nnamespace: n\ntasks:\n  - id: x\n    type: log.Log\n   message: [oops\n",
    );
    assert!(parsed.flow.is_none());
    assert_eq!(parsed.problems.len(), 1);
    assert!(
        parsed.problems[0].message.starts_with("not valid YAML"),
        "{:?}",
        parsed.problems
    );
    assert!(parsed.problems[0].line >= 5);
}

const HEAD: &str = "id: f\nnamespace: n\n";

#[test]
fn unknown_task_type_names_the_closest() {
    check(
        &format!(
            "{HEAD}tasks:\n  - id: a\n    type: io.kestra.plugin.core.log.Logg\n    message: hi\n"
        ),
        &[
            "5:11: unknown task type \"io.kestra.plugin.core.log.Logg\": did you mean io.kestra.plugin.core.log.Log",
        ],
    );
    // A plugin Mortar has none of is named, not matched to an unrelated type.
    check(
        &format!(
            "{HEAD}tasks:\n  - id: a\n    type: io.kestra.plugin.jira.issues.Create\n    url: x\n"
        ),
        &[
            "5:11: unknown task type \"io.kestra.plugin.jira.issues.Create\": Mortar has no io.kestra.plugin.jira tasks yet",
        ],
    );
}

#[test]
fn unknown_property_names_the_closest() {
    check(
        &format!("{HEAD}tasks:\n  - id: a\n    type: log.Log\n    mesage: hi\n"),
        &[
            "4:9: task a (log.Log) has no `message`",
            "6:5: unknown property `mesage` of log.Log (task a): did you mean `message`?",
        ],
    );
}

#[test]
fn unknown_top_level_key() {
    check(
        &format!("{HEAD}taks: []\ntasks:\n  - id: a\n    type: log.Log\n    message: hi\n"),
        &["3:1: unknown property `taks` of flow: did you mean `tasks`"],
    );
}

#[test]
fn wrong_value_types() {
    check(
        &format!(
            "{HEAD}tasks:\n  - id: a\n    type: flow.Parallel\n    concurrencyLimit: many\n    allowFailure: maybe\n    tasks:\n      - id: b\n        type: log.Log\n        message: hi\n        level: LOUD\n"
        ),
        &[
            "6:23: `concurrencyLimit` is a string, it should be an integer",
            "7:19: `allowFailure` is a string, it should be true or false",
            "12:16: `level` is \"LOUD\", it should be one of TRACE, DEBUG, INFO, WARN, ERROR",
        ],
    );
}

#[test]
fn missing_required_properties() {
    check(
        &format!("{HEAD}tasks:\n  - id: a\n    type: flow.Sleep\n"),
        &["4:9: task a (flow.Sleep) has no `duration`"],
    );
    check(
        "namespace: n\ntasks:\n  - id: a\n    type: log.Log\n    message: hi\n",
        &["1:1: the flow has no `id`"],
    );
    check("id: f\nnamespace: n\n", &["1:1: the flow has no `tasks`"]);
}

#[test]
fn duplicate_task_ids_anywhere() {
    check(
        &format!(
            "{HEAD}tasks:\n  - id: a\n    type: flow.Sequential\n    tasks:\n      - id: b\n        type: log.Log\n        message: hi\nfinally:\n  - id: b\n    type: log.Log\n    message: bye\n"
        ),
        &["11:9: duplicate task id `b` (also on line 7)"],
    );
}

const DAG: &str = "tasks:\n  - id: d\n    type: flow.Dag\n    tasks:\n      - task:\n          id: a\n          type: log.Log\n          message: a\n        dependsOn: [b]\n      - task:\n          id: b\n          type: log.Log\n          message: b\n        dependsOn: [a]\n      - task:\n          id: c\n          type: log.Log\n          message: c\n        dependsOn: [aa]\n";

#[test]
fn dag_missing_dependency_and_cycle() {
    check(
        &format!("{HEAD}{DAG}"),
        &[
            "11:21: dependsOn makes a cycle: a -> b -> a",
            "21:21: dependsOn `aa`: no such task in Dag d; did you mean `a`?",
        ],
    );
}

#[test]
fn bad_durations() {
    check(
        &format!(
            "{HEAD}tasks:\n  - id: a\n    type: flow.Sleep\n    duration: 5 minutes\n    timeout: PT5X\n"
        ),
        &[
            "6:15: `duration`: \"5 minutes\" is not an ISO-8601 duration",
            "7:14: `timeout`: \"PT5X\" is not an ISO-8601 duration",
        ],
    );
    check(
        &format!(
            "{HEAD}tasks:\n  - id: a\n    type: log.Log\n    message: hi\n    retry:\n      type: constant\n      interval: soon\n      maxAttempt: 3\n"
        ),
        &["9:17: `interval`: \"soon\" is not an ISO-8601 duration"],
    );
}

#[test]
fn bad_cron() {
    check(
        &format!(
            "{HEAD}tasks:\n  - id: a\n    type: log.Log\n    message: hi\ntriggers:\n  - id: t\n    type: io.kestra.plugin.core.trigger.Schedule\n    cron: \"61 2 * * *\"\n"
        ),
        &["10:11: `cron`: \"61 2 * * *\" is not a cron expression"],
    );
}

#[test]
fn bad_expression_syntax() {
    check(
        &format!(
            "{HEAD}tasks:\n  - id: a\n    type: log.Log\n    message: \"hi {{{{ inputs.x \"\n"
        ),
        &["6:18: bad expression: syntax error: `{{` is not closed: add `}}`"],
    );
}

#[test]
fn kestra_functions_validate_and_unknown_names_point_at_themselves() {
    check(
        &format!(
            "{HEAD}tasks:\n  - id: a\n    type: log.Log\n    message: \"{{{{ secret('T') }}}} {{{{ now() }}}} {{{{ render('x') }}}} {{{{ labels.a ?? kestra.url }}}} {{{{ 1 > 0 ? 'y' : 'n' }}}}\"\n"
        ),
        &[],
    );
    check(
        &format!(
            "{HEAD}tasks:\n  - id: a\n    type: log.Log\n    message: \"{{{{ sekret('T') | uper }}}}\"\n"
        ),
        &[
            "6:18: bad expression: unknown function `sekret`: did you mean `secret`?",
            "6:32: bad expression: unknown filter `uper`: did you mean `upper`?",
        ],
    );
}

#[test]
fn undefined_inputs_and_tasks_in_expressions() {
    check(
        &format!(
            "{HEAD}inputs:\n  - id: name\n    type: STRING\ntasks:\n  - id: a\n    type: log.Log\n    message: \"{{{{ inputs.nmae }}}} and {{{{ outputs.b.value }}}}\"\n  - id: c\n    type: log.Log\n    message: |\n      line one\n      {{{{ outputs.zz.value }}}}\n"
        ),
        &[
            "9:18: `inputs.nmae` is not an input of this flow: did you mean `name`?",
            "9:40: `outputs.b`: no task `b` in this flow",
            "14:10: `outputs.zz`: no task `zz` in this flow",
        ],
    );
}

/// A mapping's keys are rendered, so they are checked like its values.
#[test]
fn expressions_in_mapping_keys_are_checked() {
    check(
        &format!(
            "{HEAD}tasks:\n  - id: files\n    type: io.kestra.plugin.core.flow.WorkingDirectory\n    inputFiles:\n      \"{{{{ execution.id }}}}.txt\": a\n      \"{{{{ inputs.nope }}}}.csv\": b\n    tasks:\n      - id: l\n        type: log.Log\n        message: hi\n"
        ),
        &["8:11: `inputs.nope` is not an input of this flow"],
    );
}

/// Kestra's own test flows: a Flow trigger's inputs read the upstream
/// execution's outputs (trigger-flow-listener.yaml), and what `??` guards
/// may be missing (empty-variables.yml); a blueprint's `extend` is a warning.
#[test]
fn upstream_outputs_guarded_reads_and_blueprint_extend() {
    check(
        &format!(
            "{HEAD}inputs:\n  - id: from-parent\n    type: STRING\ntasks:\n  - id: only-listener\n    type: debug.Return\n    format: \"{{{{ outputs.not_existing ?? '' }}}}\"\ntriggers:\n  - id: listen\n    type: io.kestra.plugin.core.trigger.Flow\n    inputs:\n      from-parent: '{{{{ outputs.only.value }}}}'\nextend:\n  title: A blueprint\n"
        ),
        &["15:1: `extend` is a blueprint's catalogue entry"],
    );
}

#[test]
fn taskrun_value_only_inside_for_each() {
    check(
        &format!(
            "{HEAD}tasks:\n  - id: each\n    type: flow.ForEach\n    values: [a, b]\n    tasks:\n      - id: in\n        type: log.Log\n        message: \"{{{{ taskrun.value }}}}\"\n  - id: out\n    type: log.Log\n    message: \"{{{{ taskrun.value }}}}\"\n"
        ),
        &["13:18: `taskrun.value` is only set in the tasks of a ForEach"],
    );
}

#[test]
fn bad_inputs() {
    check(
        &format!(
            "{HEAD}inputs:\n  - id: n\n    type: INTEGER\n  - id: s\n    type: SELECT\n  - id: i\n    type: INT\n    defaults: two\ntasks:\n  - id: a\n    type: log.Log\n    message: hi\n"
        ),
        &[
            "5:11: unknown input type \"INTEGER\"",
            "6:9: SELECT input s has no `values`",
            "10:15: the default of a INT input should be an integer",
        ],
    );
}

#[test]
fn every_problem_is_reported_at_once() {
    let parsed = flow::parse(&format!(
        "{HEAD}tasks:\n  - id: a\n    type: log.Logg\n  - id: a\n    type: flow.Sleep\n    duration: nope\n  - id: c\n    type: log.Log\n    message: \"{{{{ inputs.zz }}}}\"\n"
    ));
    assert!(parsed.problems.len() >= 4, "{:#?}", parsed.problems);
    // `inputs.zz` is a warning (Kestra saves it; it fails when it runs);
    // the rest are errors.
    let errors = parsed
        .problems
        .iter()
        .filter(|p| p.severity == Severity::Error)
        .count();
    assert_eq!(errors, parsed.problems.len() - 1, "{:#?}", parsed.problems);
    assert!(
        parsed
            .problems
            .iter()
            .any(|p| p.severity == Severity::Warning && p.message.contains("inputs.zz"))
    );
    assert!(!parsed.is_valid());
}

#[test]
fn schema_covers_every_type() {
    let schema = flow::schema();
    assert_eq!(
        schema["required"],
        serde_json::json!(["id", "namespace", "tasks"])
    );
    for t in flow::task_types() {
        assert!(schema["$defs"][t.name].is_object(), "{}", t.name);
    }
    assert!(flow::task_type("databricks.cluster.CreateCluster").is_some());
}

/// A small deterministic mutator over the blueprints: deletes, duplicates
/// and swaps lines, cuts and inserts characters. Neither parse nor graph
/// may panic, whatever comes out.
#[test]
fn mutated_blueprints_never_panic() {
    let mut seed: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut next = move |n: usize| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        (seed % n.max(1) as u64) as usize
    };
    const PIECES: &[&str] = &[
        ":",
        "- ",
        "{{",
        "}}",
        "{%",
        "[",
        "]",
        "{",
        "}",
        "\"",
        "'",
        "\n",
        "  ",
        "\t",
        "&a",
        "*a",
        "!!str ",
        "|",
        ">",
        "#",
        "dependsOn: [x]",
        "task:",
        "type: flow.Dag",
        "é",
        "\u{0}",
        "tasks:",
        "- task:\n",
        "PT",
        "{{ outputs.",
        "cron: \"* *\"",
    ];
    let sources: Vec<String> = blueprints().into_iter().map(|(_, s)| s).collect();
    for round in 0..1500 {
        let mut text = sources[round % sources.len()].clone();
        for _ in 0..1 + next(4) {
            let mut lines: Vec<String> = text.lines().map(str::to_owned).collect();
            match next(6) {
                0 if !lines.is_empty() => {
                    lines.remove(next(lines.len()));
                }
                1 if !lines.is_empty() => {
                    let i = next(lines.len());
                    lines.insert(next(lines.len()), lines[i].clone());
                }
                2 if lines.len() > 1 => {
                    let (a, b) = (next(lines.len()), next(lines.len()));
                    lines.swap(a, b);
                }
                3 if !lines.is_empty() => {
                    let i = next(lines.len());
                    let chars: Vec<char> = lines[i].chars().collect();
                    let cut = next(chars.len() + 1);
                    lines[i] = chars[..cut].iter().collect();
                }
                _ => {
                    let chars: Vec<char> = text.chars().collect();
                    let at = next(chars.len() + 1);
                    let piece = PIECES[next(PIECES.len())];
                    text = chars[..at].iter().collect::<String>()
                        + piece
                        + &chars[at..].iter().collect::<String>();
                    continue;
                }
            }
            text = lines.join("\n");
        }
        let parsed = flow::parse(&text);
        if let Some(flow) = &parsed.flow {
            let _ = flow::graph::graph(flow);
            let _ = flow::validate(flow);
        }
        for p in &parsed.problems {
            assert!(p.line >= 1 && p.column >= 1, "{p:?} in {text:?}");
        }
    }
}

#[test]
fn a_working_directory_runs_tasks_not_flowables() {
    let yaml = "id: f\nnamespace: t\ntasks:\n  - id: wd\n    type: io.kestra.plugin.core.flow.WorkingDirectory\n    inputFiles:\n      a.txt: hi\n    outputFiles: ['*.txt']\n    tasks:\n      - id: inner\n        type: flow.Sequential\n        tasks:\n          - id: log\n            type: log.Log\n            message: \"{{ workingDir }}\"\n";
    let parsed = flow::parse(yaml);
    let messages: Vec<&str> = parsed.problems.iter().map(|p| p.message.as_str()).collect();
    assert_eq!(
        messages,
        [
            "flow.Sequential is a flowable task: a WorkingDirectory runs tasks only; move inner out of wd"
        ]
    );
    let fine = yaml.replace("        type: flow.Sequential\n        tasks:\n          - id: log\n            type: log.Log\n            message: \"{{ workingDir }}\"\n", "        type: log.Log\n        message: \"{{ workingDir }}\"\n");
    assert!(
        flow::parse(&fine).problems.is_empty(),
        "{:#?}",
        flow::parse(&fine).problems
    );
}

#[test]
fn a_literal_databricks_host_is_scheme_host_and_port_only() {
    let task = |host: &str| {
        format!(
            "{HEAD}tasks:\n  - id: a\n    type: io.kestra.plugin.databricks.dbfs.Download\n    host: \"{host}\"\n    from: dbfs:/x\n"
        )
    };
    check(
        &task("http://127.0.0.1:47999/internal/data.txt#"),
        &["6:11: `host`: use only scheme://host[:port], without the path \"/internal/data.txt\""],
    );
    check(
        &task("ftp://h"),
        &["6:11: `host`: the scheme ftp: is not allowed"],
    );
    check(&task("https://adb-1.azuredatabricks.net/"), &[]);
    // An expression is checked once rendered, by the same type.
    check(&task("{{ secret('HOST') }}"), &[]);
}

/// Kestra refuses two inputs of one id, and a Switch with nothing to run
/// or with an empty case or `defaults`.
#[test]
fn duplicate_inputs_and_empty_switches_are_refused_as_kestra_refuses_them() {
    check(
        &format!(
            "{HEAD}inputs:\n  - id: a\n    type: STRING\n  - id: a\n    type: INT\ntasks:\n  - id: t\n    type: log.Log\n    message: hi\n"
        ),
        &["6:9: duplicate input id `a` (also on line 4)"],
    );
    check(
        &format!("{HEAD}tasks:\n  - id: s\n    type: flow.Switch\n    value: x\n"),
        &["4:9: Switch s has no tasks to run: add `cases` (a value and its tasks) or `defaults`"],
    );
    check(
        &format!(
            "{HEAD}tasks:\n  - id: s\n    type: flow.Switch\n    value: x\n    cases:\n      A: []\n      B:\n        - id: b\n          type: log.Log\n          message: b\n    defaults: []\n"
        ),
        &[
            "8:7: case \"A\" of Switch s has no tasks",
            "13:15: `defaults` of Switch s is empty",
        ],
    );
    // Only defaults is enough, as in Kestra.
    check(
        &format!(
            "{HEAD}tasks:\n  - id: s\n    type: flow.Switch\n    value: x\n    defaults:\n      - id: d\n        type: log.Log\n        message: d\n"
        ),
        &[],
    );
}

/// ENUM, Kestra's older name of SELECT, with its `values`.
#[test]
fn an_enum_input_is_a_select() {
    let source = format!(
        "{HEAD}inputs:\n  - id: color\n    type: ENUM\n    values: [RED, GREEN]\n    defaults: RED\ntasks:\n  - id: t\n    type: log.Log\n    message: hi\n"
    );
    check(&source, &[]);
    let parsed = flow::parse(&source);
    assert_eq!(
        parsed.flow.unwrap().inputs[0].input_type,
        flow::model::InputType::Select
    );
    check(
        &format!(
            "{HEAD}inputs:\n  - id: color\n    type: ENUM\ntasks:\n  - id: t\n    type: log.Log\n    message: hi\n"
        ),
        &["4:9: SELECT input color has no `values`"],
    );
}

#[test]
fn trigger_conditions_are_checked_like_tasks() {
    let source = format!(
        "{HEAD}tasks:\n  - id: a\n    type: log.Log\n    message: hi\n  - id: b\n    type: io.kestra.plugin.core.condition.Weekend\ntriggers:\n  - id: s\n    type: trigger.Schedule\n    cron: \"0 2 * * *\"\n    conditions:\n      - type: io.kestra.plugin.core.condition.DayWeek\n      - type: io.kestra.plugin.core.condition.Weekend\n        bogus: 1\n      - type: io.kestra.plugin.core.condition.Weekday\n      - type: io.kestra.plugin.core.condition.DayWeekInMonth\n        dayOfWeek: monday\n        dayInMonth: FIRST\n"
    );
    check(
        &source,
        &[
            "8:11: io.kestra.plugin.core.condition.Weekend is a condition: it goes in a trigger's `conditions`",
            "14:9: condition condition.DayWeek has no `dayOfWeek`",
            "16:9: unknown property `bogus` of condition condition.Weekend",
            "17:15: unknown condition type \"io.kestra.plugin.core.condition.Weekday\": did you mean io.kestra.plugin.core.condition.Weekend?",
            "19:20: `dayOfWeek`: write MONDAY rather than monday",
        ],
    );
    // Kestra's own blueprints, as written.
    let weekend = format!(
        "{HEAD}tasks:\n  - id: a\n    type: log.Log\n    message: hi\ntriggers:\n  - id: s\n    type: io.kestra.plugin.core.trigger.Schedule\n    cron: \"0 11 * * *\"\n    conditions:\n      - type: io.kestra.plugin.core.condition.Weekend\n      - type: io.kestra.plugin.core.condition.TimeBetween\n        after: \"09:00:00+02:00\"\n"
    );
    check(&weekend, &[]);
}

/// Kestra's blueprint `purge-disk-space-interactively`: a required
/// property given by `pluginDefaults` is given.
#[test]
fn plugin_defaults_give_required_properties() {
    let with_defaults = format!(
        "{HEAD}tasks:\n  - id: purge\n    type: io.kestra.plugin.core.execution.PurgeExecutions\n    purgeLog: false\npluginDefaults:\n  - type: io.kestra.plugin.core.execution.PurgeExecutions\n    values:\n      endDate: \"{{{{ now() }}}}\"\n"
    );
    check(&with_defaults, &[]);
    let without = format!(
        "{HEAD}tasks:\n  - id: purge\n    type: io.kestra.plugin.core.execution.PurgeExecutions\n    purgeLog: false\n"
    );
    check(
        &without,
        &["4:9: task purge (execution.PurgeExecutions) has no `endDate`"],
    );
    // Defaults for another type give nothing.
    let elsewhere = format!(
        "{without}pluginDefaults:\n  - type: io.kestra.plugin.core.log\n    values:\n      endDate: x\n"
    );
    check(
        &elsewhere,
        &["4:9: task purge (execution.PurgeExecutions) has no `endDate`"],
    );
}

/// What a task renders itself per item (an item's fields in FilterItems,
/// `count` in Count) and what SetVariables sets are known names; an
/// unknown name elsewhere is still a warning.
#[test]
fn per_item_variables_and_set_variables_are_known_to_validation() {
    check(
        r#"id: items
namespace: t
tasks:
  - id: set
    type: execution.SetVariables
    variables:
      limit: 10
  - id: filter
    type: storage.FilterItems
    from: "{{ outputs.set.uri ?? '' }}"
    filterCondition: "{{ amount > vars.limit }}"
  - id: count
    type: execution.Count
    namespaces: [t]
    startDate: "2024-01-01T00:00:00Z"
    expression: "{{ count > 0 }}"
  - id: log
    type: log.Log
    message: "{{ amount }}"
"#,
        &["19:18: unknown variable `amount`"],
    );
}

/// A SELECT's `expression` and a `dependsOn.condition` are checked as
/// expressions: an unknown filter is an error at its place.
#[test]
fn input_expressions_are_checked() {
    check(
        "id: f\nnamespace: n\ninputs:\n  - id: a\n    type: STRING\n  - id: b\n    type: SELECT\n    expression: \"{{ inputs.a | splitt(',') }}\"\n    dependsOn:\n      inputs: [a]\n      condition: \"{{ inputs.a is defined }}\"\ntasks:\n  - id: l\n    type: log.Log\n    message: x\n",
        &["8:32: bad expression: unknown filter `splitt`: did you mean `split`?"],
    );
}
