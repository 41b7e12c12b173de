//! `cargo run --release --example screenshot [-- OUT.svg] [--seed N] [--at SECS]`:
//! a picture of the dashboard mid-run, drawn by the real program's code.
//!
//! The engine runs the default scenario on the virtual clock with a fixed seed and a
//! scheduled kill of the holder; its events are folded into the dashboard's `App` up to
//! scenario time `--at`, exactly as the live loop folds them; the real `view::render`
//! draws one frame into a `TestBackend`, and that buffer becomes an SVG here (no new
//! dependency: one `<text>` per run of same-styled cells, each glyph pinned to its
//! cell so fallback fonts cannot drift the grid). If `rsvg-convert` is on the PATH, a
//! PNG is written beside the SVG for viewing.
//!
//! Default output: `assets/dashboard.svg` in the crate.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use joblock::engine::{self, ClockKind, Scenario};
use joblock::events::{Command, Target};
use joblock::tui::app::App;
use joblock::tui::state::JobState;
use joblock::tui::theme::Theme;
use joblock::tui::view;
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::buffer::{Buffer, Cell, CellWidth};
use ratatui::style::{Color, Modifier};

/// Seed of the pictured run: by t=52 three jobs finished and one crashed; the holder
/// killed at 40.5 went silent, a waiter saw its lease expire at 43.0, took over and
/// repaired the torn write. The timeline marks x, K and T; the log still tells the
/// whole story; the new holder is mid-record, its latest chunk highlighted.
const SEED: u64 = 1;
/// Scenario time of the picture.
const AT: f64 = 52.0;
/// When the holder is killed.
const KILL_AT: f64 = 40.5;
/// Terminal size.
const WIDTH: u16 = 120;
const HEIGHT: u16 = 40;

/// Cell geometry in SVG pixels (DejaVu Sans Mono advances 0.602 em).
const FONT_PX: f64 = 14.0;
const CELL_W: f64 = 8.43;
const CELL_H: f64 = 17.0;
const PAD: f64 = 10.0;

/// Default foreground and background (what `Color::Reset` means).
const FG: &str = "#c9d1d9";
const BG: &str = "#0d1117";

struct Args {
    out: PathBuf,
    seed: u64,
    at: f64,
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        out: Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/dashboard.svg"),
        seed: SEED,
        at: AT,
    };
    let mut it = std::env::args().skip(1);
    while let Some(a) = it.next() {
        match a.as_str() {
            "--seed" => {
                let v = it.next().ok_or("--seed needs a value")?;
                args.seed = v
                    .parse()
                    .map_err(|_| format!("--seed: not a number: {v}"))?;
            }
            "--at" => {
                let v = it.next().ok_or("--at needs a value")?;
                args.at = v
                    .parse()
                    .ok()
                    .filter(|t: &f64| t.is_finite() && *t >= 0.0)
                    .ok_or(format!("--at: not a time in seconds: {v}"))?;
            }
            _ if a.starts_with('-') => return Err(format!("unknown option {a}")),
            _ => args.out = PathBuf::from(a),
        }
    }
    Ok(args)
}

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            say_err(&format!("screenshot: {e}"));
            ExitCode::FAILURE
        }
    }
}

/// Prints a line; a closed stdout is not worth a panic.
fn say(line: &str) {
    let _ = writeln!(std::io::stdout(), "{line}");
}

/// Prints a line on stderr, ignoring failure.
fn say_err(line: &str) {
    let _ = writeln!(std::io::stderr(), "{line}");
}

fn run() -> Result<(), String> {
    let mut args = parse_args()?;
    let cwd = std::env::current_dir().map_err(|e| format!("no current directory: {e}"))?;
    args.out = cwd.join(&args.out);
    let app = fold_run(args.seed, args.at)?;
    say(&describe_picture(&app, args.seed, args.at));
    let buffer = draw(&app, args.at)?;
    let svg = to_svg(&buffer);
    if let Some(dir) = args.out.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)
            .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    }
    std::fs::write(&args.out, svg)
        .map_err(|e| format!("cannot write {}: {e}", args.out.display()))?;
    say(&format!("wrote {}", args.out.display()));
    write_png(&args.out);
    Ok(())
}

