//! DBFS 2.0: real bytes, the 1 MiB limits, the error codes.

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use reqwest::Method;
use serde_json::json;

use crate::common::{Emu, assert_error};

const MIB: usize = 1024 * 1024;

fn bytes(n: usize) -> Vec<u8> {
    (0..n).map(|i| (i * 31 % 251) as u8).collect()
}

async fn read_all(emu: &Emu, path: &str) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let v = emu
            .ok_get(&format!(
                "/api/2.0/dbfs/read?path={path}&offset={}&length={MIB}",
                out.len()
            ))
            .await;
        let n = v["bytes_read"].as_u64().expect("bytes_read") as usize;
        if n == 0 {
            return out;
        }
        out.extend(
            B64.decode(v["data"].as_str().expect("data"))
                .expect("base64"),
        );
    }
}

#[tokio::test]
async fn streaming_upload_of_several_mib_reads_back_the_same_bytes() {
    let emu = Emu::start().await;
    let data = bytes(3 * MIB + 12345);
    let h = emu
        .ok_post(
            "/api/2.0/dbfs/create",
            json!({"path": "dbfs:/up/big.bin", "overwrite": false}),
        )
        .await["handle"]
        .as_i64()
        .expect("handle");
    for block in data.chunks(MIB) {
        emu.ok_post(
            "/api/2.0/dbfs/add-block",
            json!({"handle": h, "data": B64.encode(block)}),
        )
        .await;
    }
    emu.ok_post("/api/2.0/dbfs/close", json!({"handle": h.to_string()}))
        .await;
    let st = emu
        .ok_get("/api/2.0/dbfs/get-status?path=/up/big.bin")
        .await;
    assert_eq!(st["file_size"], data.len());
    assert_eq!(st["is_dir"], false);
    assert_eq!(read_all(&emu, "/up/big.bin").await, data);
    // The handle is gone after close.
    assert_error(
        &emu.post("/api/2.0/dbfs/add-block", json!({"handle": h, "data": ""}))
            .await,
        404,
        "RESOURCE_DOES_NOT_EXIST",
    );
}

#[tokio::test]
async fn block_and_read_limits_are_one_mib_decoded() {
    let emu = Emu::start().await;
    let h = emu
        .ok_post("/api/2.0/dbfs/create", json!({"path": "/l/x"}))
        .await["handle"]
        .as_i64()
        .expect("handle");
    emu.ok_post(
        "/api/2.0/dbfs/add-block",
        json!({"handle": h, "data": B64.encode(bytes(MIB))}),
    )
    .await;
    assert_error(
        &emu.post(
            "/api/2.0/dbfs/add-block",
            json!({"handle": h, "data": B64.encode(bytes(MIB + 1))}),
        )
        .await,
        400,
        "MAX_BLOCK_SIZE_EXCEEDED",
    );
    assert_error(
        &emu.post(
            "/api/2.0/dbfs/put",
            json!({"path": "/l/y", "contents": B64.encode(bytes(MIB + 1))}),
        )
        .await,
        400,
        "MAX_BLOCK_SIZE_EXCEEDED",
    );
    emu.ok_post("/api/2.0/dbfs/close", json!({"handle": h}))
        .await;
    assert_error(
        &emu.get(&format!("/api/2.0/dbfs/read?path=/l/x&length={}", MIB + 1))
            .await,
        400,
        "MAX_READ_SIZE_EXCEEDED",
    );
    assert_error(
        &emu.get("/api/2.0/dbfs/read?path=/l/x&offset=-1").await,
        400,
        "INVALID_PARAMETER_VALUE",
    );
    assert_error(
        &emu.get("/api/2.0/dbfs/read?path=/l").await,
        400,
        "INVALID_PARAMETER_VALUE",
    );
    let past = emu
        .ok_get(&format!("/api/2.0/dbfs/read?path=/l/x&offset={}", 2 * MIB))
        .await;
    assert_eq!(past["bytes_read"], 0);
    let tail = emu
        .ok_get(&format!(
            "/api/2.0/dbfs/read?path=/l/x&offset={}&length=100",
            MIB - 10
        ))
        .await;
    assert_eq!(tail["bytes_read"], 10);
    let default = emu.ok_get("/api/2.0/dbfs/read?path=/l/x").await;
    assert_eq!(
        default["bytes_read"],
        512 * 1024,
        "length defaults to 0.5 MB"
    );
}

#[tokio::test]
async fn put_inline_and_multipart_respect_overwrite() {
    let emu = Emu::start().await;
    emu.ok_post(
        "/api/2.0/dbfs/put",
        json!({"path": "/p/a.txt", "contents": B64.encode(b"one")}),
    )
    .await;
    let got = emu
        .post(
            "/api/2.0/dbfs/put",
            json!({"path": "/p/a.txt", "contents": B64.encode(b"two")}),
        )
        .await;
    assert_error(&got, 400, "RESOURCE_ALREADY_EXISTS");
    assert_eq!(
        got.1["message"],
        "A file or directory already exists at the input path dbfs:/p/a.txt."
    );
    emu.ok_post(
        "/api/2.0/dbfs/put",
        json!({"path": "/p/a.txt", "contents": B64.encode(b"two"), "overwrite": "true"}),
    )
    .await;
    assert_eq!(read_all(&emu, "/p/a.txt").await, b"two");

    let boundary = "XyZbOuNdArY";
    let payload = bytes(2 * MIB);
    let mut body = Vec::new();
    for (name, value) in [("path", "/p/multi.bin"), ("overwrite", "true")] {
        body.extend(
            format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n"
            )
            .as_bytes(),
        );
    }
    body.extend(format!("--{boundary}\r\nContent-Disposition: form-data; name=\"contents\"; filename=\"m.bin\"\r\nContent-Type: application/octet-stream\r\n\r\n").as_bytes());
    body.extend(&payload);
    body.extend(format!("\r\n--{boundary}--\r\n").as_bytes());
    let rb = emu
        .req(Method::POST, "/api/2.0/dbfs/put")
        .header(
            "content-type",
            format!("multipart/form-data; boundary={boundary}"),
        )
        .body(body);
    let (s, v) = emu.send(rb).await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(read_all(&emu, "/p/multi.bin").await, payload);
}

