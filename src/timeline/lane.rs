//! One lock key's lane: its marks above, the holders' bars, stale tails under
//! them, and the waiters' lines (all, or [`MAX_WAIT_LINES`] picked evenly and a band of how
//! many waited at once). A lane with more than [`MAX_BARS`] holds draws the ones
//! narrower than two pixels as one bar per pixel column, saying how many.

use std::collections::BTreeMap;

use super::fold::job_name;
use super::glyph::{self, LEVEL, Row};
use super::model::{Hold, Lane, Tail, Wait};
use super::tips::{hold_lines, wait_lines};
use super::xml::{Scale, clip, esc, num, put, secs, tooltip};

/// Waiting lines drawn per lane before the band takes over.
pub(super) const MAX_WAIT_LINES: usize = 32;
/// Holds per lane drawn one by one however narrow.
pub(super) const MAX_BARS: usize = 2000;
const BAR: f64 = 16.0;
const STALE: f64 = 7.0;
const PITCH: f64 = 3.0;
const BAND: f64 = 18.0;

/// A lane laid out: its marks merged and what it draws below the bars.
pub(super) struct Plan<'a> {
    lane: &'a Lane,
    marks: Row,
    stale: bool,
    lines: usize,
    /// Height in pixels.
    pub height: f64,
}

impl Plan<'_> {
    fn bar_top(&self) -> f64 {
        4.0 + self.marks.levels as f64 * LEVEL + 2.0
    }

    fn wait_top(&self) -> f64 {
        self.bar_top() + BAR + if self.stale { STALE } else { 0.0 } + 4.0
    }

    /// Whether it draws the waiters' band.
    pub fn banded(&self) -> bool {
        self.lane.waits.len() > self.lines
    }
}

/// Lays a lane out on `scale`.
pub(super) fn plan<'a>(lane: &'a Lane, scale: &Scale) -> Plan<'a> {
    let marks = glyph::row(&lane.marks, scale);
    let stale = lane
        .holds
        .iter()
        .any(|h| matches!(h.tail, Some(Tail::Stale(_))));
    let lines = lane.waits.len().min(MAX_WAIT_LINES);
    let mut p = Plan {
        lane,
        marks,
        stale,
        lines,
        height: 0.0,
    };
    let mut bottom = p.wait_top() + lines as f64 * PITCH;
    if p.banded() {
        bottom += 16.0 + BAND;
    }
    p.height = (bottom + 8.0).max(p.bar_top() + 34.0);
    p
}

/// Draws a planned lane whose top is at `top`.
pub(super) fn draw(out: &mut String, p: &Plan<'_>, top: f64, scale: &Scale) {
    let lane = p.lane;
    let bar = top + p.bar_top();
    put(
        out,
        format_args!("<g class=\"lane\" data-key=\"{}\">\n", esc(&lane.key)),
    );
    let (lx, key) = (num(scale.left - 10.0), esc(&clip(&lane.key, 20)));
    put(
        out,
        format_args!(
            "<text class=\"key\" x=\"{lx}\" y=\"{}\" text-anchor=\"end\">{key}<title>{}</title></text>\n",
            num(bar + 12.0),
            esc(&lane.key)
        ),
    );
    let sub = format!("{} holds, {} waits", lane.holds.len(), lane.waits.len());
    put(
        out,
        format_args!(
            "<text class=\"sub\" x=\"{lx}\" y=\"{}\" text-anchor=\"end\">{sub}</text>\n",
            num(bar + 25.0)
        ),
    );
    glyph::draw(out, &p.marks, bar);
    holds(out, lane, bar, scale);
    let wait_top = top + p.wait_top();
    // Every waiter, or an even sample across the run (the first few of a crowd
    // all end at once), stacked like stairs: by start, then by end.
    let n = lane.waits.len();
    let mut shown: Vec<&Wait> = (0..p.lines)
        .filter_map(|i| lane.waits.get(i * n / p.lines.max(1)))
        .collect();
    shown.sort_by(|a, b| a.start.total_cmp(&b.start).then(a.end.total_cmp(&b.end)));
    for (i, w) in shown.into_iter().enumerate() {
        let y = num(wait_top + i as f64 * PITCH + 1.0);
        let (x1, x2) = (scale.x(w.start), scale.x(w.end));
        put(
            out,
            format_args!(
                "<line class=\"wait\" x1=\"{}\" y1=\"{y}\" x2=\"{}\" y2=\"{y}\">{}</line>\n",
                num(x1),
                num(x2.max(x1 + 1.0)),
                tooltip(&wait_lines(w))
            ),
        );
    }
    if p.banded() {
        let y = wait_top + p.lines as f64 * PITCH;
        band(out, &lane.waits, p.lines, y, scale);
    }
    out.push_str("</g>\n");
}

