//! Text and numbers made safe for the picture: store text is made printable
//! (control characters and bidi overrides shown, not obeyed), then escaped for XML.

use std::fmt::{self, Write};

use crate::sanitize::printable;

/// `s` as XML character data or attribute text: printable, `<&>"'` escaped, and
/// the two characters XML forbids even escaped (U+FFFE, U+FFFF) replaced.
pub(super) fn esc(s: &str) -> String {
    let p = printable(s);
    let mut out = String::with_capacity(p.len());
    for c in p.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\u{fffe}' | '\u{ffff}' => out.push('\u{fffd}'),
            c => out.push(c),
        }
    }
    out
}

/// Lines of raw text as one tooltip: each line escaped, joined by line breaks.
pub(super) fn tooltip(lines: &[String]) -> String {
    let escaped: Vec<String> = lines.iter().map(|l| esc(l)).collect();
    format!("<title>{}</title>", escaped.join("\n"))
}

/// `s` cut to `max` characters, with an ellipsis when cut.
pub(super) fn clip(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_string();
    }
    let mut out: String = s.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
}

/// Appends formatted text to the picture (writing to a `String` cannot fail).
pub(super) fn put(out: &mut String, args: fmt::Arguments<'_>) {
    let _ = out.write_fmt(args);
}

/// A coordinate with one decimal, never NaN or infinite.
pub(super) fn num(v: f64) -> String {
    if v.is_finite() {
        format!("{v:.1}")
    } else {
        "0".to_string()
    }
}

/// Scenario time to pixels along the plot.
#[derive(Debug, Clone, Copy)]
pub(super) struct Scale {
    /// Left edge of the plot, pixels.
    pub left: f64,
    /// Width of the plot, pixels.
    pub width: f64,
    /// Time at the left edge, seconds.
    pub start: f64,
    /// Seconds across the plot (never zero).
    pub span: f64,
}

impl Scale {
    /// The scale for times `start..end` over `width` pixels from `left`.
    pub fn new(left: f64, width: f64, start: f64, end: f64) -> Scale {
        let span = end - start;
        let span = if span.is_finite() && span > 0.0 {
            span
        } else {
            1.0
        };
        let start = if start.is_finite() { start } else { 0.0 };
        Scale {
            left,
            width,
            start,
            span,
        }
    }

    /// The x of time `t`, clamped to the plot.
    pub fn x(&self, t: f64) -> f64 {
        let f = (t - self.start) / self.span;
        let f = if f.is_finite() {
            f.clamp(0.0, 1.0)
        } else {
            0.0
        };
        self.left + f * self.width
    }

    /// The pixel column (0-based, in the plot) of time `t`.
    pub fn column(&self, t: f64) -> usize {
        let c = (self.x(t) - self.left).floor();
        (c.max(0.0) as usize).min(self.columns().saturating_sub(1))
    }

    /// Pixel columns across the plot.
    pub fn columns(&self) -> usize {
        self.width.max(1.0) as usize
    }
}

/// A time for tooltips: seconds with three decimals.
pub(super) fn secs(t: f64) -> String {
    format!("{t:.3}s")
}
