//! Pictures of stack-keyed maps (`-f svg`, `-f pprof`): one inferno flame
//! graph or one gzipped pprof profile per map, drawn from
//! [`StackProfile`]s at the end of the trace. Everything else (the
//! `Attaching` line, printf text, lost events) goes to stderr, so that the
//! output holds the picture alone.

use std::io::{self, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use super::{attaching_line, Sink};
use crate::output::{pprof, svg};
use crate::{Record, StackProfile};

/// Which picture a [`PictureSink`] draws.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Picture {
    /// An interactive flame graph (SVG, inferno).
    Svg,
    /// A gzipped profile.proto (`go tool pprof`, Pyroscope, Parca).
    Pprof,
}

/// Writes one picture per stack-keyed map.
pub struct PictureSink<W: Write> {
    out: W,
    picture: Picture,
    title: String,
    per_map: Option<PathBuf>,
}

impl<W: Write> PictureSink<W> {
    /// A sink drawing `picture`s titled `title` (the script) to `out`; or,
    /// with `per_map` = `Some(FILE)`, each map to its own file named after
    /// FILE with the map's name before the extension (`prof.svg` + `@calls`
    /// -> `prof.calls.svg`; `@` is `map`).
    pub fn new(out: W, picture: Picture, title: &str, per_map: Option<PathBuf>) -> PictureSink<W> {
        PictureSink {
            out,
            picture,
            title: title.to_string(),
            per_map,
        }
    }

    fn draw(&self, profile: &StackProfile) -> io::Result<Option<Vec<u8>>> {
        match self.picture {
            Picture::Svg => {
                let title = match self.per_map {
                    Some(_) => format!("{} ({})", self.title, profile.map),
                    None => self.title.clone(),
                };
                match svg::flame_graph(&title, &profile.sample_type.kind, &profile.samples) {
                    Ok(svg) => Ok(Some(svg)),
                    Err(svg::FlameGraphError::Empty) => {
                        eprintln!(
                            "WARNING: map {} has no samples: no flame graph",
                            profile.map
                        );
                        Ok(None)
                    }
                    Err(svg::FlameGraphError::Draw(e)) => Err(e),
                }
            }
            Picture::Pprof => pprof::encode(
                &profile.samples,
                &profile.sample_type,
                &self.title,
                now_ns(),
            )
            .map(Some),
        }
    }
}

impl<W: Write> Sink for PictureSink<W> {
    fn begin(&mut self, attached_probes: usize) -> io::Result<()> {
        io::stderr().write_all(attaching_line(attached_probes).as_bytes())
    }

    fn record(&mut self, record: &Record) -> io::Result<()> {
        match record {
            Record::Printf { text, .. } => io::stderr().write_all(text.as_bytes()),
            // Pictures are drawn from the stack profiles at the end.
            Record::Map { .. } | Record::Exit { .. } => Ok(()),
            // errorf()/warnf(): standard error, as bpftrace prints them.
            Record::Message { text, .. } => io::stderr().write_all(text.as_bytes()),
        }
    }

    fn lost_events(&mut self, count: u64) -> io::Result<()> {
        eprintln!("Lost {count} events");
        Ok(())
    }

    fn text(&mut self, text: &str) -> io::Result<()> {
        io::stderr().write_all(text.as_bytes())
    }

    fn wants_profiles(&self) -> bool {
        true
    }

    fn profile(&mut self, profile: &StackProfile) -> io::Result<()> {
        let Some(bytes) = self.draw(profile)? else {
            return Ok(());
        };
        match &self.per_map {
            None => self.out.write_all(&bytes),
            Some(path) => {
                let file = per_map_path(path, &profile.map);
                // Never through a symlink (one planted by another user
                // would redirect root's write).
                std::fs::OpenOptions::new()
                    .write(true)
                    .create(true)
                    .truncate(true)
                    .mode(0o644)
                    .custom_flags(libc::O_NOFOLLOW)
                    .open(&file)
                    .and_then(|mut f| f.write_all(&bytes))
                    .map_err(|e| {
                        io::Error::new(e.kind(), format!("cannot write {}: {e}", file.display()))
                    })?;
                eprintln!("{}: {}", profile.map, file.display());
                Ok(())
            }
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }
}

/// `prof.svg` + `@calls` -> `prof.calls.svg`.
fn per_map_path(path: &Path, map: &str) -> PathBuf {
    let bare = map.trim_start_matches('@');
    let bare = if bare.is_empty() { "map" } else { bare };
    let stem = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let name = match path.extension() {
        Some(ext) => format!("{stem}.{bare}.{}", ext.to_string_lossy()),
        None => format!("{stem}.{bare}"),
    };
    path.with_file_name(name)
}

fn now_ns() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::output::profile::{Frame, SampleType, StackSample};

    #[test]
    fn per_map_paths() {
        assert_eq!(
            per_map_path(Path::new("/tmp/prof.svg"), "@calls"),
            Path::new("/tmp/prof.calls.svg")
        );
        assert_eq!(per_map_path(Path::new("p"), "@"), Path::new("p.map"));
    }

    #[test]
    fn one_map_goes_to_the_output() {
        let profile = StackProfile {
            map: "@".into(),
            samples: vec![StackSample {
                frames: vec![Frame {
                    function: Some("main".into()),
                    ..Frame::default()
                }],
                labels: vec![],
                value: 3,
            }],
            sample_type: SampleType::of_map("@", true),
        };
        let mut out = Vec::new();
        let mut sink = PictureSink::new(&mut out, Picture::Svg, "a script", None);
        sink.record(&Record::Exit { code: 0 }).expect("record");
        sink.profile(&profile).expect("draws");
        sink.flush().expect("flush");
        drop(sink);
        let text = String::from_utf8(out).expect("UTF-8");
        assert!(text.starts_with("<?xml") && text.contains("main"), "{text}");
    }
}
