//! `-f svg` and `-f pprof`: which maps they draw, checked before anything
//! is attached. Drawing is the library's `PictureSink`.

use std::path::{Path, PathBuf};

use anyhow::{bail, Result};
use ustrace::sink::Picture;
use ustrace::Script;

/// Checks that `script` has a map keyed by `ustack` for `picture`, and
/// that several such maps have an output file to be named after. Returns
/// the per-map file pattern when there are several.
pub fn check(script: &Script, picture: Picture, output: Option<&Path>) -> Result<Option<PathBuf>> {
    let format = match picture {
        Picture::Svg => "svg",
        Picture::Pprof => "pprof",
    };
    let names: Vec<String> = script
        .maps()
        .into_iter()
        .filter(|m| m.stack_keyed)
        .map(|m| m.name)
        .collect();
    match (names.len(), output) {
        (0, _) => bail!(
            "-f {format} draws maps keyed by ustack (e.g. @[ustack] = count()); this script has none"
        ),
        (1, _) => Ok(None),
        (n, None) => bail!(
            "-f {format} writes one file per map and {n} maps have stack keys ({}): give -o FILE",
            names.join(", ")
        ),
        (_, Some(path)) => Ok(Some(path.to_path_buf())),
    }
}
