//! Frames of the live view on a test terminal: the holder column, the history
//! panel of the selected key, and the banner over a kept table.

use ratatui::Terminal;
use ratatui::backend::TestBackend;

use super::*;
use crate::lock::Holder;
use crate::store::StoreError;

/// 2023-11-14T22:13:20Z.
const T0: u64 = 1_700_000_000_000;

fn job(n: u64) -> Holder {
    Holder {
        owner: format!("w-{n}"),
        host: "box-1".into(),
        pid: 4242,
        command: vec![],
        job: Some(n),
        started_at_ms: T0,
    }
}

fn line(fence: u64, how: &str, holder: Holder, at_ms: u64, source: &str) -> HistoryLine {
    HistoryLine {
        fence,
        owner: holder.owner.clone(),
        holder: Some(holder),
        how: how.into(),
        from_fence: (how == "takeover").then(|| fence - 1),
        at_ms,
        ended: None,
        source: source.into(),
    }
}

fn views() -> Vec<LockView> {
    let wrapper = Holder {
        owner: "run-1".into(),
        host: "box-7".into(),
        pid: 42,
        command: vec!["python".into(), "etl.py".into()],
        job: None,
        started_at_ms: T0,
    };
    let acme = LockView {
        key: "lock:worker:acme".into(),
        owner: Some("w-7".into()),
        holder: Some(job(7)),
        lease_ms: Some(3000),
        lease_real_ms: Some(300),
        fence: 7,
        heartbeat: 40,
        unchanged_for: 0.1,
        state: "held".into(),
        history: vec![
            line(6, "handoff", job(6), T0 + 1000, "seen"),
            line(7, "takeover", job(7), T0 + 5000, "seen"),
        ],
        ..LockView::default()
    };
    let etl = LockView {
        key: "lock:etl".into(),
        owner: Some("run-1".into()),
        holder: Some(wrapper.clone()),
        lease_ms: Some(30_000),
        lease_real_ms: Some(30_000),
        fence: 1,
        heartbeat: 2,
        state: "held".into(),
        history: vec![line(1, "first", wrapper, T0, "stored")],
        ..LockView::default()
    };
    vec![etl, acme]
}

fn screen(shown: &Shown, width: u16, height: u16) -> String {
    let mut terminal = match Terminal::new(TestBackend::new(width, height)) {
        Ok(t) => t,
        Err(e) => panic!("a test terminal: {e}"),
    };
    if let Err(e) = terminal.draw(|f| draw(f, " joblock watch ", shown, &Theme::mono())) {
        panic!("draw: {e}");
    }
    let buffer = terminal.backend().buffer();
    let cells: Vec<&str> = buffer.content.iter().map(|c| c.symbol()).collect();
    cells
        .chunks(usize::from(buffer.area.width))
        .map(|row| row.concat().trim_end().to_string())
        .collect::<Vec<_>>()
        .join("\n")
}

fn shown() -> Shown {
    let mut shown = Shown::default();
    shown.apply(T0 + 6000, Ok(views()));
    shown
}

#[test]
fn the_holder_column_says_who_holds_job_host_and_pid() {
    let text = screen(&shown(), 140, 24);
    let row = |key: &str| {
        text.lines()
            .find(|l| l.contains(key))
            .unwrap_or_default()
            .to_string()
    };
    assert!(
        row("lock:worker:acme").contains("job 7 · host box-1 pid 4242"),
        "{text}"
    );
    assert!(
        row("lock:etl").contains("box-7 pid 42: python etl.py"),
        "{text}"
    );
    // The lease judged by is the real one: 0.3 s for a 3 s lease at speed 10.
    assert!(row("lock:worker:acme").contains("0.3s"), "{text}");
}

#[test]
fn the_history_panel_follows_the_selected_key_newest_first() {
    let mut shown = shown();
    let text = screen(&shown, 140, 24);
    assert!(text.contains("history of lock:etl"), "{text}");
    assert!(
        text.contains("22:13:20") && text.contains("first"),
        "{text}"
    );
    shown.select(1);
    let text = screen(&shown, 140, 24);
    assert!(text.contains("history of lock:worker:acme"), "{text}");
    let lines: Vec<&str> = text
        .lines()
        .skip_while(|l| !l.contains("history of"))
        .collect();
    let at = |what: &str| lines.iter().position(|l| l.contains(what));
    assert!(at("takeover from 6").is_some(), "{text}");
    assert!(
        at("takeover from 6") < at("handoff"),
        "newest first:\n{text}"
    );
    assert!(
        lines
            .iter()
            .any(|l| l.contains("22:13:25") && l.contains("job 7 · host box-1 pid 4242"))
    );
}

#[test]
fn a_lost_store_shows_a_banner_over_the_last_table_and_recovery_clears_it() {
    let mut shown = shown();
    let down = StoreError::Unavailable("connection refused".into());
    shown.apply(T0 + 8000, Err(down.clone()));
    shown.apply(T0 + 9000, Err(down));
    let text = screen(&shown, 140, 24);
    let first = text.lines().next().unwrap_or_default();
    assert_eq!(
        first,
        "store unreachable since 22:13:28 UTC: store unavailable: connection refused \
         (retrying; showing the last table, from 22:13:26 UTC)"
    );
    assert!(
        text.contains("lock:worker:acme") && text.contains("job 7 · host"),
        "{text}"
    );
    shown.apply(T0 + 10_000, Ok(views()));
    let text = screen(&shown, 140, 24);
    assert!(!text.contains("unreachable"), "{text}");
    assert!(
        text.lines()
            .next()
            .is_some_and(|l| l.contains("joblock watch")),
        "{text}"
    );
}

#[test]
fn before_the_first_answer_the_view_says_it_is_reading() {
    let text = screen(&Shown::default(), 100, 16);
    assert!(text.starts_with("reading the store..."), "{text}");
}

#[test]
fn a_frame_of_the_live_view() {
    let mut shown = shown();
    shown.select(1);
    insta::assert_snapshot!(screen(&shown, 120, 18));
}

#[test]
fn an_output_out_of_step_is_a_line_above_the_table() {
    let mut views = views();
    views[1].output = Some(crate::watch::OutputView {
        path: "/data/o.txt".into(),
        state: "out_of_step".into(),
        on_disk: Some(0),
        problem: Some(
            "/data/o.txt is out of step with lock:worker:acme: 0 bytes on disk, 81 bytes committed"
                .into(),
        ),
    });
    views[0].output = Some(crate::watch::OutputView {
        path: "/data/etl.txt".into(),
        state: "in_step".into(),
        on_disk: Some(27),
        problem: None,
    });
    let mut shown = Shown::default();
    shown.apply(T0 + 6000, Ok(views));
    let text = screen(&shown, 160, 24);
    let first = text.lines().next().unwrap_or_default();
    assert!(
        first.starts_with("⚠ lock:worker:acme: OUTPUT OUT OF STEP: /data/o.txt is out of step")
            && first.contains("0 bytes on disk, 81 bytes committed"),
        "{text}"
    );
    // One line only: the key in step says nothing, and the table follows.
    assert!(
        text.lines()
            .nth(1)
            .is_some_and(|l| l.contains("joblock watch")),
        "{text}"
    );
}
