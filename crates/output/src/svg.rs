//! `-f svg`: a stack-keyed map as an interactive flame graph, drawn by the
//! inferno crate from the map's folded stacks.

use crate::profile::{folded_lines, StackSample};

/// Why a flame graph could not be drawn.
#[derive(Debug, thiserror::Error)]
pub enum FlameGraphError {
    /// The map has no sample with a positive count.
    #[error("no samples to draw")]
    Empty,
    /// inferno refused the input.
    #[error("drawing the flame graph: {0}")]
    Draw(#[from] std::io::Error),
}

/// The SVG document of `samples`, titled `title` (the script), counting
/// `count_name` (e.g. `samples`).
pub fn flame_graph(
    title: &str,
    count_name: &str,
    samples: &[StackSample],
) -> Result<Vec<u8>, FlameGraphError> {
    let lines = folded_lines(samples);
    if lines.is_empty() {
        return Err(FlameGraphError::Empty);
    }
    let mut options = inferno::flamegraph::Options::default();
    options.title = title.to_string();
    options.count_name = count_name.to_string();
    let mut svg = Vec::new();
    inferno::flamegraph::from_lines(&mut options, lines.iter().map(String::as_str), &mut svg)?;
    Ok(svg)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::profile::Frame;

    #[test]
    fn draws_named_frames_and_escapes_the_title() {
        let samples = [StackSample {
            frames: vec![
                Frame {
                    function: Some("inner".into()),
                    ..Frame::default()
                },
                Frame {
                    function: Some("main".into()),
                    ..Frame::default()
                },
            ],
            labels: vec![],
            value: 7,
        }];
        let svg = flame_graph(
            "profile:hz:99 { @[ustack] = count(); } <&>",
            "samples",
            &samples,
        )
        .expect("draws");
        let text = String::from_utf8(svg).expect("UTF-8");
        assert!(text.starts_with("<?xml"), "{}", &text[..100]);
        assert!(text.contains("inner") && text.contains("main"));
        assert!(text.contains("&lt;&amp;&gt;"), "title escaped");
        assert!(matches!(
            flame_graph("t", "samples", &[]),
            Err(FlameGraphError::Empty)
        ));
    }
}
