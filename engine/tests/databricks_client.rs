//! The Databricks client's retries and sign-in, against a scripted HTTP
//! server on 127.0.0.1 that answers each request with the next canned
//! response and records what it was sent.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use engine::databricks::{Auth, ClientOptions, Connection, DatabricksClient, DatabricksError};
use engine::secret::Secret;
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;

struct Scripted {
    url: String,
    requests: Arc<Mutex<Vec<String>>>,
}

/// Serves `responses` in order (the last one repeats), one per request.
async fn scripted(responses: Vec<&'static str>) -> Scripted {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let requests = Arc::new(Mutex::new(Vec::new()));
    let seen = requests.clone();
    tokio::spawn(async move {
        let mut served = 0usize;
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                return;
            };
            let (read, mut write) = stream.into_split();
            let mut reader = BufReader::new(read);
            // One request per connection keeps the script simple.
            let mut head = String::new();
            let mut content_length = 0usize;
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).await.unwrap_or(0) == 0 {
                    break;
                }
                if let Some(value) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                    content_length = value.trim().parse().unwrap_or(0);
                }
                head.push_str(&line);
                if line == "\r\n" {
                    break;
                }
            }
            let mut body = vec![0; content_length];
            let _ = reader.read_exact(&mut body).await;
            seen.lock()
                .unwrap()
                .push(format!("{head}{}", String::from_utf8_lossy(&body)));
            let response = responses[served.min(responses.len() - 1)];
            served += 1;
            let (status_line, rest) = response.split_once('\n').unwrap();
            // "STATUS\nheader: v\n\nbody", or "STATUS\n\nbody" without headers.
            let (headers, body) = match rest.strip_prefix('\n') {
                Some(body) => ("", body),
                None => rest.split_once("\n\n").unwrap_or((rest, "")),
            };
            let mut out = format!(
                "HTTP/1.1 {status_line}\r\ncontent-length: {}\r\nconnection: close\r\n",
                body.len()
            );
            for header in headers.lines().filter(|l| !l.is_empty()) {
                out.push_str(header);
                out.push_str("\r\n");
            }
            out.push_str("\r\n");
            out.push_str(body);
            let _ = write.write_all(out.as_bytes()).await;
            let _ = write.shutdown().await;
        }
    });
    Scripted { url, requests }
}

fn client(url: &str, auth: Auth, budget: Duration) -> DatabricksClient {
    DatabricksClient::new(
        Connection {
            host: url.to_owned(),
            auth,
        },
        ClientOptions {
            request_timeout: Duration::from_secs(5),
            retry_budget: budget,
        },
    )
    .unwrap()
}

fn pat() -> Auth {
    Auth::Token(Secret::new("dapi-test-token"))
}

#[tokio::test]
async fn rate_limits_are_retried_after_the_time_asked() {
    let server = scripted(vec![
        "429 Too Many Requests\nretry-after: 0\n\n{\"error_code\":\"REQUEST_LIMIT_EXCEEDED\",\"message\":\"slow down\"}",
        "503 Service Unavailable\nretry-after: 0\n\n{\"error_code\":\"TEMPORARILY_UNAVAILABLE\",\"message\":\"later\"}",
        "200 OK\ncontent-type: application/json\n\n{\"cluster_id\":\"0123-abc\",\"state\":\"RUNNING\"}",
    ])
    .await;
    let cluster: Value = client(&server.url, pat(), Duration::from_secs(30))
        .get(
            "/api/2.1/clusters/get",
            &[("cluster_id", "0123-abc".to_owned())],
        )
        .await
        .unwrap();
    assert_eq!(cluster["state"], "RUNNING");
    let requests = server.requests.lock().unwrap();
    assert_eq!(requests.len(), 3);
    assert!(
        requests[0].starts_with("GET /api/2.1/clusters/get?cluster_id=0123-abc HTTP/1.1"),
        "{}",
        requests[0]
    );
    assert!(
        requests[0]
            .to_ascii_lowercase()
            .contains("authorization: bearer dapi-test-token")
    );
}