/// Runs the engine to the end, folding its events into an `App` up to scenario time `at`.
fn fold_run(seed: u64, at: f64) -> Result<App, String> {
    // Run inside a temp dir so the output panel shows the default `output.txt`,
    // not a temp path.
    let dir = tempfile::tempdir().map_err(|e| format!("cannot make a temp dir: {e}"))?;
    std::env::set_current_dir(dir.path())
        .map_err(|e| format!("cannot enter {}: {e}", dir.path().display()))?;
    let scenario = Scenario {
        seed,
        clock: ClockKind::Virtual,
        output: PathBuf::from("output.txt"),
        schedule: vec![(KILL_AT, Command::Kill(Target::Holder(None)))],
        ..Scenario::default()
    };
    let run = engine::start(scenario).map_err(|e| format!("engine: {e}"))?;
    let mut app = App::new(Theme::colored());
    let mut frozen = false;
    for ev in run.events().iter() {
        // A prefix of the stream, as the live dashboard would have seen it at `at`;
        // keep draining so the run can end.
        frozen |= ev.t > at;
        if !frozen {
            app.state.apply(&ev);
        }
    }
    run.join().map_err(|e| format!("engine: {e}"))?;
    app.after_events();
    app.ui.selected = pick_row(&app);
    Ok(app)
}

/// One line saying what the picture shows.
fn describe_picture(app: &App, seed: u64, at: f64) -> String {
    let st = &app.state;
    let counts: Vec<String> = JobState::ALL
        .iter()
        .filter(|s| st.count(**s) > 0)
        .map(|s| format!("{} {}", st.count(*s), s.word()))
        .collect();
    let takeovers: u32 = st.clients.iter().map(|c| c.takeovers).sum();
    format!(
        "seed {seed} at t={at}: {}; {takeovers} takeover(s), {} warning(s); selected job {}",
        counts.join(", "),
        st.warnings.len(),
        app.ui.selected.map_or("none".into(), |j| j.to_string())
    )
}

/// The holder if one is running, else the newest job that ended.
fn pick_row(app: &App) -> Option<u32> {
    let jobs = &app.state.jobs;
    jobs.iter()
        .find(|j| j.state == JobState::Running)
        .or_else(|| jobs.iter().rev().find(|j| j.state.is_end()))
        .or(jobs.first())
        .map(|j| j.id)
}

fn draw(app: &App, now: f64) -> Result<Buffer, String> {
    let mut terminal =
        Terminal::new(TestBackend::new(WIDTH, HEIGHT)).map_err(|e| format!("terminal: {e}"))?;
    terminal
        .draw(|f| {
            view::render(f, app, now);
        })
        .map_err(|e| format!("draw: {e}"))?;
    Ok(terminal.backend().buffer().clone())
}

/// What one cell looks like once colours are resolved.
#[derive(Clone, PartialEq)]
struct Look {
    fg: String,
    bg: String,
    bold: bool,
    italic: bool,
    underline: bool,
    strike: bool,
    dim: bool,
}

fn look(cell: &Cell) -> Look {
    let m = cell.modifier;
    let mut fg = color(cell.fg).unwrap_or_else(|| FG.into());
    let mut bg = color(cell.bg).unwrap_or_else(|| BG.into());
    if m.contains(Modifier::REVERSED) {
        std::mem::swap(&mut fg, &mut bg);
    }
    if m.contains(Modifier::HIDDEN) {
        fg = bg.clone();
    }
    Look {
        fg,
        bg,
        bold: m.contains(Modifier::BOLD),
        italic: m.contains(Modifier::ITALIC),
        underline: m.contains(Modifier::UNDERLINED),
        strike: m.contains(Modifier::CROSSED_OUT),
        dim: m.contains(Modifier::DIM),
    }
}

