//! A TCP proxy in front of PostgreSQL (or any TCP server), for tests of
//! a backend that goes away and comes back.

use std::net::SocketAddr;

use tokio::io::copy_bidirectional;
use tokio::net::{TcpSocket, TcpStream};
use tokio::sync::watch;
use tokio::task::{JoinHandle, JoinSet};

/// A TCP proxy in front of PostgreSQL that a test can cut (closing every
/// live connection) and restore on the same port, or freeze (every
/// connection stays open and nothing gets through, as in a network
/// partition): the database "goes away" without touching the real server
/// other tests use.
#[derive(Debug)]
pub struct Proxy {
    pub address: SocketAddr,
    upstream: String,
    frozen: watch::Sender<bool>,
    task: Option<JoinHandle<()>>,
}

impl Proxy {
    pub async fn start(upstream: String) -> Self {
        let mut proxy = Self {
            address: SocketAddr::from(([127, 0, 0, 1], 0)),
            upstream,
            frozen: watch::Sender::new(false),
            task: None,
        };
        proxy.open().await;
        proxy
    }

    /// Listens again, on the port of the first start, and forwards.
    pub async fn open(&mut self) {
        self.frozen.send_replace(false);
        let socket = TcpSocket::new_v4().expect("a socket");
        // The port was ours a moment ago; connections of the last run may
        // still be in TIME_WAIT.
        socket.set_reuseaddr(true).expect("SO_REUSEADDR");
        socket.bind(self.address).expect("the proxy port is free");
        let listener = socket.listen(64).expect("the proxy listens");
        self.address = listener.local_addr().expect("a local address");
        let upstream = self.upstream.clone();
        let frozen = self.frozen.subscribe();
        self.task = Some(tokio::spawn(async move {
            // Owned by this task: aborting it drops them all, which closes
            // every connection.
            let mut connections = JoinSet::new();
            loop {
                let Ok((inbound, _)) = listener.accept().await else {
                    continue;
                };
                connections.spawn(forward(inbound, upstream.clone(), frozen.clone()));
                while connections.try_join_next().is_some() {}
            }
        }));
    }

    /// Stops listening and closes every live connection.
    pub async fn cut(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
            // Returns once the task, its listener and connections are gone.
            let _ = task.await;
        }
    }

    /// Keeps every connection open, old and new, and lets nothing through.
    pub fn freeze(&self) {
        self.frozen.send_replace(true);
    }
}

/// Forwards one connection until either side closes it or the proxy
/// freezes; frozen, it holds both ends open until the proxy is cut.
async fn forward(mut inbound: TcpStream, upstream: String, mut frozen: watch::Receiver<bool>) {
    if !*frozen.borrow() {
        let Ok(mut outbound) = TcpStream::connect(&upstream).await else {
            return;
        };
        tokio::select! {
            // Checked first: once frozen, not one more byte goes through.
            biased;
            _ = frozen.wait_for(|frozen| *frozen) => {}
            _ = copy_bidirectional(&mut inbound, &mut outbound) => return,
        }
        std::future::pending::<()>().await;
        drop(outbound);
    }
    std::future::pending::<()>().await;
    drop(inbound);
}

impl Drop for Proxy {
    fn drop(&mut self) {
        if let Some(task) = &self.task {
            task.abort();
        }
    }
}
