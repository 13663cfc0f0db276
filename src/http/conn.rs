//! Connection hygiene: a cap on open connections, header/body/keep-alive read timeouts,
//! and an accept loop that backs off (and says so) when descriptors run out.
//!
//! poem 3.1 builds hyper's connection itself without a timer, so hyper's own
//! `header_read_timeout` never fires, and poem's accept loop retries a failed `accept`
//! at once (a busy spin on `EMFILE`). Both are fixed here, below poem: the acceptor
//! holds a permit per connection and the stream it hands out enforces the timeouts.

use poem::http::uri::Scheme;
use poem::listener::Acceptor;
use poem::web::{LocalAddr, RemoteAddr};
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::{Instant, Sleep};

/// How long a connection may keep the server waiting, and how many may be open.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// From accept (or the first byte of a keep-alive request) to the end of the
    /// request head. Fixed, not reset by trickled bytes: that is slowloris.
    pub header_read: Duration,
    /// Longest gap between two reads of a request body.
    pub body_idle: Duration,
    /// Longest wait for the next request on a kept-alive connection.
    pub keep_alive: Duration,
    /// Most connections open at once; further clients wait in the listen backlog.
    pub max_connections: usize,
}

/// The connection cap when none is configured: 4096, or less when the descriptor limit
/// would not leave room for the database, stored files and outbound requests.
pub fn default_max_connections() -> usize {
    let soft = rustix::process::getrlimit(rustix::process::Resource::Nofile)
        .current
        .unwrap_or(u64::MAX);
    let room = soft.saturating_sub(128).max(16);
    usize::try_from(room).unwrap_or(usize::MAX).min(4096)
}

/// Raise the soft descriptor limit to the hard one, as a server that holds one
/// descriptor per client should (many systems start processes at a soft 1024).
pub fn raise_fd_limit() {
    use rustix::process::{Resource, Rlimit, getrlimit, setrlimit};
    let lim = getrlimit(Resource::Nofile);
    if lim.current != lim.maximum {
        let _ = setrlimit(
            Resource::Nofile,
            Rlimit {
                current: lim.maximum,
                maximum: lim.maximum,
            },
        );
    }
}

/// A TCP acceptor with the connection cap and a backoff on descriptor exhaustion.
pub struct GuardedAcceptor {
    listener: TcpListener,
    local_addr: LocalAddr,
    permits: Arc<Semaphore>,
    limits: Limits,
    backoff: Backoff,
    cap_log: RateLog,
}

impl GuardedAcceptor {
    pub fn from_std(listener: std::net::TcpListener, limits: Limits) -> io::Result<Self> {
        listener.set_nonblocking(true)?;
        let local_addr = LocalAddr(listener.local_addr()?.into());
        Ok(Self {
            listener: TcpListener::from_std(listener)?,
            local_addr,
            permits: Arc::new(Semaphore::new(limits.max_connections.max(1))),
            limits,
            backoff: Backoff::default(),
            cap_log: RateLog::default(),
        })
    }
}

impl Acceptor for GuardedAcceptor {
    type Io = GuardedIo;

    fn local_addr(&self) -> Vec<LocalAddr> {
        vec![self.local_addr.clone()]
    }

    // Never returns an error: poem retries a failed accept immediately, so every wait
    // has to happen in here.
    async fn accept(&mut self) -> io::Result<(GuardedIo, LocalAddr, RemoteAddr, Scheme)> {
        let permit = match self.permits.clone().try_acquire_owned() {
            Ok(p) => p,
            Err(_) => {
                if let Some(skipped) = self.cap_log.tick() {
                    tracing::warn!(
                        max_connections = self.limits.max_connections,
                        times = skipped,
                        "connection cap reached; new clients wait in the listen backlog"
                    );
                }
                self.permits
                    .clone()
                    .acquire_owned()
                    .await
                    .map_err(io::Error::other)?
            }
        };
        loop {
            match self.listener.accept().await {
                Ok((stream, peer)) => {
                    self.backoff.reset();
                    let _ = stream.set_nodelay(true);
                    let io = GuardedIo::new(stream, permit, self.limits);
                    return Ok((
                        io,
                        self.local_addr.clone(),
                        RemoteAddr(peer.into()),
                        Scheme::HTTP,
                    ));
                }
                // The peer gave up between SYN and accept: take the next one.
                Err(e) if is_connection_error(&e) => continue,
                Err(e) => {
                    let wait = self.backoff.next();
                    if let Some(times) = self.backoff.log.tick() {
                        tracing::error!(
                            error = %e,
                            times,
                            retry_in_ms = wait.as_millis() as u64,
                            "cannot accept connections (out of file descriptors?); backing off"
                        );
                    }
                    tokio::time::sleep(wait).await;
                }
            }
        }
    }
}

fn is_connection_error(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::ConnectionRefused
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
    )
}

/// 100 ms doubling to 1 s while accept keeps failing.
#[derive(Default)]
struct Backoff {
    current: Option<Duration>,
    log: RateLog,
}

