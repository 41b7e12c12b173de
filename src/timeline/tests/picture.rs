//! Reading a recording, and the picture: formats, escaping, bounds, ticks.

use std::io::Cursor;

use super::{acquired, at, fold, queued, released};
use crate::events::{Event, How, Stamped};
use crate::timeline::*;

fn lines(events: &[Stamped]) -> String {
    let mut text = Vec::new();
    for e in events {
        let _ = e.write_json_line(&mut text);
    }
    String::from_utf8_lossy(&text).into_owned()
}

#[test]
fn reading_skips_a_recording_header_and_blank_lines() {
    let body = lines(&[acquired(1.0, 1, 1, How::Created, None)]);
    let text = format!("{{\"type\":\"recording\",\"format\":1}}\n\n{body}\n");
    let tl = read(Cursor::new(text), "e.jsonl");
    assert_eq!(tl.map(|t| t.holds()).ok(), Some(1));
}

#[test]
fn a_line_that_is_no_event_is_refused_with_its_number() {
    let good = lines(&[queued(0.0, 1)]);
    let text = format!("{good}{good}{{\"seq\":3,\"t\":1.0,\"type\":\"nonsense\"}}\n");
    let e = read(Cursor::new(text), "e.jsonl")
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(
        e.starts_with("e.jsonl: line 3: not an event: unknown variant `nonsense`"),
        "{e}"
    );
    assert!(!e.contains("expected one of"), "{e}");
    let header_later = format!("{good}{{\"type\":\"recording\"}}\n");
    let e = read(Cursor::new(header_later), "e.jsonl")
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(e.contains("line 2"), "{e}");
}

#[test]
fn an_empty_recording_is_refused() {
    for text in ["", "\n\n", "{\"type\":\"recording\",\"format\":1}\n"] {
        let e = read(Cursor::new(text), "e.jsonl").err();
        assert!(
            matches!(e, Some(TimelineError::Empty { .. })),
            "{text:?}: {e:?}"
        );
    }
}

#[test]
fn formats_follow_the_extension() {
    let f = |p: &str| Format::for_path(std::path::Path::new(p)).map_err(|e| e.to_string());
    assert_eq!(f("a/run.svg"), Ok(Format::Svg));
    assert_eq!(f("run.HTML"), Ok(Format::Html));
    assert!(f("run.png").is_err_and(|e| e.contains(".png")));
    assert!(f("run").is_err_and(|e| e.contains("(no extension)")));
}

fn parses(svg: &str) -> Result<(), String> {
    roxmltree::Document::parse(svg)
        .map(|_| ())
        .map_err(|e| e.to_string())
}

#[test]
fn names_full_of_markup_and_control_characters_are_escaped() {
    let evil = "<b>&\"x'\u{1b}]2;t\u{7}\u{ffff}";
    let mut ev = acquired(1.0, 1, 1, How::Created, None);
    if let Event::Acquired { client, .. } = &mut ev.event {
        *client = evil.into();
    }
    let tl = fold(&[
        ev,
        at(
            2.0,
            Event::Crashed {
                job: 1,
                client: evil.into(),
                reason: evil.into(),
            },
        ),
    ]);
    for format in [Format::Svg, Format::Html] {
        let picture = render(&tl, format, &Options::default());
        assert!(
            !picture.contains("<b>") && !picture.contains('\u{1b}'),
            "{picture}"
        );
    }
    let svg = render(&tl, Format::Svg, &Options::default());
    assert_eq!(parses(&svg), Ok(()));
    assert!(
        svg.contains("data-key=\"&lt;b&gt;&amp;&quot;x&apos;\\e]2;t\\x07\u{fffd}\""),
        "{svg}"
    );
}

#[test]
fn a_huge_recording_draws_a_bounded_picture() {
    let mut events = Vec::new();
    let n = 20_000;
    for job in 1..=n {
        events.push(queued(0.0, job));
    }
    for job in 1..=n {
        let t = f64::from(job) * 0.01;
        events.push(acquired(t, job, u64::from(job), How::Handoff, None));
        events.push(released(t, job, u64::from(job)));
        events.push(at(
            t,
            Event::Crashed {
                job,
                client: "c".into(),
                reason: "crash draw".into(),
            },
        ));
    }
    let tl = fold(&events);
    assert_eq!((tl.holds(), tl.mark_count()), (n as usize, n as usize));
    let svg = render(&tl, Format::Svg, &Options::default());
    assert_eq!(parses(&svg), Ok(()));
    assert!(svg.len() < 1_000_000, "{} bytes", svg.len());
    assert!(svg.contains("class=\"hold many\"") && svg.contains("class=\"band\""));
    assert!(svg.contains(&format!(
        "{} of {n} waits drawn, evenly picked (+{} more)",
        lane::MAX_WAIT_LINES,
        n as usize - lane::MAX_WAIT_LINES
    )));
    // Every hold and mark is still counted once (the legend's swatches are not in a lane).
    let doc = roxmltree::Document::parse(&svg).ok();
    let sum = |class: &str| -> usize {
        doc.iter()
            .flat_map(|d| d.descendants())
            .filter(|e| e.attribute("class") == Some("lane"))
            .flat_map(|lane| lane.descendants())
            .filter(|e| {
                e.attribute("class")
                    .is_some_and(|c| c.split(' ').next() == Some(class))
            })
            .map(|e| {
                e.attribute("data-n")
                    .and_then(|n| n.parse().ok())
                    .unwrap_or(1)
            })
            .sum()
    };
    assert_eq!(sum("hold"), n as usize);
    assert_eq!(sum("mark"), n as usize);
}

#[test]
fn ticks_are_round_numbers() {
    assert_eq!(svg::tick_step(128.0), 20.0);
    assert_eq!(svg::tick_step(69.2), 10.0);
    assert!((svg::tick_step(1.0) - 0.1).abs() < 1e-12);
    assert_eq!(svg::tick_step(0.0), 1.0);
}
