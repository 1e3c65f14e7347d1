//! Files API 2.0 on the `main.default.files` volume.

use reqwest::{Method, StatusCode};

use crate::common::{Emu, assert_error};

const VOL: &str = "/api/2.0/fs/files/Volumes/main/default/files";
const DIRS: &str = "/api/2.0/fs/directories/Volumes/main/default/files";

#[tokio::test]
async fn upload_download_head_and_delete_a_file() {
    let emu = Emu::start().await;
    let data: Vec<u8> = (0..3_000_000u32).map(|i| (i % 253) as u8).collect();
    let put = emu
        .req(Method::PUT, &format!("{VOL}/in/data.bin?overwrite=false"))
        .header("content-type", "application/octet-stream")
        .body(data.clone());
    let (s, _) = emu.send(put).await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let again = emu
        .send(
            emu.req(Method::PUT, &format!("{VOL}/in/data.bin?overwrite=false"))
                .body("x"),
        )
        .await;
    assert_error(&again, 409, "ALREADY_EXISTS");
    let resp = emu
        .req(Method::GET, &format!("{VOL}/in/data.bin"))
        .send()
        .await
        .expect("answer");
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(
        resp.headers()["content-length"],
        data.len().to_string().as_str()
    );
    assert!(resp.headers().contains_key("last-modified"));
    assert_eq!(resp.bytes().await.expect("body").as_ref(), data.as_slice());

    let head = emu
        .req(Method::HEAD, &format!("{VOL}/in/data.bin"))
        .send()
        .await
        .expect("answer");
    assert_eq!(head.status(), StatusCode::OK);
    assert_eq!(
        head.headers()["content-length"],
        data.len().to_string().as_str()
    );
    assert_eq!(head.headers()["content-type"], "application/octet-stream");

    let (s, _) = emu
        .send(emu.req(Method::DELETE, &format!("{VOL}/in/data.bin")))
        .await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    assert_error(
        &emu.get(&format!("{VOL}/in/data.bin")).await,
        404,
        "NOT_FOUND",
    );
    let head = emu
        .req(Method::HEAD, &format!("{VOL}/in/data.bin"))
        .send()
        .await
        .expect("answer");
    assert_eq!(head.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn ranges_and_if_unmodified_since() {
    let emu = Emu::start().await;
    emu.send(
        emu.req(Method::PUT, &format!("{VOL}/r.txt"))
            .body("0123456789"),
    )
    .await;
    let resp = emu
        .req(Method::GET, &format!("{VOL}/r.txt"))
        .header("range", "bytes=2-5")
        .send()
        .await
        .expect("answer");
    assert_eq!(resp.status(), StatusCode::PARTIAL_CONTENT);
    assert_eq!(resp.headers()["content-range"], "bytes 2-5/10");
    let modified = resp.headers()["last-modified"]
        .to_str()
        .expect("date")
        .to_owned();
    assert_eq!(resp.text().await.expect("text"), "2345");
    let tail = emu
        .req(Method::GET, &format!("{VOL}/r.txt"))
        .header("range", "bytes=-3")
        .send()
        .await
        .expect("answer");
    assert_eq!(tail.text().await.expect("text"), "789");
    let bad = emu
        .req(Method::GET, &format!("{VOL}/r.txt"))
        .header("range", "bytes=50-")
        .send()
        .await
        .expect("answer");
    assert_eq!(bad.status(), StatusCode::RANGE_NOT_SATISFIABLE);
    let same = emu
        .req(Method::GET, &format!("{VOL}/r.txt"))
        .header("if-unmodified-since", &modified)
        .send()
        .await
        .expect("answer");
    assert_eq!(same.status(), StatusCode::OK);
    let old = emu
        .req(Method::GET, &format!("{VOL}/r.txt"))
        .header("if-unmodified-since", "Wed, 21 Oct 2015 07:28:00 GMT")
        .send()
        .await
        .expect("answer");
    assert_eq!(old.status(), StatusCode::PRECONDITION_FAILED);
}

#[tokio::test]
async fn directories_create_list_page_and_delete() {
    let emu = Emu::start().await;
    let (s, _) = emu.send(emu.req(Method::PUT, &format!("{DIRS}/d/e"))).await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let (s, _) = emu.send(emu.req(Method::PUT, &format!("{DIRS}/d/e"))).await;
    assert_eq!(s, StatusCode::NO_CONTENT, "mkdir is idempotent");
    for i in 0..5 {
        emu.send(
            emu.req(Method::PUT, &format!("{VOL}/d/f{i}.csv"))
                .body("a,b\n"),
        )
        .await;
    }
    let head = emu
        .req(Method::HEAD, &format!("{DIRS}/d"))
        .send()
        .await
        .expect("answer");
    assert_eq!(head.status(), StatusCode::OK);
    let mut names = Vec::new();
    let mut token = String::new();
    loop {
        let v = emu
            .ok_get(&format!("{DIRS}/d?page_size=2&page_token={token}"))
            .await;
        for e in v["contents"].as_array().expect("contents") {
            names.push((
                e["name"].as_str().unwrap_or("").to_owned(),
                e["is_directory"].as_bool().unwrap_or(false),
            ));
        }
        match v["next_page_token"].as_str() {
            Some(t) => token = t.to_owned(),
            None => break,
        }
    }
    assert_eq!(names.len(), 6);
    assert!(names.contains(&("e".to_owned(), true)));
    let conflict = emu
        .send(emu.req(Method::PUT, &format!("{DIRS}/d/f0.csv")))
        .await;
    assert_eq!(conflict.0, StatusCode::CONFLICT);
    let not_empty = emu
        .send(emu.req(Method::DELETE, &format!("{DIRS}/d")))
        .await;
    assert_eq!(not_empty.0, StatusCode::CONFLICT);
    let (s, _) = emu
        .send(emu.req(Method::DELETE, &format!("{DIRS}/d/e")))
        .await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    assert_error(&emu.get(&format!("{DIRS}/d/e")).await, 404, "NOT_FOUND");
}

#[tokio::test]
async fn paths_outside_an_existing_volume_are_refused() {
    let emu = Emu::start().await;
    assert_error(
        &emu.get("/api/2.0/fs/files/Volumes/main/default/nope/x")
            .await,
        404,
        "NOT_FOUND",
    );
    assert_error(
        &emu.get("/api/2.0/fs/files/tmp/x").await,
        400,
        "INVALID_PARAMETER_VALUE",
    );
    // The SDK's multipart upload probe gets a 404 and falls back to PUT.
    let probe = emu
        .send(emu.req(
            Method::POST,
            &format!("{VOL}/big.bin?action=initiate-upload"),
        ))
        .await;
    assert_eq!(probe.0, StatusCode::NOT_FOUND);
}
