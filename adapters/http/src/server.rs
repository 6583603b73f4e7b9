//! Roster's own accept loop over hyper, in place of poem's `Server`, for the
//! limits a server on the internet needs and poem does not expose:
//!
//! - a request's head must arrive within [`ConnectionLimits::header_timeout`],
//!   counted from when the server starts waiting for it — so the same bound
//!   holds a slow head (slowloris) and an idle keep-alive connection;
//! - at most [`ConnectionLimits::max_connections`] connections are served
//!   at once: beyond it a new connection waits up to
//!   [`ConnectionLimits::accept_wait`] for a slot, then is closed unanswered,
//!   while the established ones go on being served. Waiting never holds up
//!   the accept loop, and at most [`ConnectionLimits::waiting`] connections
//!   wait at once (the rest are closed at once), so the descriptors in use
//!   stay below `max_connections + waiting`.
//!
//! Shutdown stops accepting, asks every connection to finish its current
//! request (hyper then answers it with `Connection: close`), and waits for
//! them up to the grace period.

use std::convert::Infallible;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use poem::http::uri::Scheme;
use poem::web::{LocalAddr, RemoteAddr};
use poem::{Addr, Endpoint, Request};
use tokio::net::TcpListener;
use tokio::sync::{Semaphore, watch};
use tokio::task::JoinSet;

/// The connection limits; each is a setting (see the README).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnectionLimits {
    /// The longest the server waits for a request's head: from the
    /// connection's start, and again after each answer.
    pub header_timeout: Duration,
    /// Connections served at once.
    pub max_connections: usize,
    /// How long a connection beyond the cap waits for a slot before it is
    /// closed.
    pub accept_wait: Duration,
}

impl ConnectionLimits {
    /// How many connections may wait for a slot at once: an eighth of the
    /// cap, at least one.
    pub fn waiting(&self) -> usize {
        (self.max_connections / 8).max(1)
    }

    /// The cap lowered, if need be, so that served and waiting connections
    /// fit in `descriptors` (what the process may still open beside its
    /// other files and sockets); `None` when it fits as it is.
    pub fn fitted_to(&self, descriptors: usize) -> Option<Self> {
        if self.max_connections + self.waiting() <= descriptors {
            return None;
        }
        Some(Self {
            max_connections: (descriptors * 8 / 9).max(1),
            ..*self
        })
    }
}

impl Default for ConnectionLimits {
    /// A head within 10 s (Envoy's edge recommendation for
    /// `request_headers_timeout`; nginx waits 60 s), 1,024 connections
    /// (nginx's usual `worker_connections`), 1 s of waiting beyond them.
    fn default() -> Self {
        Self {
            header_timeout: Duration::from_secs(10),
            max_connections: 1024,
            accept_wait: Duration::from_secs(1),
        }
    }
}

/// Serves `endpoint` on `listener` until `shutdown` completes, then lets
/// connections finish their requests for up to `grace`.
pub async fn serve<E>(
    listener: TcpListener,
    endpoint: E,
    limits: ConnectionLimits,
    shutdown: impl Future<Output = ()> + Send,
    grace: Duration,
) -> std::io::Result<()>
where
    E: Endpoint + 'static,
{
    let endpoint = Arc::new(endpoint);
    let local = listener.local_addr()?;
    let slots = Arc::new(Semaphore::new(limits.max_connections));
    let waiting_room = Arc::new(Semaphore::new(limits.waiting()));
    let (stop, stopping) = watch::channel(false);
    let mut connections = JoinSet::new();
    let open = metrics::gauge!("roster_http_connections");
    metrics::gauge!("roster_http_connections_max").set(limits.max_connections as f64);
    let refused = metrics::counter!("roster_http_connections_refused_total");
    tokio::pin!(shutdown);
    loop {
        let (socket, peer) = tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    // Out of descriptors, most likely: let some close.
                    tracing::warn!(%error, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        while connections.try_join_next().is_some() {}
        // A slot now, or a place in the waiting room, or closed at once.
        let early_slot = Arc::clone(&slots).try_acquire_owned().ok();
        let waiting = match early_slot {
            Some(_) => None,
            None => match Arc::clone(&waiting_room).try_acquire_owned() {
                Ok(place) => Some(place),
                Err(_) => {
                    refused.increment(1);
                    drop(socket);
                    continue;
                }
            },
        };
        let _ = socket.set_nodelay(true);
        let endpoint = Arc::clone(&endpoint);
        let mut stopping = stopping.clone();
        let (open, refused, slots) = (open.clone(), refused.clone(), Arc::clone(&slots));
        connections.spawn(async move {
            let slot = match early_slot {
                Some(slot) => slot,
                None => {
                    let slot =
                        tokio::time::timeout(limits.accept_wait, slots.acquire_owned()).await;
                    drop(waiting);
                    match slot {
                        Ok(Ok(slot)) => slot,
                        _ => {
                            refused.increment(1);
                            tracing::debug!(%peer, "connection closed: every slot stayed taken");
                            return;
                        }
                    }
                }
            };
            open.increment(1.0);
            let service = hyper::service::service_fn(move |request: hyper::Request<Incoming>| {
                let endpoint = Arc::clone(&endpoint);
                async move {
                    let request = Request::from((
                        request,
                        LocalAddr(Addr::SocketAddr(local)),
                        RemoteAddr(Addr::SocketAddr(peer)),
                        Scheme::HTTP,
                    ));
                    let response = endpoint.get_response(request).await;
                    Ok::<_, Infallible>(hyper::Response::from(response))
                }
            });
            let mut builder = auto::Builder::new(TokioExecutor::new());
            builder
                .http1()
                .timer(TokioTimer::new())
                .header_read_timeout(limits.header_timeout);
            builder.http2().timer(TokioTimer::new());
            let connection = builder.serve_connection_with_upgrades(TokioIo::new(socket), service);
            tokio::pin!(connection);
            let outcome = tokio::select! {
                outcome = connection.as_mut() => outcome,
                () = async { drop(stopping.wait_for(|stop| *stop).await) } => {
                    connection.as_mut().graceful_shutdown();
                    connection.await
                }
            };
            if let Err(error) = outcome {
                let timed_out = error
                    .downcast_ref::<hyper::Error>()
                    .is_some_and(hyper::Error::is_timeout);
                if timed_out {
                    metrics::counter!("roster_http_header_timeouts_total").increment(1);
                }
                tracing::debug!(%peer, %error, "connection ended");
            }
            open.decrement(1.0);
            drop(slot);
        });
    }
    drop(listener);
    let _ = stop.send(true);
    let drained = tokio::time::timeout(grace, async {
        while connections.join_next().await.is_some() {}
    })
    .await;
    if drained.is_err() {
        tracing::warn!(
            left = connections.len(),
            "connections still open after the shutdown grace period; closing them"
        );
        connections.shutdown().await;
    }
    Ok(())
}
