//! The connection limits, through raw sockets: a request's head must arrive
//! within `ROSTER_HEADER_TIMEOUT` (a slowloris client is cut off, and so is
//! an idle keep-alive connection), and beyond `ROSTER_MAX_CONNECTIONS` a new
//! connection waits a second, then is closed, while the established ones
//! are still served.

use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::timeout;

use tests::app::{RawReply, TestApp, raw};

fn address(app: &TestApp) -> String {
    app.base_url.trim_start_matches("http://").to_owned()
}

fn live(address: &str) -> String {
    format!("GET /health/live HTTP/1.1\r\nHost: {address}\r\n\r\n")
}

/// Reads one answer (a head and a `Content-Length` body) off `socket`.
async fn read_answer(socket: &mut TcpStream) -> String {
    let mut answer = Vec::new();
    let mut buffer = [0u8; 1024];
    loop {
        let text = String::from_utf8_lossy(&answer).into_owned();
        if let Some((head, body)) = text.split_once("\r\n\r\n") {
            let length: usize = head
                .lines()
                .find_map(|line| line.strip_prefix("content-length: "))
                .and_then(|n| n.trim().parse().ok())
                .expect("a content-length");
            if body.len() >= length {
                return text;
            }
        }
        let read = timeout(Duration::from_secs(5), socket.read(&mut buffer))
            .await
            .expect("an answer in time")
            .expect("a read");
        assert!(read > 0, "closed before answering: {text:?}");
        answer.extend_from_slice(&buffer[..read]);
    }
}

/// Waits until the server closes `socket` (a read of 0 or an error), at
/// most `within`; how long it took.
async fn closed_within(socket: &mut TcpStream, within: Duration) -> Duration {
    let started = Instant::now();
    let mut buffer = [0u8; 1024];
    loop {
        match timeout(
            within.saturating_sub(started.elapsed()),
            socket.read(&mut buffer),
        )
        .await
        {
            Err(_) => panic!("still open after {within:?}"),
            Ok(Ok(0) | Err(_)) => return started.elapsed(),
            // A 408 or anything else the server says before closing.
            Ok(Ok(_)) => {}
        }
    }
}