/// A terminal palette close to GitHub's dark theme; `None` for the default colour.
fn color(c: Color) -> Option<String> {
    let named = |s: &str| Some(s.to_string());
    match c {
        Color::Reset => None,
        Color::Black => named("#484f58"),
        Color::Red => named("#ff7b72"),
        Color::Green => named("#3fb950"),
        Color::Yellow => named("#d29922"),
        Color::Blue => named("#58a6ff"),
        Color::Magenta => named("#bc8cff"),
        Color::Cyan => named("#39c5cf"),
        Color::Gray => named("#b1bac4"),
        Color::DarkGray => named("#6e7681"),
        Color::LightRed => named("#ffa198"),
        Color::LightGreen => named("#56d364"),
        Color::LightYellow => named("#e3b341"),
        Color::LightBlue => named("#79c0ff"),
        Color::LightMagenta => named("#d2a8ff"),
        Color::LightCyan => named("#56d4dd"),
        Color::White => named("#f0f6fc"),
        Color::Rgb(r, g, b) => Some(format!("#{r:02x}{g:02x}{b:02x}")),
        Color::Indexed(i) => Some(indexed(i)),
    }
}

/// The xterm 256-colour table.
fn indexed(i: u8) -> String {
    const BASE: [Color; 16] = [
        Color::Black,
        Color::Red,
        Color::Green,
        Color::Yellow,
        Color::Blue,
        Color::Magenta,
        Color::Cyan,
        Color::Gray,
        Color::DarkGray,
        Color::LightRed,
        Color::LightGreen,
        Color::LightYellow,
        Color::LightBlue,
        Color::LightMagenta,
        Color::LightCyan,
        Color::White,
    ];
    match i {
        0..=15 => color(BASE[i as usize]).unwrap_or_else(|| FG.into()),
        16..=231 => {
            let n = i - 16;
            let level = |v: u8| if v == 0 { 0 } else { 55 + 40 * v };
            let (r, g, b) = (level(n / 36), level((n / 6) % 6), level(n % 6));
            format!("#{r:02x}{g:02x}{b:02x}")
        }
        _ => {
            let v = 8 + 10 * (i - 232);
            format!("#{v:02x}{v:02x}{v:02x}")
        }
    }
}

fn escape(s: &str, out: &mut String) {
    for ch in s.chars() {
        match ch {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            // Not allowed in XML 1.0 at all.
            c if (c as u32) < 0x20 && c != '\t' => out.push(' '),
            c => out.push(c),
        }
    }
}

/// Whether a symbol draws one cell wide in every monospace font we name: ASCII,
/// Latin-1, box drawing and block elements. Anything else may come from a fallback
/// font with its own advance, so it is pinned to its cell on its own.
fn grid_safe(sym: &str) -> bool {
    let mut chars = sym.chars();
    match (chars.next(), chars.next()) {
        (Some(c), None) => {
            c.is_ascii_graphic()
                || c == ' '
                || ('\u{a0}'..='\u{ff}').contains(&c)
                || ('\u{2500}'..='\u{259f}').contains(&c)
        }
        _ => false,
    }
}

/// The arms (left, right, up, down) of a light box-drawing symbol.
fn box_arms(sym: &str) -> Option<[bool; 4]> {
    Some(match sym {
        "─" => [true, true, false, false],
        "│" => [false, false, true, true],
        "┌" | "╭" => [false, true, false, true],
        "┐" | "╮" => [true, false, false, true],
        "└" | "╰" => [false, true, true, false],
        "┘" | "╯" => [true, false, true, false],
        "├" => [false, true, true, true],
        "┤" => [true, false, true, true],
        "┬" => [true, true, false, true],
        "┴" => [true, true, true, false],
        "┼" => [true, true, true, true],
        _ => return None,
    })
}

