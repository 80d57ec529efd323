//! `--metrics ADDR:PORT`: serves the script's maps at `GET /metrics` in
//! Prometheus's text format (OpenMetrics when the scraper asks for it),
//! read at scrape time through the library's [`MapReader`].
//!
//! A deliberately small HTTP/1.x server (requests parsed by `httparse`,
//! one response per connection, then close):
//!
//! - the listener is bound before anything is attached, so a bad or busy
//!   address fails first;
//! - one thread accepts; every connection gets [`REQUEST_TIMEOUT`] to send
//!   its request and [`SOCKET_TIMEOUT`] for each write, and waits in a queue of [`QUEUE`] for one of
//!   [`CONNECTION_WORKERS`] threads; when the queue is full it is closed
//!   at once;
//! - at most [`SCRAPE_WORKERS`] scrapes read maps at the same time;
//! - none of these threads shares a lock with the tracing loop, so a slow
//!   or stuck scraper never delays events, and holds a worker for at most
//!   the timeout.
//!
//! (tiny_http was tried first: it has no socket timeouts, and its
//! connection pool can queue a new connection behind busy ones, so five
//! scrapers that connect and send nothing stopped all further scrapes.)

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream, ToSocketAddrs};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender, TrySendError};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use anyhow::{anyhow, Result};
use ustrace::output::metrics::{self, Exposition, MetricMap};
use ustrace::{MapInfo, MapReader};

/// How many scrapes may read maps at the same time.
pub const SCRAPE_WORKERS: usize = 2;

/// How many connections are served at the same time.
pub const CONNECTION_WORKERS: usize = 4;

/// How many accepted connections may wait for a worker.
pub const QUEUE: usize = 16;

/// How long a connection may take to send its request (scrapers send it
/// at once).
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(2);

/// How long a write may wait for the scraper to read.
pub const SOCKET_TIMEOUT: Duration = Duration::from_secs(5);

/// The largest request head read (request line and headers).
const MAX_HEAD: usize = 16 * 1024;

/// A bound, not yet serving, metrics endpoint.
pub struct Endpoint {
    listener: TcpListener,
    addr: SocketAddr,
}

/// The endpoint while it serves; stops accepting when dropped.
pub struct Serving {
    stop: Arc<AtomicBool>,
    addr: SocketAddr,
}

impl Endpoint {
    /// Parses `addr` (`IP:PORT`, `[IPv6]:PORT` or `HOST:PORT`) and binds
    /// it. The error is one line naming the address.
    pub fn bind(addr: &str) -> Result<Endpoint> {
        let parsed = match addr.parse::<SocketAddr>() {
            Ok(a) => a,
            Err(_) => addr
                .to_socket_addrs()
                .ok()
                .and_then(|mut a| a.next())
                .ok_or_else(|| {
                    anyhow!(
                        "--metrics {addr}: not an address to listen on (use ADDR:PORT, e.g. 127.0.0.1:9464)"
                    )
                })?,
        };
        let listener = TcpListener::bind(parsed)
            .map_err(|e| anyhow!("--metrics {addr}: cannot listen on {parsed}: {e}"))?;
        let addr = listener.local_addr().unwrap_or(parsed);
        Ok(Endpoint { listener, addr })
    }

    /// The address bound.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Starts answering scrapes with `maps` as `reader` reads them.
    pub fn serve(self, reader: MapReader, maps: Vec<MapInfo>) -> Serving {
        let stop = Arc::new(AtomicBool::new(false));
        let (queue, waiting) = sync_channel::<TcpStream>(QUEUE);
        let waiting = Arc::new(Mutex::new(waiting));
        let shared = Arc::new(Shared {
            reader,
            maps,
            scrapes: Permits::new(SCRAPE_WORKERS),
        });
        for _ in 0..CONNECTION_WORKERS {
            let waiting = Arc::clone(&waiting);
            let shared = Arc::clone(&shared);
            std::thread::spawn(move || work(&waiting, &shared));
        }
        let accept_stop = Arc::clone(&stop);
        let listener = self.listener;
        std::thread::spawn(move || accept(&listener, &queue, &accept_stop));
        Serving {
            stop,
            addr: self.addr,
        }
    }
}

impl Drop for Serving {
    /// Stops accepting (the accept thread is woken by a connection of our
    /// own); workers end when the queue is empty. Nothing is waited for.
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let mut wake = self.addr;
        if wake.ip().is_unspecified() {
            wake.set_ip(match wake {
                SocketAddr::V4(_) => std::net::Ipv4Addr::LOCALHOST.into(),
                SocketAddr::V6(_) => std::net::Ipv6Addr::LOCALHOST.into(),
            });
        }
        let _ = TcpStream::connect_timeout(&wake, Duration::from_millis(200));
    }
}

/// What the workers share.
struct Shared {
    reader: MapReader,
    maps: Vec<MapInfo>,
    scrapes: Permits,
}

fn accept(listener: &TcpListener, queue: &SyncSender<TcpStream>, stop: &AtomicBool) {
    for stream in listener.incoming() {
        if stop.load(Ordering::SeqCst) {
            return;
        }
        let Ok(stream) = stream else { continue };
        if stream.set_read_timeout(Some(REQUEST_TIMEOUT)).is_err()
            || stream.set_write_timeout(Some(SOCKET_TIMEOUT)).is_err()
        {
            continue;
        }
        match queue.try_send(stream) {
            Ok(()) => {}
            // Too many waiting: this one is closed unanswered.
            Err(TrySendError::Full(_)) => {}
            Err(TrySendError::Disconnected(_)) => return,
        }
    }
}

