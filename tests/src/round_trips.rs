//! Counting round trips to PostgreSQL: a TCP proxy in front of the server
//! that counts *flights*, the times a client starts sending after the
//! server last spoke on that connection. Statements sent together before
//! any answer is read (pipelined) are one flight; a statement sent after
//! the answer to the previous one is another. Summed over every
//! connection, that is the number of round trips a request cost.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

/// A counting proxy to `upstream` (`host:port`), listening on a free port
/// of 127.0.0.1 until dropped.
#[derive(Debug)]
pub struct RoundTripProxy {
    pub address: SocketAddr,
    flights: Arc<AtomicU64>,
    task: JoinHandle<()>,
}

impl RoundTripProxy {
    pub async fn start(upstream: String) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("the proxy listens");
        let address = listener.local_addr().expect("a local address");
        let flights = Arc::new(AtomicU64::new(0));
        let counted = Arc::clone(&flights);
        let task = tokio::spawn(async move {
            loop {
                let Ok((inbound, _)) = listener.accept().await else {
                    continue;
                };
                let Ok(outbound) = TcpStream::connect(&upstream).await else {
                    continue;
                };
                // As the client and the server do: a proxy that let Nagle's
                // algorithm hold back a pipelined second write would add a
                // delayed-ACK wait (40 ms) that neither end has.
                let _ = inbound.set_nodelay(true);
                let _ = outbound.set_nodelay(true);
                tokio::spawn(forward(inbound, outbound, Arc::clone(&counted)));
            }
        });
        Self {
            address,
            flights,
            task,
        }
    }

    /// Round trips since the last call (or the start).
    pub fn take(&self) -> u64 {
        self.flights.swap(0, Ordering::SeqCst)
    }
}

impl Drop for RoundTripProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn forward(inbound: TcpStream, outbound: TcpStream, flights: Arc<AtomicU64>) {
    let (mut client_read, mut client_write) = inbound.into_split();
    let (mut server_read, mut server_write) = outbound.into_split();
    // Whether the server has spoken since the client last sent: the next
    // bytes from the client then start a new flight.
    let server_spoke = Arc::new(AtomicBool::new(true));
    let spoke = Arc::clone(&server_spoke);
    let upward = async move {
        let mut buffer = vec![0u8; 64 * 1024];
        loop {
            let read = match client_read.read(&mut buffer).await {
                Ok(0) | Err(_) => break,
                Ok(read) => read,
            };
            if server_spoke.swap(false, Ordering::SeqCst) {
                flights.fetch_add(1, Ordering::SeqCst);
            }
            if server_write.write_all(&buffer[..read]).await.is_err() {
                break;
            }
        }
        let _ = server_write.shutdown().await;
    };
    let downward = async move {
        let mut buffer = vec![0u8; 64 * 1024];
        loop {
            let read = match server_read.read(&mut buffer).await {
                Ok(0) | Err(_) => break,
                Ok(read) => read,
            };
            // Marked before the client can see the answer, so its next
            // request always counts.
            spoke.store(true, Ordering::SeqCst);
            if client_write.write_all(&buffer[..read]).await.is_err() {
                break;
            }
        }
        let _ = client_write.shutdown().await;
    };
    tokio::join!(upward, downward);
}
