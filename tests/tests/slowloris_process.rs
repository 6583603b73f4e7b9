//! A slowloris flood against the real `roster` binary under a low limit on
//! open files (`prlimit --nofile=256:256`), as an operator would try it
//! before putting Roster on the internet: the server caps its connections
//! below the limit by itself, cuts every slow head off at
//! `ROSTER_HEADER_TIMEOUT`, and serves ordinary clients again as soon as the
//! flood's connections are gone, never running out of descriptors.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const ATTACKERS: usize = 400;
const HEADER_TIMEOUT_SECS: u64 = 2;

struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// One slow client: half a head, then a header byte every 500 ms. How long
/// after `start` the server closed it; `None` if it had not after 10 s.
async fn slow_client(address: String, start: Instant) -> Option<Duration> {
    let mut socket = TcpStream::connect(&address).await.ok()?;
    if socket
        .write_all(b"GET /health/live HTTP/1.1\r\nHost: roster\r\n")
        .await
        .is_err()
    {
        return Some(start.elapsed());
    }
    let mut buffer = [0u8; 512];
    while start.elapsed() < Duration::from_secs(10) {
        tokio::select! {
            read = socket.read(&mut buffer) => match read {
                Ok(0) | Err(_) => return Some(start.elapsed()),
                Ok(_) => {}
            },
            () = tokio::time::sleep(Duration::from_millis(500)) => {
                if socket.write_all(b"X").await.is_err() {
                    return Some(start.elapsed());
                }
            }
        }
    }
    None
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slowloris_flood_under_a_low_descriptor_limit_is_cut_off_and_clients_are_served_again() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let address = format!("127.0.0.1:{port}");
    let _server = Server(
        Command::new("prlimit")
            .arg("--nofile=256:256")
            .arg(tests::roster_binary())
            .env_clear()
            .env("ROSTER_BIND", &address)
            .env("ROSTER_HEADER_TIMEOUT", HEADER_TIMEOUT_SECS.to_string())
            .env("ROSTER_LOG", "error")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("prlimit (util-linux) and the roster binary"),
    );
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(0)
        .timeout(Duration::from_secs(3))
        .build()
        .unwrap();
    let live = format!("http://{address}/health/live");
    let ready = Instant::now();
    while http.get(&live).send().await.is_err() {
        assert!(
            ready.elapsed() < Duration::from_secs(15),
            "roster never answered"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    let start = Instant::now();
    let flood: Vec<_> = (0..ATTACKERS)
        .map(|_| tokio::spawn(slow_client(address.clone(), start)))
        .collect();
    // An ordinary client, a new connection every 250 ms for 8 s.
    let mut ordinary = Vec::new();
    while start.elapsed() < Duration::from_secs(8) {
        let sent = start.elapsed();
        let answered = matches!(
            http.get(&live).send().await.map(|r| r.status().as_u16()),
            Ok(200)
        );
        ordinary.push((sent, answered));
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let mut cut_off = Vec::new();
    for client in flood {
        cut_off.push(client.await.unwrap());
    }

    let still_open = cut_off.iter().filter(|c| c.is_none()).count();
    let latest = cut_off.iter().flatten().max().copied().unwrap_or_default();
    let answered = ordinary.iter().filter(|(_, ok)| *ok).count();
    eprintln!(
        "slowloris: {ATTACKERS} slow clients, all closed by the server within {latest:?}; \
         ordinary requests answered {answered} of {}: {:?}",
        ordinary.len(),
        ordinary
            .iter()
            .map(|(at, ok)| format!("{:.2}s:{}", at.as_secs_f64(), if *ok { "ok" } else { "-" }))
            .collect::<Vec<_>>()
    );
    assert_eq!(still_open, 0, "slow clients the server never closed");
    // Every slow head is cut off at the header timeout, counted from when
    // the server took the connection: those that waited in the listen
    // queue for a slot freed by the first wave's end last two timeouts
    // (with slack for a busy machine).
    let cut = Duration::from_secs(2 * HEADER_TIMEOUT_SECS + 2);
    assert!(latest < cut, "{latest:?}");
    // Once the flood's connections are gone, every ordinary request is
    // answered: nothing was leaked.
    let after = cut + Duration::from_millis(500);
    for (sent, ok) in &ordinary {
        if *sent > after {
            assert!(ok, "a request sent {sent:?} into the flood got no answer");
        }
    }
    assert!(answered > 0);
    let reply = http.get(&live).send().await.expect("roster still answers");
    assert_eq!(reply.status().as_u16(), 200);
}
