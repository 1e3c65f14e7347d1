//! Workspace API: the sample notebooks and importing new ones.

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use serde_json::json;

use crate::common::{Emu, assert_error};

#[tokio::test]
async fn sample_notebooks_exist_and_new_ones_can_be_imported() {
    let emu = Emu::start().await;
    let st = emu
        .ok_get("/api/2.0/workspace/get-status?path=/Shared/mortar-examples/aggregate")
        .await;
    assert_eq!(st["object_type"], "NOTEBOOK");
    assert_eq!(st["language"], "PYTHON");
    let l = emu
        .ok_get("/api/2.0/workspace/list?path=/Shared/mortar-examples")
        .await;
    assert_eq!(l["objects"].as_array().map(Vec::len), Some(2));

    let content = B64.encode("print('hi')\ndbutils.notebook.exit('done')\n");
    let missing_parent = emu
        .post(
            "/api/2.0/workspace/import",
            json!({"path": "/Users/x/y/nb", "language": "PYTHON", "content": content}),
        )
        .await;
    assert_error(&missing_parent, 404, "RESOURCE_DOES_NOT_EXIST");
    emu.ok_post("/api/2.0/workspace/mkdirs", json!({"path": "/Users/x/y"}))
        .await;
    emu.ok_post("/api/2.0/workspace/import", json!({"path": "/Users/x/y/nb", "language": "PYTHON", "format": "SOURCE", "content": content})).await;
    assert_error(
        &emu.post(
            "/api/2.0/workspace/import",
            json!({"path": "/Users/x/y/nb", "language": "PYTHON", "content": content}),
        )
        .await,
        409,
        "RESOURCE_ALREADY_EXISTS",
    );
    emu.ok_post("/api/2.0/workspace/import", json!({"path": "/Users/x/y/nb", "language": "PYTHON", "content": content, "overwrite": true})).await;
    let exported = emu
        .ok_get("/api/2.0/workspace/export?path=/Users/x/y/nb")
        .await;
    assert_eq!(exported["content"], content);
    assert_error(
        &emu.get("/api/2.0/workspace/get-status?path=/nope").await,
        404,
        "RESOURCE_DOES_NOT_EXIST",
    );
    emu.ok_post(
        "/api/2.0/workspace/delete",
        json!({"path": "/Users/x", "recursive": true}),
    )
    .await;
    assert_error(
        &emu.get("/api/2.0/workspace/get-status?path=/Users/x/y/nb")
            .await,
        404,
        "RESOURCE_DOES_NOT_EXIST",
    );
}

#[tokio::test]
async fn multipart_import_takes_raw_content() {
    let emu = Emu::start().await;
    let boundary = "b0unDary";
    let mut body = Vec::new();
    for (name, value) in [
        ("path", "/Users/mortar@example.com/nb"),
        ("format", "SOURCE"),
        ("language", "PYTHON"),
    ] {
        body.extend(
            format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n"
            )
            .as_bytes(),
        );
    }
    body.extend(format!("--{boundary}\r\nContent-Disposition: form-data; name=\"content\"; filename=\"content\"\r\n\r\nprint(1)\r\n--{boundary}--\r\n").as_bytes());
    let rb = emu
        .req(reqwest::Method::POST, "/api/2.0/workspace/import")
        .header(
            "content-type",
            format!("multipart/form-data; boundary={boundary}"),
        )
        .body(body);
    let (s, v) = emu.send(rb).await;
    assert_eq!(s, 200, "{v}");
    let exported = emu
        .ok_get("/api/2.0/workspace/export?path=/Users/mortar@example.com/nb")
        .await;
    assert_eq!(exported["content"], B64.encode("print(1)"));
}