#[tokio::test]
async fn a_head_sent_too_slowly_is_cut_off_at_the_header_timeout() {
    let Some(app) = TestApp::spawn_with(&[("ROSTER_HEADER_TIMEOUT", "1")]).await else {
        return;
    };
    let address = address(&app);
    let mut socket = TcpStream::connect(&address).await.unwrap();
    socket
        .write_all(b"GET /health/live HTTP/1.1\r\n")
        .await
        .unwrap();
    // One header byte every 200 ms: the connection is never idle, and the
    // head never ends.
    let trickle = async {
        for byte in b"X-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
            .iter()
            .cycle()
        {
            if socket.write_all(&[*byte]).await.is_err() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    };
    let started = Instant::now();
    timeout(Duration::from_secs(5), trickle)
        .await
        .expect("the server cut the connection off");
    let took = started.elapsed();
    assert!(took >= Duration::from_millis(900), "cut off after {took:?}");
    assert!(took < Duration::from_secs(3), "cut off after {took:?}");
}

#[tokio::test]
async fn an_idle_keep_alive_connection_is_closed_at_the_header_timeout() {
    let Some(app) = TestApp::spawn_with(&[("ROSTER_HEADER_TIMEOUT", "1")]).await else {
        return;
    };
    let address = address(&app);
    let mut socket = TcpStream::connect(&address).await.unwrap();
    socket.write_all(live(&address).as_bytes()).await.unwrap();
    let answer = read_answer(&mut socket).await;
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    // Kept alive for the next request: another answer on it at once.
    socket.write_all(live(&address).as_bytes()).await.unwrap();
    assert!(read_answer(&mut socket).await.starts_with("HTTP/1.1 200"));
    // Then nothing: the server closes it once the timeout has passed.
    let took = closed_within(&mut socket, Duration::from_secs(5)).await;
    assert!(took >= Duration::from_millis(900), "closed after {took:?}");
}

#[tokio::test]
async fn beyond_the_cap_a_new_connection_is_closed_and_the_established_are_served() {
    let Some(app) = TestApp::spawn_with(&[
        ("ROSTER_MAX_CONNECTIONS", "4"),
        ("ROSTER_HEADER_TIMEOUT", "30"),
    ])
    .await
    else {
        return;
    };
    let address = address(&app);
    // One ordinary keep-alive client, and three that hold a slot with half
    // a head.
    let mut client = TcpStream::connect(&address).await.unwrap();
    client.write_all(live(&address).as_bytes()).await.unwrap();
    read_answer(&mut client).await;
    let mut holders = Vec::new();
    for _ in 0..3 {
        let mut holder = TcpStream::connect(&address).await.unwrap();
        holder
            .write_all(b"GET /health/live HTTP/1.1\r\n")
            .await
            .unwrap();
        holders.push(holder);
    }
    // Let the server take all three.
    tokio::time::sleep(Duration::from_millis(200)).await;

    // A fifth connection: the kernel accepts it, the server waits a second
    // for a slot, then closes it without an answer.
    let mut fifth = TcpStream::connect(&address).await.unwrap();
    fifth.write_all(live(&address).as_bytes()).await.unwrap();
    let took = closed_within(&mut fifth, Duration::from_secs(5)).await;
    assert!(took >= Duration::from_millis(800), "closed after {took:?}");

    // The established client is served all along.
    for _ in 0..3 {
        client.write_all(live(&address).as_bytes()).await.unwrap();
        assert!(read_answer(&mut client).await.starts_with("HTTP/1.1 200"));
    }
    // A slot freed is a slot for the next connection.
    drop(holders.pop());
    tokio::time::sleep(Duration::from_millis(100)).await;
    let mut next = TcpStream::connect(&address).await.unwrap();
    next.write_all(live(&address).as_bytes()).await.unwrap();
    assert!(read_answer(&mut next).await.starts_with("HTTP/1.1 200"));
}

/// Sends `request` on a new connection and reads the answer to the end
/// (these answers close the connection): status, head, body.
#[tokio::test]
async fn requests_the_server_cannot_take_get_the_error_envelope() {
    let Some(app) = TestApp::spawn().await else {
        return;
    };
    let address = address(&app);
    let live = |extra: &str| format!("GET /health/live HTTP/1.1\r\nHost: roster\r\n{extra}\r\n");
    let many_headers: String = (0..200).map(|n| format!("X-Header-{n}: {n}\r\n")).collect();
    let cases: Vec<(&str, Vec<u8>, u16, &str)> = vec![
        (
            "a NUL in a header",
            live("X-Bad: a\0b\r\n").into_bytes(),
            400,
            "VALIDATION_ERROR",
        ),
        (
            "a raw 0xFF in the path",
            [&b"GET /health/\xff HTTP/1.1\r\nHost: roster\r\n\r\n"[..]].concat(),
            400,
            "VALIDATION_ERROR",
        ),
        (
            "a Content-Length no number holds",
            b"POST /api/v1/auth/login HTTP/1.1\r\nHost: roster\r\nContent-Length: 99999999999999999999999\r\n\r\n".to_vec(),
            400,
            "VALIDATION_ERROR",
        ),
        (
            "not HTTP at all",
            b"HELLO THERE\r\n\r\n".to_vec(),
            400,
            "VALIDATION_ERROR",
        ),
        (
            "a 1 MiB header",
            live(&format!("X-Big: {}\r\n", "a".repeat(1024 * 1024))).into_bytes(),
            431,
            "HEADERS_TOO_LARGE",
        ),
        (
            "200 headers",
            live(&many_headers).into_bytes(),
            431,
            "HEADERS_TOO_LARGE",
        ),
        (
            "a 64 KiB target",
            format!(
                "GET /health/live?q={} HTTP/1.1\r\nHost: roster\r\n\r\n",
                "a".repeat(64 * 1024)
            )
            .into_bytes(),
            414,
            "URI_TOO_LONG",
        ),
    ];
    for (case, request, status, code) in cases {
        let RawReply {
            status: answered,
            head,
            body,
        } = raw(&address, &request).await;
        assert_eq!(answered, status, "{case}: {head}");
        assert_eq!(body["success"], false, "{case}");
        assert_eq!(body["error"]["code"], code, "{case}");
        assert!(
            body["error"]["message"]
                .as_str()
                .is_some_and(|m| !m.is_empty())
        );
        assert!(
            head.contains("content-type: application/json"),
            "{case}: {head}"
        );
        assert!(
            head.contains("x-content-type-options: nosniff"),
            "{case}: {head}"
        );
        assert!(head.contains("cache-control: no-store"), "{case}: {head}");
        let id = body["meta"]["requestId"].as_str().expect("a request id");
        assert!(
            head.contains(&format!("x-request-id: {id}")),
            "{case}: {head}"
        );
    }
    // The server goes on serving.
    let reply = tests::app::send(app.request(reqwest::Method::GET, "/health/live")).await;
    assert_eq!(reply.status, reqwest::StatusCode::OK);
}

#[tokio::test]
async fn a_body_sent_too_slowly_is_cut_off_at_the_body_timeout() {
    let Some(app) = TestApp::spawn_with(&[("ROSTER_BODY_TIMEOUT", "1")]).await else {
        return;
    };
    let address = address(&app);
    let mut socket = TcpStream::connect(&address).await.unwrap();
    socket
        .write_all(
            b"POST /api/v1/auth/login HTTP/1.1\r\nHost: roster\r\nContent-Type: application/json\r\n\
              Content-Length: 100\r\n\r\n{\"email\"",
        )
        .await
        .unwrap();
    let started = Instant::now();
    let mut answer = Vec::new();
    timeout(Duration::from_secs(5), socket.read_to_end(&mut answer))
        .await
        .expect("cut off in time")
        .ok();
    let took = started.elapsed();
    let text = String::from_utf8_lossy(&answer);
    assert!(took >= Duration::from_millis(900), "after {took:?}");
    assert!(took < Duration::from_secs(3), "after {took:?}");
    let (head, body) = text.split_once("\r\n\r\n").expect("an answer");
    assert!(head.starts_with("HTTP/1.1 408"), "{text}");
    assert!(
        head.to_ascii_lowercase().contains("connection: close"),
        "{head}"
    );
    let body: serde_json::Value = serde_json::from_str(body).expect("an envelope");
    assert_eq!(body["error"]["code"], "REQUEST_TIMEOUT");
}
