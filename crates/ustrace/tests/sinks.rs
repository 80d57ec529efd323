//! The text, JSON and folded sinks write exactly what the `ustrace`
//! command printed before the sinks existed (no kernel needed).

use ustrace::sink::{FoldedSink, JsonSink, Sink, TextSink};
use ustrace::{MapEntry, MapStyle, MapValue, Record, Value};

/// A printf, a stack-keyed count map, an exit, the end, the same map at
/// exit and two lost events, through `sink`.
fn drive(sink: &mut dyn Sink) -> std::io::Result<()> {
    let entries = vec![MapEntry {
        key: vec![Value::Str(b"\n    leaf+4\n    main+10\n".to_vec())],
        value: MapValue::Count(3),
    }];
    let map = Record::Map {
        name: "@s".to_string(),
        text: ustrace::output::render_map("@s", &entries),
        entries,
        style: MapStyle::Plain,
    };
    sink.begin(2)?;
    sink.record(&Record::Printf {
        text: "x=1\n".to_string(),
        format: "x=%d\n".to_string(),
        args: vec![Value::Int(1)],
        context: None,
    })?;
    sink.record(&map)?;
    sink.record(&Record::Exit { code: 0 })?;
    sink.flush()?;
    sink.trace_ended()?;
    sink.record(&map)?;
    sink.lost_events(2)?;
    sink.flush()
}

#[test]
fn text_is_bpftraces() {
    let mut out = Vec::new();
    drive(&mut TextSink::new(&mut out)).expect("writing to memory");
    let map = "@s[\n    leaf+4\n    main+10\n]: 3\n";
    assert_eq!(
        String::from_utf8_lossy(&out),
        format!("Attaching 2 probes...\nx=1\n{map}\n\n{map}Lost 2 events\n")
    );
}

#[test]
fn json_is_bpftraces_ndjson() {
    let mut out = Vec::new();
    drive(&mut JsonSink::new(&mut out)).expect("writing to memory");
    let text = String::from_utf8_lossy(&out);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(
        lines[0],
        r#"{"type": "attached_probes", "data": {"probes": 2}}"#
    );
    assert_eq!(lines[1], r#"{"type": "printf", "data": "x=1\n"}"#);
    assert!(
        lines[2].starts_with(r#"{"type": "map", "data": {"@s": {"#),
        "{text}"
    );
    assert_eq!(&lines[3..5], ["", ""], "{text}");
    assert_eq!(lines[5], lines[2]);
    assert_eq!(
        lines[6],
        r#"{"type": "lost_events", "data": {"events": 2}}"#
    );
}

#[test]
fn folded_output_holds_only_stacks_and_printf_text() {
    let mut out = Vec::new();
    drive(&mut FoldedSink::new(&mut out)).expect("writing to memory");
    // `Attaching 2 probes...` went to stderr.
    assert_eq!(
        String::from_utf8_lossy(&out),
        "x=1\nmain;leaf 3\nmain;leaf 3\nLost 2 events\n"
    );
}
