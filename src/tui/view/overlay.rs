//! Overlays: help (from the key table), a job's detail, and the end-of-run summary.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Clear, Paragraph, Wrap};

use super::{centered, secs};
use crate::engine::JobId;
use crate::tui::app::App;
use crate::tui::keys::BINDINGS;

fn boxed(frame: &mut Frame, area: Rect, title: &str, lines: Vec<Line>, app: &App) {
    frame.render_widget(Clear, area);
    let block = Block::bordered().title(Span::styled(format!(" {title} "), app.theme.title()));
    frame.render_widget(
        Paragraph::new(lines)
            .block(block)
            .wrap(Wrap { trim: false }),
        area,
    );
}

/// The help overlay, built from the key table.
pub fn help(frame: &mut Frame, area: Rect, app: &App) {
    let th = &app.theme;
    let mut lines = Vec::new();
    let mut section = "";
    for b in BINDINGS {
        if b.section != section {
            if !section.is_empty() {
                lines.push(Line::from(""));
            }
            section = b.section;
            lines.push(Line::from(Span::styled(section.to_string(), th.title())));
        }
        lines.push(Line::from(vec![
            Span::styled(format!("  {:<10}", b.keys), th.good()),
            Span::raw(b.help),
        ]));
    }
    lines.push(Line::from(""));
    lines.push(Line::from(Span::styled(
        "states: · queued  … waiting  ▶ running  ‖ stalled  ✓ finished",
        th.dim(),
    )));
    lines.push(Line::from(Span::styled(
        "        ✗ crashed  ☠ killed  ⊘ fenced  ⌛ gave up",
        th.dim(),
    )));
    lines.push(Line::from(Span::styled(
        "Esc or ? closes this help",
        th.dim(),
    )));
    let h = lines.len() as u16 + 2;
    boxed(frame, centered(area, 76, h), "help", lines, app);
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
            Span::raw(format!("   client {}   hash {}", j.client, j.hash)),
        ]),
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
            Span::raw(what.clone()),
        ]));
    }
    lines.push(Line::from(""));
    lines.push(Line::from(Span::styled("Esc or Enter closes", th.dim())));
    let h = (lines.len() as u16 + 2).min(area.height);
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
        Line::from(format!("store ops {}", s.store_ops)),
        Line::from(""),
    ];
    for o in &s.outputs {
        lines.push(Line::from(Span::styled(
            o.verdict.clone(),
            if o.passed { th.good() } else { th.warn() },
        )));
    }
    if s.violations.is_empty() {
        lines.push(Line::from(Span::styled("invariants: all hold", th.good())));
    }
    for v in &s.violations {
        lines.push(Line::from(Span::styled(
            format!("invariant broken: {v}"),
            th.warn(),
        )));
    }
    lines.push(Line::from(""));
    lines.push(Line::from(Span::styled(
        "Esc closes · r restarts with a new seed · q quits",
        th.dim(),
    )));
    let h = (lines.len() as u16 + 2).min(area.height);
    boxed(frame, centered(area, 78, h), "summary", lines, app);
}
