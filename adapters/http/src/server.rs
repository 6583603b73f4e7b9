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
//! hyper answers a request it cannot parse, or whose target or headers are
//! over its limits, on its own, before any route runs, with an empty body;
//! [`Answering`] puts Roster's error envelope in its place
//! ([`ProtocolErrors`]).
//!
//! Shutdown stops accepting, asks every connection to finish its current
//! request (hyper then answers it with `Connection: close`), and waits for
//! them up to the grace period.

use std::convert::Infallible;
use std::future::Future;
use std::io::IoSlice;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll, ready};
use std::time::Duration;

use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use poem::http::uri::Scheme;
use poem::web::{LocalAddr, RemoteAddr};
use poem::{Addr, Endpoint, Request};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Semaphore, watch};
use tokio::task::JoinSet;

use crate::shell::ProtocolErrors;

/// The connection limits; each is a setting (see the README).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnectionLimits {
    /// The longest the server waits for a request's head: from the
    /// connection's start, and again after each answer.
    pub header_timeout: Duration,
    /// The longest a request's body may take to arrive, from its head.
    pub body_timeout: Duration,
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
    /// `request_headers_timeout`; nginx waits 60 s), a body within 30 s
    /// (at the 1 MiB body limit, a client slower than 35 kB/s is cut off;
    /// nginx allows 60 s between two reads), 1,024 connections
    /// (nginx's usual `worker_connections`), 1 s of waiting beyond them.
    fn default() -> Self {
        Self {
            header_timeout: Duration::from_secs(10),
            body_timeout: Duration::from_secs(30),
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
    protocol_errors: Arc<ProtocolErrors>,
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
    metrics::gauge!("roster_http_header_timeout_seconds").set(limits.header_timeout.as_secs_f64());
    metrics::gauge!("roster_http_body_timeout_seconds").set(limits.body_timeout.as_secs_f64());
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
        let stopping = stopping.clone();
        let (open, refused, slots) = (open.clone(), refused.clone(), Arc::clone(&slots));
        let protocol_errors = Arc::clone(&protocol_errors);
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
            let addresses = (local, peer);
            serve_connection(
                socket,
                endpoint,
                protocol_errors,
                addresses,
                limits,
                stopping,
            )
            .await;
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

/// One connection, from its slot to its end: hyper with the header timeout,
/// each request through `endpoint` under the body timeout, a graceful end
/// once `stopping` turns true.
async fn serve_connection<E>(
    socket: TcpStream,
    endpoint: Arc<E>,
    protocol_errors: Arc<ProtocolErrors>,
    (local, peer): (std::net::SocketAddr, std::net::SocketAddr),
    limits: ConnectionLimits,
    mut stopping: watch::Receiver<bool>,
) where
    E: Endpoint + 'static,
{
    let answers = Arc::clone(&protocol_errors);
    let service = hyper::service::service_fn(move |request: hyper::Request<Incoming>| {
        let request = Request::from((
            request,
            LocalAddr(Addr::SocketAddr(local)),
            RemoteAddr(Addr::SocketAddr(peer)),
            Scheme::HTTP,
        ));
        let reply = answer(
            Arc::clone(&endpoint),
            Arc::clone(&answers),
            request,
            limits.body_timeout,
        );
        async move { Ok::<_, Infallible>(hyper::Response::from(reply.await)) }
    });
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout);
    builder.http2().timer(TokioTimer::new());
    let socket = Answering {
        socket,
        protocol_errors,
        pending: None,
    };
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
}

/// `endpoint`'s answer to `request`, its body bounded by `body_timeout`:
/// a body that has not arrived in time is answered 408, whatever the route
/// made of it.
async fn answer<E: Endpoint>(
    endpoint: Arc<E>,
    answers: Arc<ProtocolErrors>,
    mut request: Request,
    body_timeout: Duration,
) -> poem::Response {
    let late = has_body(&request).then(|| {
        let late = Arc::new(AtomicBool::new(false));
        let body = request.take_body();
        request.set_body(with_deadline(body, body_timeout, Arc::clone(&late)));
        late
    });
    let response = endpoint.get_response(request).await;
    match late {
        Some(late) if late.load(Ordering::Acquire) => answers.response(408),
        _ => response,
    }
}

/// Whether the request says a body follows.
fn has_body(request: &Request) -> bool {
    let headers = request.headers();
    headers.contains_key(poem::http::header::TRANSFER_ENCODING)
        || headers
            .get(poem::http::header::CONTENT_LENGTH)
            .is_some_and(|length| length.as_bytes() != b"0")
}

/// `body`, failing with `TimedOut` (and setting `late`) once `timeout` has
/// passed without its end: a client that trickles a body out is cut off
/// like one that trickles a head.
fn with_deadline(body: poem::Body, timeout: Duration, late: Arc<AtomicBool>) -> poem::Body {
    use futures::StreamExt;

    let deadline = tokio::time::Instant::now() + timeout;
    let chunks = body.into_bytes_stream();
    let timed = futures::stream::unfold(Some(chunks), move |chunks| {
        let late = Arc::clone(&late);
        async move {
            let mut chunks = chunks?;
            match tokio::time::timeout_at(deadline, chunks.next()).await {
                Ok(Some(chunk)) => Some((chunk, Some(chunks))),
                Ok(None) => None,
                Err(_) => {
                    late.store(true, Ordering::Release);
                    metrics::counter!("roster_http_body_timeouts_total").increment(1);
                    let error = std::io::Error::new(
                        std::io::ErrorKind::TimedOut,
                        format!("the request body did not arrive within {timeout:?}"),
                    );
                    Some((Err(error), None))
                }
            }
        }
    });
    poem::Body::from_bytes_stream(timed)
}

/// A connection's socket as hyper sees it: reads and writes pass through,
/// except hyper's own error answers, which no route made (their head has
/// no `x-request-id`): Roster's envelope is written in their place.
struct Answering {
    socket: TcpStream,
    protocol_errors: Arc<ProtocolErrors>,
    /// Roster's answer, and how much of it is written.
    pending: Option<(Vec<u8>, usize)>,
}

impl Answering {
    /// Writes what is left of a replacement answer.
    fn drain(&mut self, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        while let Some((answer, written)) = &mut self.pending {
            if *written == answer.len() {
                self.pending = None;
                break;
            }
            let n = ready!(Pin::new(&mut self.socket).poll_write(cx, &answer[*written..]))?;
            if n == 0 {
                return Poll::Ready(Err(std::io::ErrorKind::WriteZero.into()));
            }
            *written += n;
        }
        Poll::Ready(Ok(()))
    }

    /// Takes `bytes` in place of hyper's answer when they are one; whether
    /// they were.
    fn replaced(&mut self, bytes: &[u8], cx: &mut Context<'_>) -> std::io::Result<bool> {
        let Some(status) = hypers_own_error(bytes) else {
            return Ok(false);
        };
        self.pending = Some((self.protocol_errors.answer(status), 0));
        // What is not written now is written by the flush hyper makes next.
        if let Poll::Ready(Err(error)) = self.drain(cx) {
            return Err(error);
        }
        Ok(true)
    }
}

/// The status of an error answer hyper made itself: a 4xx head, whole in
/// `bytes`, without the `x-request-id` every answer of Roster's carries.
fn hypers_own_error(bytes: &[u8]) -> Option<u16> {
    let status = bytes.strip_prefix(b"HTTP/1.1 4")?;
    let end = bytes.windows(4).position(|w| w == b"\r\n\r\n")?;
    let head = bytes[..end].to_ascii_lowercase();
    if head.windows(13).any(|w| w == b"x-request-id:") {
        return None;
    }
    let digits = std::str::from_utf8(status.get(..2)?).ok()?;
    digits.parse::<u16>().ok().map(|rest| 400 + rest)
}

impl AsyncRead for Answering {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.socket).poll_read(cx, buf)
    }
}

