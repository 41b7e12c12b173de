//! The legend: the bars and lines every picture has, then only the marks that
//! appear in this one.

use super::glyph;
use super::lane::{self, Plan};
use super::model::{MarkKind, Timeline};
use super::xml::{esc, num, put, tooltip};

/// Draws the legend from `y`, wrapping at `width`; its height.
pub(super) fn draw(out: &mut String, tl: &Timeline, plans: &[Plan<'_>], y: f64, width: f64) -> f64 {
    let mut items: Vec<(String, &str)> = vec![
        (
            "<rect class=\"hold\" width=\"14\" height=\"10\"/>".into(),
            "holder (fence \u{b7} job on the bar)",
        ),
        (
            "<rect class=\"dead\" width=\"14\" height=\"10\"/>".into(),
            "killed holder, until taken over",
        ),
        (
            "<rect class=\"stale\" y=\"3\" width=\"14\" height=\"5\"/>".into(),
            "taken over while still running",
        ),
        (
            "<line class=\"wait\" x1=\"0\" y1=\"5\" x2=\"14\" y2=\"5\"/>".into(),
            "waiting for the lock",
        ),
    ];
    if plans.iter().any(Plan::banded) {
        items.push((
            "<rect class=\"band\" width=\"14\" height=\"10\"/>".into(),
            "how many waited at once",
        ));
    }
    if tl.lanes.iter().any(|l| l.holds.len() > lane::MAX_BARS) {
        items.push((
            "<rect class=\"hold many\" width=\"14\" height=\"10\"/>".into(),
            "many short holds in one pixel",
        ));
    }
    let mut present = [false; MarkKind::ALL.len()];
    for m in tl
        .marks
        .iter()
        .chain(tl.lanes.iter().flat_map(|l| l.marks.iter()))
    {
        if let Some(i) = MarkKind::ALL.iter().position(|k| *k == m.kind) {
            present[i] = true;
        }
    }
    for kind in MarkKind::ALL
        .iter()
        .zip(present)
        .filter(|(_, p)| *p)
        .map(|(k, _)| k)
    {
        let shape = format!(
            "<path class=\"mark {}\" d=\"{}\"/>",
            kind.class(),
            glyph::path(*kind, 7.0, 5.0)
        );
        items.push((shape, kind.label()));
    }
    out.push_str("<g class=\"legend\">\n");
    let (mut x, mut row) = (16.0, 0.0);
    for (shape, label) in items {
        let w = 14.0 + 6.0 + label.chars().count() as f64 * 5.8 + 18.0;
        if x + w > width - 8.0 && x > 16.0 {
            x = 16.0;
            row += 18.0;
        }
        let tip = tooltip(&[label.to_string()]);
        put(
            out,
            format_args!(
                "<g transform=\"translate({},{})\">{shape}<text x=\"20\" y=\"9\">{}</text>{tip}</g>\n",
                num(x),
                num(y + row),
                esc(label)
            ),
        );
        x += w;
    }
    out.push_str("</g>\n");
    row + 14.0
}
