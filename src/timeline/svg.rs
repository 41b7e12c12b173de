//! The whole picture: a header, one lane per key (at most [`MAX_LANES`]), the
//! run's own marks, a time axis with a grid, and a legend of what appears.

use super::Options;
use super::glyph::{self, LEVEL};
use super::lane::{self, Plan};
use super::legend;
use super::model::{MarkKind, Timeline};
use super::xml::{Scale, esc, num, put};

/// Lanes drawn; a recording with more keys says how many were left out.
pub(super) const MAX_LANES: usize = 200;
const LEFT: f64 = 160.0;
const RIGHT: f64 = 24.0;
const HEADER: f64 = 48.0;

const STYLE: &str = "\
text{font-family:sans-serif;font-size:11px;fill:#222}\
.title{font-size:15px;font-weight:bold}\
.sub{fill:#666;font-size:10px}\
.key{font-size:12px;font-weight:bold}\
.hold{fill:#4c72b0}.hold.alt{fill:#7b9bd1}.hold.brief{fill:#1d3461}.hold.many{fill:#6384c0}\
.dead{fill:url(#jl-dead);stroke:#8fa3c8;stroke-width:.5}\
.stale{fill:url(#jl-stale)}\
.fence{fill:#fff;font-size:10px;pointer-events:none}\
.wait{stroke:#9a9a9a;stroke-width:1.5}\
.band{fill:#c9c9c9}\
.grid{stroke:#e6e6e6}.axis{stroke:#444}.lane-bg{fill:#f6f7f9}";

const DEFS: &str = "<defs>\
<pattern id=\"jl-dead\" width=\"6\" height=\"6\" patternUnits=\"userSpaceOnUse\" patternTransform=\"rotate(45)\"><rect width=\"6\" height=\"6\" fill=\"#e3e9f4\"/><line x1=\"0\" y1=\"0\" x2=\"0\" y2=\"6\" stroke=\"#8fa3c8\" stroke-width=\"2\"/></pattern>\
<pattern id=\"jl-stale\" width=\"5\" height=\"5\" patternUnits=\"userSpaceOnUse\" patternTransform=\"rotate(45)\"><rect width=\"5\" height=\"5\" fill=\"#f7dada\"/><line x1=\"0\" y1=\"0\" x2=\"0\" y2=\"5\" stroke=\"#d62728\" stroke-width=\"1.5\"/></pattern>\
</defs>\n";

/// The picture of `tl` as an SVG document.
pub(super) fn render(tl: &Timeline, options: &Options) -> String {
    let width = f64::from(options.width);
    let scale = Scale::new(LEFT, width - LEFT - RIGHT, tl.start, tl.end);
    let run_marks = glyph::row(&tl.marks, &scale);
    let plans: Vec<Plan<'_>> = tl
        .lanes
        .iter()
        .take(MAX_LANES)
        .map(|l| lane::plan(l, &scale))
        .collect();
    let lanes_top = HEADER
        + if tl.marks.is_empty() {
            0.0
        } else {
            run_marks.levels as f64 * LEVEL + 8.0
        };
    let lanes_height: f64 = plans.iter().map(|p| p.height).sum();
    let axis_y = lanes_top + lanes_height + 6.0;
    let mut body = String::new();
    let legend_height = legend::draw(&mut body, tl, &plans, axis_y + 34.0, width);
    let height = axis_y + 34.0 + legend_height + 10.0;

    let (w, h) = (num(width), num(height));
    let mut out = String::with_capacity(body.len() + 4096);
    put(
        &mut out,
        format_args!(
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"{h}\" viewBox=\"0 0 {w} {h}\" role=\"img\">\n"
        ),
    );
    let summary = format!("joblock timeline: {}", tl.counts());
    put(
        &mut out,
        format_args!(
            "<title>{}</title>\n<style>{STYLE}{}</style>\n{DEFS}",
            esc(&summary),
            glyph::STYLE
        ),
    );
    put(
        &mut out,
        format_args!("<rect width=\"{w}\" height=\"{h}\" fill=\"#fff\"/>\n"),
    );
    header(&mut out, tl);
    axis(&mut out, &scale, lanes_top - 4.0, axis_y);
    if !tl.marks.is_empty() {
        let base = lanes_top - 4.0;
        put(
            &mut out,
            format_args!(
                "<text class=\"key\" x=\"{}\" y=\"{}\" text-anchor=\"end\">run</text>\n",
                num(LEFT - 10.0),
                num(base - 2.0)
            ),
        );
        glyph::draw(&mut out, &run_marks, base);
        for b in run_marks
            .buckets
            .iter()
            .filter(|b| b.kind == MarkKind::Invariant)
        {
            let x = num(b.x);
            put(
                &mut out,
                format_args!(
                    "<line class=\"invariant-line\" x1=\"{x}\" y1=\"{}\" x2=\"{x}\" y2=\"{}\"/>\n",
                    num(base),
                    num(axis_y)
                ),
            );
        }
    }
    let mut top = lanes_top;
    for (i, p) in plans.iter().enumerate() {
        if i % 2 == 1 {
            put(
                &mut out,
                format_args!(
                    "<rect class=\"lane-bg\" x=\"0\" y=\"{}\" width=\"{w}\" height=\"{}\"/>\n",
                    num(top),
                    num(p.height)
                ),
            );
        }
        lane::draw(&mut out, p, top, &scale);
        top += p.height;
    }
    out.push_str(&body);
    out.push_str("</svg>\n");
    out
}