impl Backoff {
    const FIRST: Duration = Duration::from_millis(100);
    const MAX: Duration = Duration::from_secs(1);

    fn next(&mut self) -> Duration {
        let next = match self.current {
            None => Self::FIRST,
            Some(d) => (d * 2).min(Self::MAX),
        };
        self.current = Some(next);
        next
    }

    fn reset(&mut self) {
        self.current = None;
    }
}

/// One log line per interval, carrying how many events it stands for.
#[derive(Default)]
struct RateLog {
    last: Option<Instant>,
    count: u64,
}

impl RateLog {
    const EVERY: Duration = Duration::from_secs(5);

    /// Count an event; `Some(count)` when a line is due.
    fn tick(&mut self) -> Option<u64> {
        self.tick_at(Instant::now())
    }

    fn tick_at(&mut self, now: Instant) -> Option<u64> {
        self.count += 1;
        if self
            .last
            .is_none_or(|t| now.duration_since(t) >= Self::EVERY)
        {
            self.last = Some(now);
            return Some(std::mem::take(&mut self.count));
        }
        None
    }
}

/// Most bytes of a request head kept to find its body framing; a longer head is still
/// tracked, its body then treated as unknown length.
const HEAD_KEEP: usize = 16 * 1024;

/// Where the connection is in its request/response cycle, as seen from the bytes.
enum Phase {
    /// Reading a request head that must be complete by `deadline`.
    Head {
        deadline: Instant,
        buf: Vec<u8>,
        /// How much of `\r\n\r\n` the last bytes matched.
        matched: u8,
    },
    /// Reading a body: `remaining` bytes, or until the response starts when unknown
    /// (chunked or unparsed).
    Body {
        remaining: Option<u64>,
        last: Instant,
    },
    /// The request is read and the handler works: no read timeout (hyper still polls
    /// the socket to notice a client that leaves).
    Busy,
    /// A response was written; the next request must start within the keep-alive time.
    Idle { last: Instant },
    /// HTTP/2 (prior knowledge): frames interleave, so only an idle timeout applies.
    H2 { last: Instant },
}

/// A client connection: holds its slot under the cap and times out slow readers.
pub struct GuardedIo {
    inner: TcpStream,
    _permit: OwnedSemaphorePermit,
    limits: Limits,
    phase: Phase,
    timer: Pin<Box<Sleep>>,
    armed: Option<Instant>,
}

impl GuardedIo {
    fn new(inner: TcpStream, permit: OwnedSemaphorePermit, limits: Limits) -> Self {
        let now = Instant::now();
        let deadline = now + limits.header_read;
        Self {
            inner,
            _permit: permit,
            limits,
            phase: Phase::Head {
                deadline,
                buf: Vec::new(),
                matched: 0,
            },
            timer: Box::pin(tokio::time::sleep_until(deadline)),
            armed: Some(deadline),
        }
    }

    /// When a read that is still pending stops being acceptable.
    fn read_deadline(&self) -> Option<(Instant, &'static str)> {
        match &self.phase {
            Phase::Head { deadline, .. } => Some((*deadline, "request head not received in time")),
            Phase::Body { last, .. } => {
                Some((*last + self.limits.body_idle, "request body stalled"))
            }
            Phase::Busy => None,
            Phase::Idle { last } => Some((*last + self.limits.keep_alive, "keep-alive idle")),
            Phase::H2 { last } => Some((*last + self.limits.keep_alive, "http/2 idle")),
        }
    }