#[tokio::test]
async fn an_error_that_is_not_transient_is_not_retried_and_keeps_its_code() {
    let server = scripted(vec![
        "400 Bad Request\n\n{\"error_code\":\"INVALID_PARAMETER_VALUE\",\"message\":\"Cluster 9 does not exist\"}",
    ])
    .await;
    let error = client(&server.url, pat(), Duration::from_secs(30))
        .post::<_, Value>("/api/2.1/clusters/delete", &json!({"cluster_id": "9"}))
        .await
        .unwrap_err();
    assert_eq!(
        error.error_code(),
        Some("INVALID_PARAMETER_VALUE"),
        "{error:?}"
    );
    assert!(error.is_not_found());
    assert_eq!(
        error.to_string(),
        "INVALID_PARAMETER_VALUE: Cluster 9 does not exist"
    );
    assert_eq!(server.requests.lock().unwrap().len(), 1);
    assert!(server.requests.lock().unwrap()[0].ends_with("{\"cluster_id\":\"9\"}"));
}

#[tokio::test]
async fn retries_stop_at_the_budget_with_the_last_error() {
    let server = scripted(vec!["503 Service Unavailable\nretry-after: 1\n\n{\"error_code\":\"TEMPORARILY_UNAVAILABLE\",\"message\":\"down\"}"]).await;
    let error = client(&server.url, pat(), Duration::from_millis(2500))
        .get::<Value>("/api/2.0/sql/warehouses", &[])
        .await
        .unwrap_err();
    let DatabricksError::Budget { last, .. } = &error else {
        panic!("{error:?}")
    };
    assert_eq!(last.error_code(), Some("TEMPORARILY_UNAVAILABLE"));
    let tries = server.requests.lock().unwrap().len();
    assert!(
        (2..=4).contains(&tries),
        "{tries} tries within a 2.5 s budget at 1 s apart"
    );
}

#[tokio::test]
async fn a_refused_connection_is_a_transport_error_without_secrets() {
    // Bind and drop, so the port is closed.
    let port = TcpListener::bind("127.0.0.1:0")
        .await
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let error = client(
        &format!("http://127.0.0.1:{port}"),
        pat(),
        Duration::from_millis(300),
    )
    .get::<Value>("/api/2.0/clusters/list", &[])
    .await
    .unwrap_err();
    let text = format!("{error} {error:?}");
    assert!(text.contains("cannot reach Databricks"), "{text}");
    assert!(!text.contains("dapi-test-token"), "{text}");
}

#[tokio::test]
async fn oauth_m2m_signs_in_once_and_reuses_the_token() {
    let server = scripted(vec![
        "200 OK\ncontent-type: application/json\n\n{\"access_token\":\"oauth-abc\",\"token_type\":\"Bearer\",\"expires_in\":3600}",
        "200 OK\ncontent-type: application/json\n\n{\"warehouses\":[]}",
    ])
    .await;
    let auth = Auth::OAuthM2M {
        client_id: "sp-1".into(),
        client_secret: Secret::new("sp-secret"),
    };
    let client = client(&server.url, auth, Duration::from_secs(5));
    for _ in 0..3 {
        let _: Value = client.get("/api/2.0/sql/warehouses", &[]).await.unwrap();
    }
    let requests = server.requests.lock().unwrap();
    assert_eq!(requests.len(), 4, "one token request, then three calls");
    assert!(requests[0].starts_with("POST /oidc/v1/token"));
    // HTTP Basic of sp-1:sp-secret.
    assert!(
        requests[0]
            .to_ascii_lowercase()
            .contains("authorization: basic c3atmtpzcc1zzwnyzxq="),
        "{}",
        requests[0]
    );
    assert!(requests[0].contains("grant_type=client_credentials&scope=all-apis"));
    assert!(requests[1..].iter().all(|r| {
        r.to_ascii_lowercase()
            .contains("authorization: bearer oauth-abc")
    }));
}

#[tokio::test]
async fn bad_oauth_credentials_say_so() {
    let server = scripted(vec!["401 Unauthorized\ncontent-type: application/json\n\n{\"error_code\":\"invalid_client\",\"message\":\"Client authentication failed\"}"]).await;
    let auth = Auth::OAuthM2M {
        client_id: "sp-1".into(),
        client_secret: Secret::new("wrong"),
    };
    let error = client(&server.url, auth, Duration::from_secs(5))
        .get::<Value>("/api/2.0/sql/warehouses", &[])
        .await
        .unwrap_err();
    let text = error.to_string();
    assert!(text.starts_with("OAuth M2M sign-in failed"), "{text}");
    assert!(text.contains("check the client id and secret"));
    assert!(!text.contains("wrong"));
}