fn holds(out: &mut String, lane: &Lane, bar: f64, scale: &Scale) {
    let many = lane.holds.len() > MAX_BARS;
    let mut clusters: BTreeMap<usize, (usize, &Hold, &Hold)> = BTreeMap::new();
    for (i, h) in lane.holds.iter().enumerate() {
        let (x0, x1) = (scale.x(h.start), scale.x(h.end));
        let tail = h.tail.map(|t| match t {
            Tail::Dead(u) | Tail::Stale(u) => scale.x(u) - x1,
        });
        if many && x1 - x0 < 2.0 && tail.is_none_or(|w| w < 1.0) {
            let c = clusters.entry(scale.column(h.start)).or_insert((0, h, h));
            c.0 += 1;
            c.2 = h;
            continue;
        }
        let w = (x1 - x0).max(1.5);
        // A hold too short to see stands out of the bar, darker.
        let (class, y, height) = match (x1 - x0 < 2.0, i % 2 == 1) {
            (true, _) => ("hold brief", bar - 2.0, BAR + 4.0),
            (false, true) => ("hold alt", bar, BAR),
            (false, false) => ("hold", bar, BAR),
        };
        put(
            out,
            format_args!(
                "<rect class=\"{class}\" x=\"{}\" y=\"{}\" width=\"{}\" height=\"{height}\">{}</rect>\n",
                num(x0),
                num(y),
                num(w),
                tooltip(&hold_lines(h))
            ),
        );
        let long = format!("f{} \u{b7} j{}", h.fence, h.job);
        let short = h.fence.to_string();
        let label = [long, short]
            .into_iter()
            .find(|s| w >= s.chars().count() as f64 * 6.0 + 6.0);
        if let Some(label) = label {
            put(
                out,
                format_args!(
                    "<text class=\"fence\" x=\"{}\" y=\"{}\" text-anchor=\"middle\">{label}</text>\n",
                    num(x0 + w / 2.0),
                    num(bar + 11.5)
                ),
            );
        }
        if let (Some(t), Some(tw)) = (h.tail, tail) {
            let (class, y, height) = match t {
                Tail::Dead(_) => ("dead", bar, BAR),
                Tail::Stale(_) => ("stale", bar + BAR + 1.0, STALE - 1.0),
            };
            put(
                out,
                format_args!(
                    "<rect class=\"{class}\" x=\"{}\" y=\"{}\" width=\"{}\" height=\"{height}\">{}</rect>\n",
                    num(x1),
                    num(y),
                    num(tw.max(1.0)),
                    tooltip(&hold_lines(h))
                ),
            );
        }
    }
    for (n, first, last) in clusters.into_values() {
        let (x0, x1) = (scale.x(first.start), scale.x(last.end));
        let lines = vec![
            format!("{n} holds, {} to {}", secs(first.start), secs(last.end)),
            format!(
                "from {} (fence {}) to {} (fence {})",
                job_name(first.job),
                first.fence,
                job_name(last.job),
                last.fence
            ),
        ];
        put(
            out,
            format_args!(
                "<rect class=\"hold many\" data-n=\"{n}\" x=\"{}\" y=\"{}\" width=\"{}\" height=\"{BAR}\">{}</rect>\n",
                num(x0),
                num(bar),
                num((x1 - x0).max(1.0)),
                tooltip(&lines)
            ),
        );
    }
}

/// How many waited at once, as a band at `y`: one difference array over the
/// pixel columns, so O(waits + width).
fn band(out: &mut String, waits: &[Wait], shown: usize, y: f64, scale: &Scale) {
    let cols = scale.columns();
    let mut diff = vec![0i64; cols + 1];
    for w in waits {
        let (a, b) = (scale.column(w.start), scale.column(w.end.max(w.start)));
        diff[a] += 1;
        diff[b + 1] -= 1;
    }
    let mut count = Vec::with_capacity(cols);
    let mut running = 0i64;
    for d in &diff[..cols] {
        running += d;
        count.push(running);
    }
    let peak = count.iter().copied().max().unwrap_or(0).max(1);
    let more = waits.len() - shown;
    put(
        out,
        format_args!(
            "<text class=\"sub\" x=\"{}\" y=\"{}\">{shown} of {} waits drawn, evenly picked (+{more} more); the band shows how many waited at once (peak {peak})</text>\n",
            num(scale.left),
            num(y + 10.0),
            waits.len()
        ),
    );
    let bottom = y + 14.0 + BAND;
    let mut d = format!("M{},{}", num(scale.left), num(bottom));
    let mut last = None;
    for (c, &n) in count.iter().enumerate() {
        if last != Some(n) {
            let h = BAND * n as f64 / peak as f64;
            put(
                &mut d,
                format_args!("H{}V{}", num(scale.left + c as f64), num(bottom - h)),
            );
            last = Some(n);
        }
    }
    put(
        &mut d,
        format_args!("H{}V{}Z", num(scale.left + cols as f64), num(bottom)),
    );
    let tip = tooltip(&[format!(
        "{} waits in all; at most {peak} at once",
        waits.len()
    )]);
    put(
        out,
        format_args!("<path class=\"band\" d=\"{d}\">{tip}</path>\n"),
    );
}