/// Whether a symbol is drawn as a shape rather than a glyph.
fn is_shape(sym: &str) -> bool {
    sym == "█" || box_arms(sym).is_some()
}

/// Box-drawing lines and full blocks, drawn as shapes like a terminal does, so
/// borders join across rows whatever the font's height; one path per colour.
#[derive(Default)]
struct Lines {
    strokes: BTreeMap<String, String>,
    fills: BTreeMap<String, String>,
}

impl Lines {
    fn add(&mut self, x: u16, y: u16, cell: &Cell) {
        let sym = cell.symbol();
        let (left, top) = (px_x(x), px_top(y));
        let fg = look(cell).fg;
        if sym == "█" {
            let d = self.fills.entry(fg).or_default();
            let _ = write!(
                d,
                "M{left:.2} {top:.1}h{CELL_W:.2}v{CELL_H:.1}h-{CELL_W:.2}z"
            );
            return;
        }
        let Some([l, r, u, d]) = box_arms(sym) else {
            return;
        };
        let (cx, cy) = (left + CELL_W / 2.0, top + CELL_H / 2.0);
        let path = self.strokes.entry(fg).or_default();
        if l || r {
            let from = if l { left } else { cx };
            let to = if r { left + CELL_W } else { cx };
            let _ = write!(path, "M{from:.2} {cy:.2}H{to:.2}");
        }
        if u || d {
            let from = if u { top } else { cy };
            let to = if d { top + CELL_H } else { cy };
            let _ = write!(path, "M{cx:.2} {from:.2}V{to:.2}");
        }
    }

    fn write(&self, s: &mut String) {
        for (color, d) in &self.fills {
            let _ = writeln!(s, r#"<path d="{d}" fill="{color}"/>"#);
        }
        for (color, d) in &self.strokes {
            let _ = writeln!(
                s,
                r#"<path d="{d}" fill="none" stroke="{color}" stroke-width="1.2" stroke-linecap="square"/>"#
            );
        }
    }
}

/// Renders a ratatui buffer as an SVG of a terminal.
fn to_svg(buf: &Buffer) -> String {
    let area = buf.area;
    let w = f64::from(area.width) * CELL_W + 2.0 * PAD;
    let h = f64::from(area.height) * CELL_H + 2.0 * PAD;
    let mut s = String::new();
    let _ = writeln!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{w:.0}" height="{h:.0}" viewBox="0 0 {w:.1} {h:.1}">"#
    );
    let _ = writeln!(
        s,
        r#"<rect width="{w:.1}" height="{h:.1}" rx="6" fill="{BG}"/>"#
    );
    let _ = writeln!(
        s,
        r#"<g font-family="DejaVu Sans Mono, Menlo, Consolas, monospace" font-size="{FONT_PX}px" xml:space="preserve">"#
    );
    let mut lines = Lines::default();
    for y in 0..area.height {
        // The cells that start a glyph, with their widths (a wide symbol hides the
        // cells it covers).
        let mut cells: Vec<(u16, &Cell, u16)> = Vec::new();
        let mut x = 0u16;
        while x < area.width {
            let cell = &buf[(area.x + x, area.y + y)];
            let span = cell.symbol().cell_width().clamp(1, area.width - x);
            cells.push((x, cell, span));
            x += span;
        }
        backgrounds(&mut s, y, &cells);
        texts(&mut s, y, &cells);
        for (x, cell, _) in &cells {
            lines.add(*x, y, cell);
        }
    }
    lines.write(&mut s);
    s.push_str("</g>\n</svg>\n");
    s
}

fn px_x(x: u16) -> f64 {
    PAD + f64::from(x) * CELL_W
}

fn px_top(y: u16) -> f64 {
    PAD + f64::from(y) * CELL_H
}