    /// Arm the timer for the current read deadline (registering this task's waker) and
    /// say why when it has passed. The timer wakes the task at the deadline; hyper then
    /// polls the read again and gets the error, which closes the connection.
    fn poll_deadline(&mut self, cx: &mut Context<'_>) -> Option<&'static str> {
        let (deadline, why) = self.read_deadline()?;
        if self.armed != Some(deadline) {
            self.timer.as_mut().reset(deadline);
            self.armed = Some(deadline);
        }
        self.timer.as_mut().poll(cx).is_ready().then_some(why)
    }

    fn on_read(&mut self, mut data: &[u8]) {
        let now = Instant::now();
        while !data.is_empty() {
            match &mut self.phase {
                Phase::Idle { .. } => {
                    self.phase = Phase::Head {
                        deadline: now + self.limits.header_read,
                        buf: Vec::new(),
                        matched: 0,
                    };
                }
                Phase::H2 { last } => {
                    *last = now;
                    return;
                }
                Phase::Busy => return,
                Phase::Body { remaining, last } => {
                    *last = now;
                    match remaining {
                        None => return,
                        Some(r) => {
                            let n = (data.len() as u64).min(*r);
                            *r -= n;
                            data = &data[n as usize..];
                            if *r == 0 {
                                self.phase = Phase::Busy;
                            }
                        }
                    }
                }
                Phase::Head { buf, matched, .. } => {
                    let mut end = None;
                    for (i, b) in data.iter().enumerate() {
                        *matched = match (*matched, b) {
                            (0 | 2, b'\r') => *matched + 1,
                            (1 | 3, b'\n') => *matched + 1,
                            (_, b'\r') => 1,
                            _ => 0,
                        };
                        if *matched == 4 {
                            end = Some(i + 1);
                            break;
                        }
                    }
                    let take = end.unwrap_or(data.len());
                    let room = HEAD_KEEP.saturating_sub(buf.len()).min(take);
                    let overflow = room < take;
                    buf.extend_from_slice(&data[..room]);
                    if buf.starts_with(b"PRI * HTTP/2.0") {
                        self.phase = Phase::H2 { last: now };
                        return;
                    }
                    let Some(end) = end else {
                        return;
                    };
                    let framing = if overflow {
                        Some(None)
                    } else {
                        body_framing(buf)
                    };
                    self.phase = match framing {
                        None | Some(Some(0)) => Phase::Busy,
                        Some(remaining) => Phase::Body {
                            remaining,
                            last: now,
                        },
                    };
                    data = &data[end..];
                }
            }
        }
    }

    fn on_write(&mut self, first: &[u8]) {
        // `100 Continue` is hyper inviting the body, not the response.
        if first.starts_with(b"HTTP/1.1 1") || first.starts_with(b"HTTP/1.0 1") {
            return;
        }
        let now = Instant::now();
        match &mut self.phase {
            Phase::H2 { last } | Phase::Idle { last } => *last = now,
            // A body of known length keeps its own timer even if the answer comes early.
            Phase::Body {
                remaining: Some(_),
                last,
            } => *last = now,
            _ => self.phase = Phase::Idle { last: now },
        }
    }
}

/// Body length declared by a request head: `None` for no body, `Some(None)` when the
/// length is only known from the stream (chunked), `Some(Some(n))` for Content-Length.
fn body_framing(head: &[u8]) -> Option<Option<u64>> {
    let mut length = None;
    for line in head.split(|b| *b == b'\n').skip(1) {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        let Some(colon) = line.iter().position(|b| *b == b':') else {
            continue;
        };
        let (name, value) = (&line[..colon], &line[colon + 1..]);
        if name.eq_ignore_ascii_case(b"transfer-encoding") {
            return Some(None);
        }
        if name.eq_ignore_ascii_case(b"content-length") {
            let v = std::str::from_utf8(value).ok()?.trim();
            // Unparseable: hyper refuses the request; time it like an unknown body.
            length = Some(v.parse::<u64>().ok());
        }
    }
    length
}

impl AsyncRead for GuardedIo {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = &mut *self;
        let before = buf.filled().len();
        match Pin::new(&mut this.inner).poll_read(cx, buf) {
            Poll::Ready(Ok(())) => {
                this.on_read(&buf.filled()[before..]);
                Poll::Ready(Ok(()))
            }
            Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
            Poll::Pending => match this.poll_deadline(cx) {
                Some(why) => {
                    tracing::debug!(reason = why, "closing slow connection");
                    Poll::Ready(Err(io::Error::new(io::ErrorKind::TimedOut, why)))
                }
                None => Poll::Pending,
            },
        }
    }
}

impl AsyncWrite for GuardedIo {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let res = Pin::new(&mut self.inner).poll_write(cx, buf);
        if let Poll::Ready(Ok(n)) = res
            && n > 0
        {
            self.on_write(buf);
            // hyper may not read again before the client speaks: start the clock now.
            let _ = self.poll_deadline(cx);
        }
        res
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let res = Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        if let Poll::Ready(Ok(n)) = res
            && n > 0
        {
            let first = bufs.iter().find(|b| !b.is_empty()).map(|b| &b[..]);
            self.on_write(first.unwrap_or_default());
            let _ = self.poll_deadline(cx);
        }
        res
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn body_framing_reads_length_and_chunked() {
        assert_eq!(body_framing(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"), None);
        assert_eq!(
            body_framing(b"POST / HTTP/1.1\r\ncontent-LENGTH: 12\r\n\r\n"),
            Some(Some(12))
        );
        assert_eq!(
            body_framing(b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"),
            Some(None)
        );
        assert_eq!(
            body_framing(b"POST / HTTP/1.1\r\nContent-Length: x\r\n\r\n"),
            Some(None)
        );
    }

    #[test]
    fn backoff_doubles_to_a_second() {
        let mut b = Backoff::default();
        let waits: Vec<u64> = (0..6).map(|_| b.next().as_millis() as u64).collect();
        assert_eq!(waits, [100, 200, 400, 800, 1000, 1000]);
        b.reset();
        assert_eq!(b.next(), Duration::from_millis(100));
    }

    #[test]
    fn rate_log_speaks_once_per_interval() {
        let mut log = RateLog::default();
        let t = Instant::now();
        assert_eq!(log.tick_at(t), Some(1));
        assert_eq!(log.tick_at(t + Duration::from_secs(1)), None);
        assert_eq!(log.tick_at(t + Duration::from_secs(4)), None);
        assert_eq!(log.tick_at(t + RateLog::EVERY), Some(3));
    }
}
