//! The header: what runs, how fast, for how long, and whether anything is wrong.
//! Pieces that do not fit the width are dropped, least important first.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use super::secs;
use crate::tui::app::App;
use crate::tui::state::JobState;

/// A piece of the header: its importance (lower is kept longer) and its spans.
struct Piece<'a> {
    rank: u8,
    spans: Vec<Span<'a>>,
}

impl Piece<'_> {
    fn width(&self) -> usize {
        self.spans.iter().map(|s| s.content.chars().count()).sum()
    }
}

/// Draws the one-line header.
pub fn render(frame: &mut Frame, area: Rect, app: &App, now: f64) {
    let st = &app.state;
    let th = &app.theme;
    let store = if st.info.store.is_empty() {
        "memory".to_string()
    } else {
        crate::sanitize::printable(&st.info.store).into_owned()
    };
    let mut pieces = vec![
        Piece {
            rank: 0,
            spans: vec![Span::styled(" joblock ", th.title())],
        },
        Piece {
            rank: 5,
            spans: vec![Span::raw(format!(
                "{} client{} · {store} · {}",
                st.clients.len(),
                plural(st.clients.len()),
                // Race mode is the classic exercise; only the other one is named.
                if st.info.wait == "queue" {
                    "queue mode · "
                } else {
                    ""
                },
            ))],
        },
        Piece {
            rank: 3,
            spans: vec![Span::raw(format!("{}x · ", fmt_speed(st.speed)))],
        },
        Piece {
            rank: 4,
            spans: vec![Span::raw(format!("seed {} ", st.info.seed))],
        },
        Piece {
            rank: 0,
            spans: vec![Span::styled(format!("t={} ", secs(now)), th.title())],
        },
    ];
    if let Some(replay) = &app.ui.replay_label {
        pieces.push(Piece {
            rank: 0,
            spans: vec![
                Span::styled(format!(" {replay} "), th.badge()),
                Span::raw(" "),
            ],
        });
    } else if st.paused {
        pieces.push(Piece {
            rank: 0,
            spans: vec![Span::styled(" ‖ PAUSED ", th.badge()), Span::raw(" ")],
        });
    }
    if st.summary.is_some() {
        pieces.push(Piece {
            rank: 0,
            spans: vec![Span::styled(" DONE ", th.badge()), Span::raw(" ")],
        });
    }
    pieces.push(Piece {
        rank: 0,
        spans: vec![if st.invariants_broken {
            Span::styled("✗ invariants BROKEN ", th.warn())
        } else {
            Span::styled("✓ invariants ok ", th.good())
        }],
    });
    // Only real anomalies are warnings; none is the normal case and needs no words.
    let warnings = st.warnings.len();
    if warnings > 0 {
        pieces.push(Piece {
            rank: 0,
            spans: vec![Span::styled(
                format!("⚠ {warnings} warning{} ", plural(warnings)),
                th.warn(),
            )],
        });
    }
    // Kept before the counts: it says why jobs may end fenced.
    if let Some(below) = st.below_floor() {
        pieces.push(Piece {
            rank: 1,
            spans: vec![Span::styled(format!("⚠ {} ", below.short()), th.warn())],
        });
    }
    if st.faults > 0 {
        pieces.push(Piece {
            rank: 3,
            spans: vec![Span::styled(
                format!(
                    "{} fault{} injected ",
                    st.faults,
                    plural(st.faults as usize)
                ),
                th.dim(),
            )],
        });
    }
    let states = [
        JobState::Running,
        JobState::Waiting,
        JobState::Queued,
        JobState::Finished,
        JobState::Crashed,
        JobState::Killed,
        JobState::Fenced,
        JobState::GaveUp,
    ];
    for (i, s) in states.into_iter().enumerate() {
        if i >= 2 && st.count(s) == 0 {
            continue;
        }
        // Labelled, so a count needs no legend; the symbol survives without colour.
        pieces.push(Piece {
            rank: 2,
            spans: vec![Span::styled(
                format!("{}{} {} ", s.symbol(), st.count(s), s.word()),
                th.state(s),
            )],
        });
    }
    // Drop the least important pieces (last first among equals) until the rest fit.
    let width = area.width as usize;
    while pieces.iter().map(Piece::width).sum::<usize>() > width {
        let Some(worst) = pieces
            .iter()
            .enumerate()
            .max_by_key(|(i, p)| (p.rank, *i))
            .map(|(i, _)| i)
        else {
            break;
        };
        if pieces[worst].rank == 0 {
            break;
        }
        pieces.remove(worst);
    }
    let spans: Vec<Span> = pieces.into_iter().flat_map(|p| p.spans).collect();
    frame.render_widget(Paragraph::new(Line::from(spans)), area);
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

/// Speed without trailing zeros: 1, 0.5, 1000; slower than 1/100 as a fraction.
pub fn fmt_speed(s: f64) -> String {
    if s > 0.0 && s < 0.01 {
        return format!("1/{:.0}", 1.0 / s);
    }
    let t = format!("{s:.3}");
    t.trim_end_matches('0').trim_end_matches('.').to_string()
}
