//! Marks as glyphs: one shape per kind, and marks that would share a few pixels
//! drawn as one glyph that says how many it stands for (`data-n`), stacked by
//! kind above the bars. However many marks a lane has, it draws at most one glyph
//! per kind per [`COLUMN`] pixels.

use std::collections::HashMap;

use super::model::{Mark, MarkKind};
use super::xml::{Scale, num, put, secs, tooltip};

/// Pixels per mark column: marks of one kind closer than this are drawn as one.
pub(super) const COLUMN: f64 = 8.0;
/// Pixels from one stacked mark to the next.
pub(super) const LEVEL: f64 = 10.0;
/// Descriptions a merged glyph's tooltip lists before "and N more".
const LISTED: usize = 4;

/// The CSS of the glyphs.
pub(super) const STYLE: &str = "\
.mark.expired{fill:#fff;stroke:#ff7f0e;stroke-width:1.8}\
.mark.takeover{fill:#9467bd}\
.mark.repair{fill:#2ca02c}\
.mark.rejected{fill:#d62728}\
.mark.crash{fill:none;stroke:#d62728;stroke-width:2}\
.mark.kill{fill:#222}\
.mark.stall{fill:#17becf}\
.mark.fenced{fill:#8c564b}\
.mark.gave-up{fill:#fff;stroke:#7f7f7f;stroke-width:1.5}\
.mark.signal{fill:none;stroke:#bcbd22;stroke-width:2}\
.mark.beat-failed{fill:#fff;stroke:#e377c2;stroke-width:1.5}\
.mark.output-failed{fill:#fff;stroke:#d62728;stroke-width:1.5}\
.mark.halt{fill:#000}\
.mark.fault{fill:none;stroke:#7f7f7f;stroke-width:1.8}\
.mark.invariant{fill:#d62728;stroke:#000;stroke-width:.8}\
.invariant-line{stroke:#d62728;stroke-width:1;stroke-dasharray:4 3}";

/// The path of `kind`'s glyph centred on (`cx`, `cy`), about 8 pixels across.
pub(super) fn path(kind: MarkKind, cx: f64, cy: f64) -> String {
    let at = |dx: f64, dy: f64| format!("M{},{}", num(cx + dx), num(cy + dy));
    let circle = |r: f64| {
        format!(
            "{}a{r},{r} 0 1,0 {},0a{r},{r} 0 1,0 -{},0",
            at(-r, 0.0),
            2.0 * r,
            2.0 * r
        )
    };
    match kind {
        MarkKind::Expired => circle(3.5),
        MarkKind::Takeover => format!("{}h8l-4,-7z", at(-4.0, 3.5)),
        MarkKind::Repair => format!("{}h7v7h-7z", at(-3.5, -3.5)),
        MarkKind::Rejected => format!("{}l4.5,4.5 -4.5,4.5 -4.5,-4.5z", at(0.0, -4.5)),
        MarkKind::Crash => format!("{}l7,7m0,-7l-7,7", at(-3.5, -3.5)),
        MarkKind::Kill => format!("{}h8l-4,7z", at(-4.0, -3.5)),
        MarkKind::Stall => format!(
            "{}h2.5v8h-2.5z{}h2.5v8h-2.5z",
            at(-3.5, -4.0),
            at(1.0, -4.0)
        ),
        MarkKind::Fenced => format!("{}h8v1.5h-8z{}h2.5v7h-2.5z", at(-4.0, 3.0), at(-1.25, -4.0)),
        MarkKind::GaveUp => format!("{}{}l5,-5", circle(3.5), at(-2.5, 2.5)),
        MarkKind::Signal => format!("{}h8{}v8", at(-4.0, 0.0), at(0.0, -4.0)),
        MarkKind::BeatFailed => format!("{}h7l-3.5,6z", at(-3.5, -3.0)),
        MarkKind::OutputFailed => format!("{}h7v7h-7z", at(-3.5, -3.5)),
        MarkKind::Halt => circle(4.0),
        MarkKind::Fault => format!("{}l-4,5h4l-4,4.5", at(2.0, -4.5)),
        MarkKind::Invariant => circle(4.5),
    }
}

/// Marks of one kind that fall in one column.
#[derive(Debug, Clone)]
pub(super) struct Bucket {
    /// Their kind.
    pub kind: MarkKind,
    /// Their column.
    pub column: usize,
    /// Where the first of them is, pixels.
    pub x: f64,
    /// How many.
    pub n: usize,
    /// The first few: time and text.
    listed: Vec<(f64, String)>,
    /// The earliest and latest times among them.
    first: f64,
    last: f64,
    /// How high it stacks (0: just above the bar).
    pub level: usize,
}

/// A row's marks, merged and stacked.
#[derive(Debug, Clone, Default)]
pub(super) struct Row {
    /// One glyph each, by column then kind.
    pub buckets: Vec<Bucket>,
    /// Stack levels used (at least 1).
    pub levels: usize,
}

/// Merges and stacks `marks` on `scale`, in O(marks).
pub(super) fn row(marks: &[Mark], scale: &Scale) -> Row {
    let mut index: HashMap<(usize, MarkKind), usize> = HashMap::new();
    let mut buckets: Vec<Bucket> = Vec::new();
    for m in marks {
        let x = scale.x(m.t);
        let column = ((x - scale.left) / COLUMN).max(0.0) as usize;
        let i = *index.entry((column, m.kind)).or_insert_with(|| {
            buckets.push(Bucket {
                kind: m.kind,
                column,
                x,
                n: 0,
                listed: Vec::new(),
                first: m.t,
                last: m.t,
                level: 0,
            });
            buckets.len() - 1
        });
        let b = &mut buckets[i];
        b.n += 1;
        b.first = b.first.min(m.t);
        b.last = b.last.max(m.t);
        if b.listed.len() < LISTED {
            b.listed.push((m.t, m.text.clone()));
        }
    }
    buckets.sort_by_key(|b| (b.column, b.kind));
    let mut levels = 1;
    let mut prev: Option<(usize, usize)> = None;
    for b in &mut buckets {
        b.level = match prev {
            Some((col, level)) if col == b.column => level + 1,
            _ => 0,
        };
        prev = Some((b.column, b.level));
        levels = levels.max(b.level + 1);
    }
    Row { buckets, levels }
}

/// Draws a row's glyphs; level 0 sits just above `base` (the top of the bars).
pub(super) fn draw(out: &mut String, row: &Row, base: f64) {
    for b in &row.buckets {
        let cy = base - LEVEL / 2.0 - b.level as f64 * LEVEL;
        put(
            out,
            format_args!(
                "<path class=\"mark {}\" data-n=\"{}\" d=\"{}\">{}</path>\n",
                b.kind.class(),
                b.n,
                path(b.kind, b.x, cy),
                tooltip(&b.lines())
            ),
        );
    }
}

impl Bucket {
    /// Its tooltip: each mark, or how many and the first few.
    fn lines(&self) -> Vec<String> {
        let listed = self
            .listed
            .iter()
            .map(|(t, s)| format!("{}: {s}", secs(*t)));
        if self.n == 1 {
            return listed.collect();
        }
        let mut lines = vec![format!(
            "{} \u{d7} {}, {} to {}",
            self.n,
            self.kind.label(),
            secs(self.first),
            secs(self.last)
        )];
        lines.extend(listed);
        if self.n > self.listed.len() {
            lines.push(format!("and {} more", self.n - self.listed.len()));
        }
        lines
    }
}
