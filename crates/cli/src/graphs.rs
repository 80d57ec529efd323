//! `-f svg` and `-f pprof`: at exit, each map keyed by `ustack` becomes
//! one flame graph (inferno) or one gzipped profile.proto. One such map
//! goes to the output (stdout or `-o FILE`); several need `-o FILE` and go
//! to `FILE` with the map's name before the extension (`prof.svg` ->
//! `prof.calls.svg`; `@` is `map`).

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use ustrace::output::{pprof, svg};
use ustrace::{MapInfo, Script, Tracer};

/// A picture format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Picture {
    /// An inferno flame graph.
    Svg,
    /// A gzipped pprof profile.
    Pprof,
}

impl Picture {
    /// The picture format named by `-f`, if it is one.
    pub fn from_format(format: &str) -> Option<Picture> {
        match format {
            "svg" => Some(Picture::Svg),
            "pprof" => Some(Picture::Pprof),
            _ => None,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Picture::Svg => "svg",
            Picture::Pprof => "pprof",
        }
    }
}

/// The stack-keyed maps of `script`, checked before anything is attached:
/// there must be one, and several need an output file to name theirs.
pub fn stack_maps(
    script: &Script,
    picture: Picture,
    output: Option<&Path>,
) -> Result<Vec<MapInfo>> {
    let maps: Vec<MapInfo> = script
        .maps()
        .into_iter()
        .filter(|m| m.stack_keyed)
        .collect();
    if maps.is_empty() {
        bail!(
            "-f {} draws maps keyed by ustack (e.g. @[ustack] = count()); this script has none",
            picture.name()
        );
    }
    if maps.len() > 1 && output.is_none() {
        let names: Vec<&str> = maps.iter().map(|m| m.name.as_str()).collect();
        bail!(
            "-f {} writes one file per map and {} maps have stack keys ({}): give -o FILE",
            picture.name(),
            maps.len(),
            names.join(", ")
        );
    }
    Ok(maps)
}

/// Writes one picture per map: the only one to `out`, several to files
/// named after `output`. `title` is the script (or its file name).
pub fn write(
    tracer: &Tracer,
    maps: &[MapInfo],
    picture: Picture,
    title: &str,
    out: &mut dyn Write,
    output: Option<&Path>,
) -> Result<()> {
    for map in maps {
        let samples = tracer.stack_samples(map);
        let sample_type = tracer.sample_type(map);
        let bytes = match picture {
            Picture::Svg => {
                let title = if maps.len() > 1 {
                    format!("{title} ({})", map.name)
                } else {
                    title.to_string()
                };
                match svg::flame_graph(&title, &sample_type.kind, &samples) {
                    Ok(svg) => svg,
                    Err(svg::FlameGraphError::Empty) => {
                        eprintln!("WARNING: map {} has no samples: no flame graph", map.name);
                        continue;
                    }
                    Err(e) => return Err(e).with_context(|| format!("map {}", map.name)),
                }
            }
            Picture::Pprof => pprof::encode(&samples, &sample_type, title, now_ns())
                .with_context(|| format!("encoding the profile of map {}", map.name))?,
        };
        match (maps.len(), output) {
            (1, _) | (_, None) => out.write_all(&bytes)?,
            (_, Some(path)) => {
                let file = per_map_path(path, &map.name);
                std::fs::write(&file, &bytes)
                    .with_context(|| format!("cannot write {}", file.display()))?;
                eprintln!("{}: {}", map.name, file.display());
            }
        }
    }
    Ok(())
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
        .map(|d| d.as_nanos() as i64)
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn per_map_paths() {
        assert_eq!(
            per_map_path(Path::new("/tmp/prof.svg"), "@calls"),
            Path::new("/tmp/prof.calls.svg")
        );
        assert_eq!(per_map_path(Path::new("p"), "@"), Path::new("p.map"));
    }
}