fn header(out: &mut String, tl: &Timeline) {
    let title = match &tl.title {
        Some(t) => format!("joblock timeline: {t}"),
        None => "joblock timeline".to_string(),
    };
    put(
        out,
        format_args!(
            "<text class=\"title\" x=\"16\" y=\"22\">{}</text>\n",
            esc(&title)
        ),
    );
    let mut sub = format!(
        "{}, {} events; scenario time {:.3}s to {:.3}s",
        tl.counts(),
        tl.events,
        tl.start,
        tl.end
    );
    if tl.lanes.len() > MAX_LANES {
        sub.push_str(&format!(
            "; the first {MAX_LANES} keys are drawn, {} more are not",
            tl.lanes.len() - MAX_LANES
        ));
    }
    put(
        out,
        format_args!(
            "<text class=\"sub\" x=\"16\" y=\"38\">{}</text>\n",
            esc(&sub)
        ),
    );
}

/// A step of 1, 2 or 5 times a power of ten giving about ten ticks over `span`.
pub(super) fn tick_step(span: f64) -> f64 {
    let raw = span / 10.0;
    let mag = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 5.0, 10.0]
        .into_iter()
        .map(|m| m * mag)
        .find(|s| *s >= raw);
    match step {
        Some(s) if s.is_finite() && s > 0.0 => s,
        _ => span.max(1.0),
    }
}

fn axis(out: &mut String, scale: &Scale, top: f64, y: f64) {
    let step = tick_step(scale.span);
    let decimals = if step >= 1.0 {
        0
    } else {
        (-step.log10()).ceil() as usize
    };
    let end = scale.start + scale.span;
    let mut t = (scale.start / step).ceil() * step;
    let (right, yv) = (num(scale.left + scale.width), num(y));
    put(
        out,
        format_args!(
            "<line class=\"axis\" x1=\"{}\" y1=\"{yv}\" x2=\"{right}\" y2=\"{yv}\"/>\n",
            num(scale.left)
        ),
    );
    for _ in 0..100 {
        if t > end + step * 1e-9 {
            break;
        }
        let x = num(scale.x(t));
        put(
            out,
            format_args!(
                "<line class=\"grid\" x1=\"{x}\" y1=\"{}\" x2=\"{x}\" y2=\"{yv}\"/>",
                num(top)
            ),
        );
        put(
            out,
            format_args!(
                "<line class=\"axis\" x1=\"{x}\" y1=\"{yv}\" x2=\"{x}\" y2=\"{}\"/>",
                num(y + 4.0)
            ),
        );
        put(
            out,
            format_args!(
                "<text x=\"{x}\" y=\"{}\" text-anchor=\"middle\">{t:.decimals$}s</text>\n",
                num(y + 15.0)
            ),
        );
        t += step;
    }
    put(
        out,
        format_args!(
            "<text class=\"sub\" x=\"{right}\" y=\"{}\" text-anchor=\"end\">scenario time</text>\n",
            num(y + 28.0)
        ),
    );
}
