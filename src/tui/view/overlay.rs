//! Overlays: help (from the key table), a job's detail, and the end-of-run summary.

use crate::sanitize::printable;
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Clear, Paragraph, Wrap};

use super::{centered, secs};
use crate::events::JobId;
use crate::tui::app::App;
use crate::tui::keys::BINDINGS;

fn boxed(frame: &mut Frame, area: Rect, title: &str, lines: Vec<Line>, app: &App) {
    frame.render_widget(Clear, area);
    // Longer than the box: it scrolls (↑ ↓ PgUp PgDn g G), and the title says so.
    let room = area.height.saturating_sub(2) as usize;
    let wrapped: usize = lines
        .iter()
        .map(|l| {
            l.width()
                .div_ceil(area.width.saturating_sub(2).max(1) as usize)
                .max(1)
        })
        .sum();
    let max = wrapped.saturating_sub(room);
    let scroll = app.ui.overlay_scroll.min(max);
    let title = if max > 0 {
        format!(" {title} · ↑↓ scroll {}/{} ", scroll, max)
    } else {
        format!(" {title} ")
    };
    let block = Block::bordered().title(Span::styled(title, app.theme.title()));
    frame.render_widget(
        Paragraph::new(lines)
            .block(block)
            .wrap(Wrap { trim: false })
            .scroll((scroll.min(u16::MAX as usize) as u16, 0)),
        area,
    );
}

/// Help lines for the bindings of the given sections (`short`: without the
/// parenthesised detail, for the two-column layout).
fn binding_lines<'a>(app: &App, sections: &[&str], short: bool) -> Vec<Line<'a>> {
    // In two columns each text gets what is left of half an 80-column screen.
    const SHORT_MAX: usize = 26;
    let th = &app.theme;
    let mut lines = Vec::new();
    for section in sections {
        lines.push(Line::from(Span::styled((*section).to_string(), th.title())));
        for b in BINDINGS
            .iter()
            .filter(|b| b.section == *section && b.mode.applies(app.replay))
        {
            let help = if short {
                let brief = b.help.split(" (").next().unwrap_or(b.help);
                if brief.chars().count() > SHORT_MAX {
                    let cut: String = brief.chars().take(SHORT_MAX - 1).collect();
                    format!("{cut}…")
                } else {
                    brief.to_string()
                }
            } else {
                b.help.to_string()
            };
            lines.push(Line::from(vec![
                Span::styled(format!("  {:<10}", b.keys), th.good()),
                Span::raw(help),
            ]));
        }
    }
    lines
}

/// The help overlay, built from the key table; two columns when the screen is short.
pub fn help(frame: &mut Frame, area: Rect, app: &App) {
    let th = &app.theme;
    let legend = vec![
        Line::from(Span::styled("states", th.title())),
        Line::from(Span::styled("  · queued  … waiting  ▶ running", th.dim())),
        Line::from(Span::styled("  ‖ stalled  ✓ finished  ✗ crashed", th.dim())),
        Line::from(Span::styled("  ☠ killed  ⊘ fenced  ⌛ gave up", th.dim())),
        Line::from(Span::styled("Esc or ? closes this help", th.dim())),
    ];
    let sections: &[&str] = if app.replay {
        &["general", "replay", "jobs"]
    } else {
        &["general", "faults", "jobs"]
    };
    let mut one = binding_lines(app, sections, false);
    one.extend(legend.clone());
    // One column when every line fits unwrapped and the screen is tall enough.
    let wide = one.iter().map(Line::width).max().unwrap_or(0) + 2;
    let tall = u16::try_from(one.len() + 2).unwrap_or(u16::MAX);
    let width = u16::try_from(wide.max(76)).unwrap_or(u16::MAX);
    if tall <= area.height && width <= area.width {
        boxed(frame, centered(area, width, tall), "help", one, app);
        return;
    }
    let left = binding_lines(app, &sections[..2], true);
    let mut right = binding_lines(app, &["jobs"], true);
    right.push(Line::from(""));
    right.extend(legend);
    let h = (left.len().max(right.len()) as u16 + 2).min(area.height);
    let outer = centered(area, area.width.min(120), h);
    frame.render_widget(Clear, outer);
    let block = Block::bordered().title(Span::styled(" help ", th.title()));
    let inner = block.inner(outer);
    frame.render_widget(block, outer);
    let half = inner.width / 2;
    let l = Rect {
        width: half,
        ..inner
    };
    let r = Rect {
        x: inner.x + half,
        width: inner.width - half,
        ..inner
    };
    frame.render_widget(Paragraph::new(left), l);
    frame.render_widget(Paragraph::new(right), r);
}