fn work(waiting: &Mutex<Receiver<TcpStream>>, shared: &Shared) {
    loop {
        let next = {
            // A worker that panicked cannot leave the receiver broken.
            let rx = waiting.lock().unwrap_or_else(|e| e.into_inner());
            rx.recv()
        };
        match next {
            Ok(stream) => answer(stream, shared),
            Err(_) => return,
        }
    }
}

/// A counting semaphore: at most `n` holders at once.
struct Permits {
    free: Mutex<usize>,
    freed: Condvar,
}

impl Permits {
    fn new(n: usize) -> Permits {
        Permits {
            free: Mutex::new(n),
            freed: Condvar::new(),
        }
    }

    fn run<T>(&self, f: impl FnOnce() -> T) -> T {
        {
            let mut free = self.free.lock().unwrap_or_else(|e| e.into_inner());
            while *free == 0 {
                free = self.freed.wait(free).unwrap_or_else(|e| e.into_inner());
            }
            *free -= 1;
        }
        let out = f();
        *self.free.lock().unwrap_or_else(|e| e.into_inner()) += 1;
        self.freed.notify_one();
        out
    }
}

/// The maps that can be metrics, and one warning line for each left out.
pub fn exposable(maps: Vec<MapInfo>) -> (Vec<MapInfo>, Vec<String>) {
    let decls: Vec<(&str, _)> = maps.iter().map(|m| (m.name.as_str(), m.metric)).collect();
    let bad = metrics::unexposable(&decls);
    let warnings = bad.iter().map(|(_, w)| w.clone()).collect();
    let kept = maps
        .into_iter()
        .enumerate()
        .filter(|(i, _)| !bad.iter().any(|(b, _)| b == i))
        .map(|(_, m)| m)
        .collect();
    (kept, warnings)
}

/// The body of one scrape; an error when a map's bytes do not decode.
pub fn scrape(
    reader: &MapReader,
    maps: &[MapInfo],
    format: Exposition,
) -> Result<String, ustrace::Error> {
    let entries = maps
        .iter()
        .map(|m| reader.read(m))
        .collect::<Result<Vec<_>, _>>()?;
    let metric_maps: Vec<MetricMap<'_>> = maps
        .iter()
        .zip(&entries)
        .filter_map(|(m, e)| {
            Some(MetricMap {
                name: &m.name,
                help: &m.help,
                metric: m.metric?,
                entries: e,
            })
        })
        .collect();
    Ok(metrics::render(&metric_maps, format))
}

/// A parsed request head: method, path (without the query) and `Accept`.
struct Head {
    method: String,
    path: String,
    accept: Option<String>,
}

/// Reads and parses the request head; `None` for a connection that sent
/// nothing parseable in time.
fn read_head(stream: &mut TcpStream) -> Option<Result<Head, ()>> {
    let mut buf = Vec::with_capacity(1024);
    let mut chunk = [0u8; 1024];
    loop {
        let n = stream.read(&mut chunk).ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
        let mut headers = [httparse::EMPTY_HEADER; 64];
        let mut req = httparse::Request::new(&mut headers);
        match req.parse(&buf) {
            Ok(httparse::Status::Complete(_)) => {
                let accept = req
                    .headers
                    .iter()
                    .find(|h| h.name.eq_ignore_ascii_case("accept"))
                    .map(|h| String::from_utf8_lossy(h.value).into_owned());
                let path = req.path.unwrap_or("");
                return Some(Ok(Head {
                    method: req.method.unwrap_or("").to_string(),
                    path: path.split('?').next().unwrap_or("").to_string(),
                    accept,
                }));
            }
            Ok(httparse::Status::Partial) if buf.len() < MAX_HEAD => {}
            _ => return Some(Err(())),
        }
    }
}

fn answer(mut stream: TcpStream, shared: &Shared) {
    let Some(head) = read_head(&mut stream) else {
        return;
    };
    let (status, content_type, body, head_only) = match head {
        Err(()) => (
            "400 Bad Request",
            "text/plain",
            "bad request\n".to_string(),
            false,
        ),
        Ok(h) if h.path != "/metrics" => (
            "404 Not Found",
            "text/plain",
            "not found: the metrics are at /metrics\n".to_string(),
            h.method == "HEAD",
        ),
        Ok(h) if h.method != "GET" && h.method != "HEAD" => (
            "405 Method Not Allowed",
            "text/plain",
            "method not allowed: use GET\n".to_string(),
            false,
        ),
        Ok(h) => {
            let format = Exposition::negotiate(h.accept.as_deref());
            let body = shared
                .scrapes
                .run(|| scrape(&shared.reader, &shared.maps, format));
            match body {
                Ok(body) => ("200 OK", format.content_type(), body, h.method == "HEAD"),
                Err(e) => (
                    "500 Internal Server Error",
                    "text/plain",
                    format!("cannot read the maps: {e}\n"),
                    h.method == "HEAD",
                ),
            }
        }
    };
    let mut response = format!(
        "HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    )
    .into_bytes();
    if !head_only {
        response.extend_from_slice(body.as_bytes());
    }
    // A scraper that went away or stopped reading is not our error.
    let _ = stream.write_all(&response);
    let _ = stream.shutdown(std::net::Shutdown::Write);
}