#[tokio::test]
async fn directories_list_move_and_delete() {
    let emu = Emu::start().await;
    emu.ok_post("/api/2.0/dbfs/mkdirs", json!({"path": "dbfs:/a/b/c"}))
        .await;
    emu.ok_post("/api/2.0/dbfs/mkdirs", json!({"path": "/a/b/c"}))
        .await;
    emu.ok_post(
        "/api/2.0/dbfs/put",
        json!({"path": "/a/b/f.txt", "contents": B64.encode(b"hi")}),
    )
    .await;
    let l = emu.ok_get("/api/2.0/dbfs/list?path=/a/b").await;
    let mut files: Vec<(String, bool)> = l["files"]
        .as_array()
        .expect("files")
        .iter()
        .map(|f| {
            (
                f["path"].as_str().unwrap_or("").to_owned(),
                f["is_dir"].as_bool().unwrap_or(false),
            )
        })
        .collect();
    files.sort();
    assert_eq!(
        files,
        vec![
            ("/a/b/c".to_owned(), true),
            ("/a/b/f.txt".to_owned(), false)
        ]
    );
    let one = emu.ok_get("/api/2.0/dbfs/list?path=/a/b/f.txt").await;
    assert_eq!(one["files"][0]["file_size"], 2);
    assert_error(
        &emu.post("/api/2.0/dbfs/mkdirs", json!({"path": "/a/b/f.txt/sub"}))
            .await,
        400,
        "RESOURCE_ALREADY_EXISTS",
    );
    assert_error(
        &emu.get("/api/2.0/dbfs/list?path=/nope").await,
        404,
        "RESOURCE_DOES_NOT_EXIST",
    );
    let missing = emu.get("/api/2.0/dbfs/get-status?path=/nope").await;
    assert_error(&missing, 404, "RESOURCE_DOES_NOT_EXIST");
    assert_eq!(
        missing.1["message"],
        "No file or directory exists on path /nope."
    );

    emu.ok_post(
        "/api/2.0/dbfs/move",
        json!({"source_path": "/a/b", "destination_path": "/z"}),
    )
    .await;
    assert_eq!(read_all(&emu, "/z/f.txt").await, b"hi");
    assert_error(
        &emu.get("/api/2.0/dbfs/get-status?path=/a/b/f.txt").await,
        404,
        "RESOURCE_DOES_NOT_EXIST",
    );
    assert_error(
        &emu.post(
            "/api/2.0/dbfs/move",
            json!({"source_path": "/nope", "destination_path": "/q"}),
        )
        .await,
        404,
        "RESOURCE_DOES_NOT_EXIST",
    );
    emu.ok_post("/api/2.0/dbfs/put", json!({"path": "/q", "contents": ""}))
        .await;
    assert_error(
        &emu.post(
            "/api/2.0/dbfs/move",
            json!({"source_path": "/z", "destination_path": "/q"}),
        )
        .await,
        400,
        "RESOURCE_ALREADY_EXISTS",
    );

    assert_error(
        &emu.post("/api/2.0/dbfs/delete", json!({"path": "/z"}))
            .await,
        400,
        "IO_ERROR",
    );
    emu.ok_post(
        "/api/2.0/dbfs/delete",
        json!({"path": "/z", "recursive": true}),
    )
    .await;
    assert_error(
        &emu.get("/api/2.0/dbfs/get-status?path=/z/c").await,
        404,
        "RESOURCE_DOES_NOT_EXIST",
    );
}

#[tokio::test]
async fn sample_data_sets_are_there_from_the_start() {
    let emu = Emu::start().await;
    let l = emu
        .ok_get("/api/2.0/dbfs/list?path=dbfs:/databricks-datasets/mortar")
        .await;
    assert!(l["files"].as_array().is_some_and(|f| f.len() >= 3), "{l}");
    let csv = read_all(&emu, "/databricks-datasets/mortar/sales.csv").await;
    assert!(csv.starts_with(b"region,"));
}

#[tokio::test]
async fn a_data_dir_keeps_files_across_restarts() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = || emulator::EmulatorConfig {
        time_scale: 0.001,
        data_dir: Some(dir.path().to_path_buf()),
        ..Default::default()
    };
    let emu = Emu::with(config()).await;
    emu.ok_post(
        "/api/2.0/dbfs/put",
        json!({"path": "/keep/me.txt", "contents": B64.encode(b"kept")}),
    )
    .await;
    let on_disk = dir.path().join("keep/me.txt");
    crate::common::wait_for("the file on disk", || {
        let p = on_disk.clone();
        async move { std::fs::read(&p).ok().filter(|d| d == b"kept") }
    })
    .await;
    emu.handle.shutdown().await;
    let again = Emu::with(config()).await;
    assert_eq!(read_all(&again, "/keep/me.txt").await, b"kept");
}
