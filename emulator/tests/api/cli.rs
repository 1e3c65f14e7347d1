//! The `mortar emulator` flags and the example binary that runs them.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use clap::Parser;
use emulator::{EmulatorArgs, FaultStatus};

#[derive(Parser)]
struct Cli {
    #[command(flatten)]
    args: EmulatorArgs,
}

fn parse(args: &[&str]) -> Result<emulator::EmulatorConfig, String> {
    let cli = Cli::try_parse_from(std::iter::once("emulator").chain(args.iter().copied()))
        .map_err(|e| e.to_string())?;
    cli.args.into_config().map_err(|e| e.to_string())
}

#[test]
fn flags_build_the_config() {
    let c = parse(&[
        "--listen",
        "127.0.0.1:0",
        "--token",
        "a",
        "--token",
        "b",
        "--oauth-client",
        "id:se:cret",
        "--time-scale",
        "0.01",
        "--fault-rate",
        "0.5",
        "--fault-status",
        "429",
    ])
    .expect("valid flags");
    assert_eq!(c.tokens, vec!["a", "b"]);
    assert_eq!(
        c.oauth_clients,
        vec![("id".to_owned(), "se:cret".to_owned())]
    );
    assert_eq!(c.time_scale, 0.01);
    assert_eq!(c.faults.len(), 1);
    assert_eq!(c.faults[0].status, Some(FaultStatus::Http(429)));
    assert_eq!(c.faults[0].rate, 0.5);
    let d = parse(&[]).expect("defaults");
    assert_eq!(d.listen.port(), 0);
    assert_eq!(d.time_scale, 1.0);
    assert!(d.faults.is_empty());
}

#[test]
fn bad_values_name_their_flag() {
    for (args, flag) in [
        (vec!["--listen", "localhost"], "--listen"),
        (vec!["--time-scale", "fast"], "--time-scale"),
        (vec!["--time-scale=-1"], "--time-scale"),
        (vec!["--oauth-client", "nosecret"], "--oauth-client"),
        (vec!["--fault-rate", "2"], "--fault-rate"),
        (vec!["--fault-status", "200"], "--fault-status"),
    ] {
        let err = parse(&args).expect_err("refused");
        assert!(
            err.starts_with(flag) && !err.contains('\n'),
            "{args:?} -> {err}"
        );
    }
}

/// The example binary, built next to this test by `cargo test`.
fn example() -> Option<std::path::PathBuf> {
    let exe = std::env::current_exe().ok()?;
    let dir = exe.parent()?.parent()?;
    let bin = dir
        .join("examples")
        .join(format!("emulator{}", std::env::consts::EXE_SUFFIX));
    bin.exists().then_some(bin)
}

#[test]
fn binary_prints_its_url_and_token_and_stops_on_sigterm() {
    let Some(bin) = example() else {
        // FIXME: only happens when the tests are built without examples.
        return;
    };
    let mut child = Command::new(bin)
        .args(["--listen", "127.0.0.1:0", "--time-scale", "0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn");
    let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
    let first = lines.next().expect("a line").expect("utf-8");
    let url = first
        .strip_prefix("listening on ")
        .expect("listening line")
        .to_owned();
    assert!(
        url.starts_with("http://127.0.0.1:") && !url.ends_with(":0"),
        "{url}"
    );
    let second = lines.next().expect("a line").expect("utf-8");
    let token = second.strip_prefix("token: ").expect("token line");
    assert!(token.starts_with("dapi"));
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("kill");
    assert!(status.success());
    let exit = child.wait().expect("wait");
    assert!(exit.success(), "{exit:?}");
}
