//! `--metrics ADDR:PORT`: serves the script's maps at `GET /metrics` in
//! Prometheus's text format (OpenMetrics when the scraper asks for it),
//! read at scrape time through the library's [`MapReader`].
//!
//! The listener is bound before anything is attached, so a bad or busy
//! address fails first. Scrapes run on [`SCRAPE_WORKERS`] threads of
//! their own: at most that many read maps at once, and none of them
//! shares a lock with the tracing loop, so a slow or stuck scraper never
//! delays events. Every connection gets [`SOCKET_TIMEOUT`] for reads and
//! writes (set on the listener, whose accepted sockets inherit it on
//! Linux): tiny_http serves each connection on a thread of a pool that
//! can queue new connections behind stuck ones, and the timeout bounds
//! how long a stuck scraper can hold its thread.

use std::net::{SocketAddr, TcpListener, ToSocketAddrs};
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{anyhow, Result};
use ustrace::output::metrics::{self, Exposition, MetricMap};
use ustrace::{MapInfo, MapReader};

/// How many scrapes may read maps at the same time.
pub const SCRAPE_WORKERS: usize = 2;

/// How long a connection may wait for its scraper to send or to read.
pub const SOCKET_TIMEOUT: Duration = Duration::from_secs(5);

/// A bound, not yet serving, metrics endpoint.
pub struct Endpoint {
    server: Arc<tiny_http::Server>,
    addr: SocketAddr,
}

/// The endpoint while it serves; stops when dropped.
pub struct Serving {
    server: Arc<tiny_http::Server>,
    stop: Arc<AtomicBool>,
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
        set_timeouts(&listener, SOCKET_TIMEOUT)
            .map_err(|e| anyhow!("--metrics {addr}: cannot set socket timeouts: {e}"))?;
        let server = tiny_http::Server::from_listener(listener, None)
            .map_err(|e| anyhow!("--metrics {addr}: cannot serve on {parsed}: {e}"))?;
        Ok(Endpoint {
            server: Arc::new(server),
            addr: parsed,
        })
    }

    /// The address bound.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Starts answering scrapes with `maps` as `reader` reads them.
    pub fn serve(self, reader: MapReader, maps: Vec<MapInfo>) -> Serving {
        let maps = Arc::new(maps);
        let stop = Arc::new(AtomicBool::new(false));
        for _ in 0..SCRAPE_WORKERS {
            let server = Arc::clone(&self.server);
            let reader = reader.clone();
            let maps = Arc::clone(&maps);
            let stop = Arc::clone(&stop);
            std::thread::spawn(move || {
                while !stop.load(Ordering::SeqCst) {
                    // An error is a broken connection (or the wake-up at
                    // shutdown): go on with the next request.
                    if let Ok(request) = server.recv() {
                        answer(request, &reader, &maps);
                    }
                }
            });
        }
        Serving {
            server: self.server,
            stop,
        }
    }
}

impl Drop for Serving {
    /// Wakes the workers and lets them end; never waits for one (it may
    /// be writing to a scraper that stopped reading).
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        for _ in 0..SCRAPE_WORKERS {
            self.server.unblock();
        }
    }
}

/// Sets SO_RCVTIMEO and SO_SNDTIMEO on `listener`; Linux copies them to
/// every socket it accepts.
fn set_timeouts(listener: &TcpListener, timeout: Duration) -> std::io::Result<()> {
    let tv = libc::timeval {
        tv_sec: timeout.as_secs() as libc::time_t,
        tv_usec: libc::suseconds_t::from(timeout.subsec_micros()),
    };
    for option in [libc::SO_RCVTIMEO, libc::SO_SNDTIMEO] {
        // SAFETY: setsockopt reads one timeval of the size given.
        let r = unsafe {
            libc::setsockopt(
                listener.as_raw_fd(),
                libc::SOL_SOCKET,
                option,
                (&tv as *const libc::timeval).cast(),
                std::mem::size_of::<libc::timeval>() as libc::socklen_t,
            )
        };
        if r != 0 {
            return Err(std::io::Error::last_os_error());
        }
    }
    Ok(())
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

/// The body and content type of one scrape.
pub fn scrape(reader: &MapReader, maps: &[MapInfo], format: Exposition) -> String {
    let entries: Vec<_> = maps.iter().map(|m| reader.read(m)).collect();
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
    metrics::render(&metric_maps, format)
}

fn answer(request: tiny_http::Request, reader: &MapReader, maps: &[MapInfo]) {
    let path = request.url().split('?').next().unwrap_or("");
    let response = if path != "/metrics" {
        tiny_http::Response::from_string("not found: the metrics are at /metrics\n")
            .with_status_code(404)
    } else if !matches!(
        request.method(),
        tiny_http::Method::Get | tiny_http::Method::Head
    ) {
        tiny_http::Response::from_string("method not allowed: use GET\n").with_status_code(405)
    } else {
        let accept = request
            .headers()
            .iter()
            .find(|h| h.field.equiv("Accept"))
            .map(|h| h.value.as_str().to_string());
        let format = Exposition::negotiate(accept.as_deref());
        let body = scrape(reader, maps, format);
        let mut response = tiny_http::Response::from_string(body);
        if let Ok(h) = tiny_http::Header::from_bytes("Content-Type", format.content_type()) {
            response = response.with_header(h);
        }
        response
    };
    // A scraper that went away is not our error.
    let _ = request.respond(response);
}