/// One job's story: attempts, fence, when it waited, held, wrote and ended.
pub fn detail(frame: &mut Frame, area: Rect, app: &App, job: JobId, now: f64) {
    let th = &app.theme;
    let Some(j) = app.state.job(job) else {
        return;
    };
    let mut lines = vec![
        Line::from(vec![
            Span::styled(
                format!("{} {}", j.state.symbol(), j.state.word()),
                th.state(j.state),
            ),
            Span::raw(format!("   client {}", printable(&j.client))),
        ]),
        Line::from(format!("hash {}", printable(&j.hash))),
        Line::from(format!(
            "attempts {}   fence {}   waited {}   held {}   chunks {}/{}",
            j.attempts,
            j.fence.map(|f| f.to_string()).unwrap_or_else(|| "-".into()),
            secs(j.wait_time(now)),
            secs(j.run_time(now)),
            j.chunks,
            if j.of == 0 { 6 } else { j.of }
        )),
        Line::from(format!(
            "crash draw: {}",
            if j.will_crash {
                "will crash once it holds the lock"
            } else {
                "no crash"
            }
        )),
        Line::from(""),
    ];
    for (t, what) in &j.history {
        lines.push(Line::from(vec![
            Span::styled(format!("{:>9} ", secs(*t)), th.dim()),
            Span::raw(printable(what).into_owned()),
        ]));
    }
    lines.push(Line::from(""));
    lines.push(Line::from(Span::styled("Esc or Enter closes", th.dim())));
    let h = u16::try_from(lines.len() + 2)
        .unwrap_or(u16::MAX)
        .min(area.height);
    boxed(
        frame,
        centered(area, 72, h),
        &format!("job {job}"),
        lines,
        app,
    );
}

/// The end-of-run summary with the checker's verdict.
pub fn summary(frame: &mut Frame, area: Rect, app: &App) {
    let th = &app.theme;
    let Some(s) = &app.state.summary else {
        return;
    };
    let verdict_style = if s.passed() { th.good() } else { th.warn() };
    let mut lines = vec![
        Line::from(Span::styled(
            if s.passed() {
                "run complete: output verified"
            } else {
                "run complete: FAILED"
            },
            verdict_style,
        )),
        Line::from(""),
        Line::from(format!(
            "✓ finished {}   ✗ crashed {}   ☠ killed {}   ⊘ fenced {}   ⌛ gave up {}",
            s.finished, s.crashed, s.killed, s.fenced, s.gave_up
        )),
        Line::from(format!(
            "handoffs {}   takeovers {}   repairs {} ({} bytes)   rejected writes {}",
            s.handoffs, s.takeovers, s.repairs, s.repaired_bytes, s.writes_rejected
        )),
        Line::from(format!(
            "wait mean {} max {}   time {} against {} serial",
            secs(s.mean_wait),
            secs(s.max_wait),
            secs(s.total_time),
            secs(s.serial_time)
        )),
        Line::from(format!(
            "store ops {}{}",
            s.store_ops,
            s.per_acquisition_text()
        )),
        Line::from(""),
    ];
    for o in &s.outputs {
        lines.push(Line::from(Span::styled(
            printable(&o.verdict).into_owned(),
            if o.passed { th.good() } else { th.warn() },
        )));
    }
    if s.violations.is_empty() {
        lines.push(Line::from(Span::styled("invariants: all hold", th.good())));
    }
    for v in &s.violations {
        lines.push(Line::from(Span::styled(
            format!("invariant broken: {}", printable(v)),
            th.warn(),
        )));
    }
    for t in &s.trouble {
        lines.push(Line::from(Span::styled(
            format!("trouble: {}", printable(t)),
            th.warn(),
        )));
    }
    lines.push(Line::from(""));
    lines.push(Line::from(Span::styled(
        "Esc closes · r restarts with a new seed · q quits",
        th.dim(),
    )));
    let h = u16::try_from(lines.len() + 2)
        .unwrap_or(u16::MAX)
        .min(area.height);
    boxed(frame, centered(area, 78, h), "summary", lines, app);
}