/// One rect per run of cells sharing a non-default background.
fn backgrounds(s: &mut String, y: u16, cells: &[(u16, &Cell, u16)]) {
    let mut i = 0;
    while i < cells.len() {
        let bg = look(cells[i].1).bg;
        let mut j = i + 1;
        while j < cells.len() && look(cells[j].1).bg == bg {
            j += 1;
        }
        if bg != BG {
            let (x0, _, _) = cells[i];
            let (xl, _, wl) = cells[j - 1];
            let width = f64::from(xl + wl - x0) * CELL_W;
            let _ = writeln!(
                s,
                r#"<rect x="{:.2}" y="{:.1}" width="{width:.2}" height="{CELL_H:.1}" fill="{bg}"/>"#,
                px_x(x0),
                px_top(y)
            );
        }
        i = j;
    }
}

/// One `<text>` per run of same-styled, grid-safe cells (spaces inside kept); any
/// other symbol gets a `<text>` of its own at its cell.
fn texts(s: &mut String, y: u16, cells: &[(u16, &Cell, u16)]) {
    let mut i = 0;
    while i < cells.len() {
        let (x, cell, _) = cells[i];
        let sym = cell.symbol();
        if sym.trim().is_empty() || is_shape(sym) {
            i += 1;
            continue;
        }
        let style = look(cell);
        if !grid_safe(sym) {
            text(s, x, y, &style, sym, 1);
            i += 1;
            continue;
        }
        let mut j = i + 1;
        let mut end = i + 1; // one past the last non-space cell
        while j < cells.len()
            && grid_safe(cells[j].1.symbol())
            && !is_shape(cells[j].1.symbol())
            && look(cells[j].1) == style
        {
            if !cells[j].1.symbol().trim().is_empty() {
                end = j + 1;
            }
            j += 1;
        }
        let run: String = cells[i..end].iter().map(|(_, c, _)| c.symbol()).collect();
        text(s, x, y, &style, &run, end - i);
        i = end;
    }
}

/// A `<text>` at column `x` of row `y`, `cols` cells wide.
fn text(s: &mut String, x: u16, y: u16, style: &Look, run: &str, cols: usize) {
    // Baseline about four fifths down the cell.
    let base = px_top(y) + CELL_H * 0.78;
    let mut attrs = format!(r#" fill="{}""#, style.fg);
    if style.bold {
        attrs.push_str(r#" font-weight="bold""#);
    }
    if style.italic {
        attrs.push_str(r#" font-style="italic""#);
    }
    if style.dim {
        attrs.push_str(r#" fill-opacity="0.6""#);
    }
    match (style.underline, style.strike) {
        (true, true) => attrs.push_str(r#" text-decoration="underline line-through""#),
        (true, false) => attrs.push_str(r#" text-decoration="underline""#),
        (false, true) => attrs.push_str(r#" text-decoration="line-through""#),
        (false, false) => {}
    }
    if cols > 1 {
        // Renderers that honour it keep a run on the grid even in a font whose
        // advance is not exactly CELL_W.
        let _ = write!(
            attrs,
            r#" textLength="{:.2}" lengthAdjust="spacing""#,
            cols as f64 * CELL_W
        );
    }
    let mut escaped = String::new();
    escape(run, &mut escaped);
    let _ = writeln!(
        s,
        r#"<text x="{:.2}" y="{base:.1}"{attrs}>{escaped}</text>"#,
        px_x(x)
    );
}

/// Writes `OUT.png` beside the SVG if `rsvg-convert` is available; never fails the run.
fn write_png(svg: &Path) {
    let png = svg.with_extension("png");
    let status = std::process::Command::new("rsvg-convert")
        .arg("--format=png")
        .arg("--output")
        .arg(&png)
        .arg(svg)
        .status();
    match status {
        Ok(s) if s.success() => say(&format!("wrote {}", png.display())),
        Ok(s) => say_err(&format!("rsvg-convert failed ({s}); no PNG")),
        Err(_) => say_err("no rsvg-convert on the PATH; no PNG"),
    }
}