impl AsyncWrite for Answering {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        ready!(self.drain(cx))?;
        if self.replaced(buf, cx)? {
            return Poll::Ready(Ok(buf.len()));
        }
        Pin::new(&mut self.socket).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        ready!(self.drain(cx))?;
        if let Some(first) = bufs.iter().find(|b| !b.is_empty())
            && self.replaced(first, cx)?
        {
            return Poll::Ready(Ok(bufs.iter().map(|b| b.len()).sum()));
        }
        Pin::new(&mut self.socket).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.socket.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        ready!(self.drain(cx))?;
        Pin::new(&mut self.socket).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        ready!(self.drain(cx))?;
        Pin::new(&mut self.socket).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::hypers_own_error;

    #[test]
    fn only_a_4xx_head_without_a_request_id_is_hypers() {
        let bare = b"HTTP/1.1 431 Request Header Fields Too Large\r\ncontent-length: 0\r\n\r\n";
        assert_eq!(hypers_own_error(bare), Some(431));
        assert_eq!(
            hypers_own_error(b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\n\r\n"),
            Some(400)
        );
        let ours = b"HTTP/1.1 404 Not Found\r\nX-Request-Id: 01\r\n\r\n";
        assert_eq!(hypers_own_error(ours), None);
        assert_eq!(hypers_own_error(b"HTTP/1.1 200 OK\r\n\r\n"), None);
        assert_eq!(hypers_own_error(b"HTTP/1.1 100 Continue\r\n\r\n"), None);
        // A head cut across writes is not judged.
        assert_eq!(hypers_own_error(b"HTTP/1.1 400 Bad Request\r\n"), None);
        assert_eq!(hypers_own_error(b"{\"success\":false}"), None);
    }
}
