//! The dashboard's model as a specification: hand-built event streams go in, the
//! folded state and the view state come out. No engine runs here, so every stream
//! is exactly the one written down, and every test checks after each event that the
//! per-state counts still agree with the rows.

mod support;

use joblock::events::{Command, Event, How, JobId, SeenLock, Stamped, Summary, Target};
use joblock::tui::app::{App, Effect, Overlay, SortKey};
use joblock::tui::keys::Action;
use joblock::tui::state::{DashState, JobState, Level, MarkKind};
use joblock::tui::theme::Theme;
use support::events::{LEASE, hash, run_started};

/// Lease length of every hand-built run, seconds.
/// The client of single-client runs.
const C1: &str = "client-1";

// ---------------------------------------------------------------------------
// Event builders. Job events are for `client-1`; `on` moves one to another client.
// ---------------------------------------------------------------------------

fn queued(job: JobId) -> Event {
    Event::Queued {
        job,
        client: C1.into(),
        hash: hash(job),
        will_crash: false,
    }
}

/// An attempt that found the lock held by `holder` with `fence`.
fn attempt(job: JobId, n: u32, holder: JobId, fence: u64) -> Event {
    Event::LockAttempt {
        job,
        client: C1.into(),
        attempt: n,
        seen: SeenLock::Held {
            holder: Some(holder),
            fence,
            heartbeat: 0,
        },
    }
}

fn acquired(job: JobId, fence: u64, how: How) -> Event {
    Event::Acquired {
        job,
        client: C1.into(),
        fence,
        attempts: 1,
        waited: 0.0,
        how,
        from_job: None,
        from_fence: None,
        committed: 0,
        wseq: fence,
    }
}

/// `job` takes over from `from` (whose fence was `fence - 1`).
fn takeover(job: JobId, fence: u64, from: JobId, committed: u64) -> Event {
    Event::Acquired {
        job,
        client: C1.into(),
        fence,
        attempts: 4,
        waited: 3.5,
        how: How::Takeover,
        from_job: Some(from),
        from_fence: Some(fence - 1),
        committed,
        wseq: fence,
    }
}

fn chunk(job: JobId, fence: u64, n: u32, offset: u64, text: &str) -> Event {
    Event::ChunkWritten {
        job,
        client: C1.into(),
        fence,
        chunk: n,
        of: 6,
        offset,
        text: text.into(),
        wseq: 0,
    }
}

fn heartbeat(job: JobId, fence: u64, beat: u64) -> Event {
    Event::Heartbeat {
        job,
        client: C1.into(),
        fence,
        beat,
    }
}

fn released(job: JobId, fence: u64, committed: u64) -> Event {
    Event::Released {
        job,
        client: C1.into(),
        fence,
        committed,
    }
}

fn finished(job: JobId) -> Event {
    Event::Finished {
        job,
        client: C1.into(),
    }
}

fn crashed(job: JobId) -> Event {
    Event::Crashed {
        job,
        client: C1.into(),
        reason: "crash draw".into(),
    }
}

fn killed(job: JobId, held: bool) -> Event {
    Event::Killed {
        job,
        client: C1.into(),
        held,
    }
}

fn stalled(job: JobId, secs: f64) -> Event {
    Event::Stalled {
        job,
        client: C1.into(),
        secs,
    }
}

/// `waiter` saw the lease of `holder` (with `fence`) stand still for a whole lease.
fn lease_expired(waiter: JobId, holder: JobId, fence: u64) -> Event {
    Event::LeaseExpired {
        job: waiter,
        client: C1.into(),
        holder: Some(holder),
        fence,
        unchanged_for: LEASE,
    }
}

fn repair(job: JobId, fence: u64, from_len: u64, to_len: u64) -> Event {
    Event::Repair {
        job,
        client: C1.into(),
        fence,
        from_len,
        to_len,
        bytes: from_len - to_len,
        reason: "takeover from a dead holder".into(),
        wseq: 0,
    }
}

fn write_rejected(job: JobId, fence: u64, highest: u64) -> Event {
    Event::WriteRejected {
        job,
        client: C1.into(),
        fence,
        highest,
    }
}

fn fenced(job: JobId) -> Event {
    Event::Fenced {
        job,
        client: C1.into(),
        reason: "lock taken over (renewal matched nothing)".into(),
    }
}

/// The same event for another client.
fn on(client: &str, mut event: Event) -> Event {
    match &mut event {
        Event::Queued { client: c, .. }
        | Event::LockAttempt { client: c, .. }
        | Event::LeaseExpired { client: c, .. }
        | Event::Acquired { client: c, .. }
        | Event::Repair { client: c, .. }
        | Event::ChunkWritten { client: c, .. }
        | Event::WriteRejected { client: c, .. }
        | Event::Heartbeat { client: c, .. }
        | Event::HeartbeatFailed { client: c, .. }
        | Event::Stalled { client: c, .. }
        | Event::Released { client: c, .. }
        | Event::Finished { client: c, .. }
        | Event::Crashed { client: c, .. }
        | Event::Killed { client: c, .. }
        | Event::Fenced { client: c, .. }
        | Event::GaveUp { client: c, .. } => *c = client.to_string(),
        _ => {}
    }
    event
}

// ---------------------------------------------------------------------------
// The harness: stamps events in order, folds them, checks the counts every time.
// ---------------------------------------------------------------------------

/// An app fed by a hand-written stream.
struct Dash {
    app: App,
    seq: u64,
}

impl Dash {
    fn new() -> Dash {
        Dash {
            app: App::new(Theme::mono()),
            seq: 0,
        }
    }

    /// A run of `jobs` queued jobs on one client, at t = 0.
    fn with_jobs(jobs: u32) -> Dash {
        let mut d = Dash::new();
        d.feed(0.0, run_started(jobs, 1));
        for j in 1..=jobs {
            d.feed(0.0, queued(j));
        }
        d
    }

    /// Stamps `event` with the next sequence number and time `t`, and folds it.
    fn feed(&mut self, t: f64, event: Event) -> &mut Dash {
        self.seq += 1;
        let stamped = Stamped {
            seq: self.seq,
            t,
            event,
        };
        self.app.state.apply(&stamped);
        self.app.after_events();
        assert_counts_agree(&self.app.state, &stamped);
        self
    }

    fn state(&self) -> &DashState {
        &self.app.state
    }

    fn job_state(&self, job: JobId) -> JobState {
        self.state().job(job).expect("job exists").state
    }

    fn client(&self) -> &joblock::tui::state::ClientView {
        &self.state().clients[0]
    }

    fn press(&mut self, action: Action) -> Effect {
        self.app.handle(action, self.app.state.last_t)
    }

    /// Job numbers of the visible rows, in order.
    fn rows(&self) -> Vec<JobId> {
        self.app
            .visible_jobs(self.app.state.last_t)
            .into_iter()
            .map(|i| self.app.state.jobs[i].id)
            .collect()
    }
}

/// The per-state counts sum to the number of jobs and agree with every row.
fn assert_counts_agree(st: &DashState, after: &Stamped) {
    let total: usize = JobState::ALL.iter().map(|s| st.count(*s)).sum();
    assert_eq!(
        total,
        st.jobs.len(),
        "counts {:?} do not sum to {} jobs after {after:?}",
        st.counts,
        st.jobs.len()
    );
    for s in JobState::ALL {
        let rows = st.jobs.iter().filter(|j| j.state == s).count();
        assert_eq!(st.count(s), rows, "count of {s:?} after {after:?}");
    }
}

fn marks(d: &Dash) -> Vec<MarkKind> {
    d.client().marks.iter().map(|m| m.kind).collect()
}

// ---------------------------------------------------------------------------
// The fold.
// ---------------------------------------------------------------------------

#[test]
fn run_started_sets_up_one_view_per_client() {
    let mut d = Dash::new();
    d.feed(0.0, run_started(6, 3));
    let names: Vec<&str> = d.state().clients.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names, ["client-1", "client-2", "client-3"]);
    assert_eq!(d.state().clients[1].output_path, "output.client-2.txt");
    assert_eq!(d.state().info.jobs, 6);
    assert_eq!(d.state().info.lease, LEASE);
    assert!(d.state().jobs.is_empty(), "jobs appear when queued");
}

#[test]
fn queued_jobs_are_counted_as_queued() {
    let d = Dash::with_jobs(3);
    assert_eq!(d.state().jobs.len(), 3);
    assert_eq!(d.state().count(JobState::Queued), 3);
    assert_eq!(d.state().waiters(C1), 3);
    assert_eq!(d.app.ui.selected, Some(1), "the first job is selected");
}

#[test]
fn the_first_attempt_moves_a_job_to_waiting_and_later_ones_count_attempts() {
    let mut d = Dash::with_jobs(2);
    d.feed(0.1, acquired(1, 1, How::Created));
    d.feed(0.2, attempt(2, 1, 1, 1));
    assert_eq!(d.job_state(2), JobState::Waiting);
    assert_eq!(d.state().count(JobState::Queued), 0);
    assert_eq!(d.state().count(JobState::Waiting), 1);
    d.feed(0.3, attempt(2, 2, 1, 1));
    let job = d.state().job(2).unwrap();
    assert_eq!(job.state, JobState::Waiting);
    assert_eq!(job.attempts, 2);
    assert_eq!(job.first_attempt_at, Some(0.2));
}

#[test]
fn acquired_makes_the_job_running_with_its_fence_and_sets_the_clients_holder() {
    let mut d = Dash::with_jobs(2);
    d.feed(0.1, acquired(1, 1, How::Created));
    let job = d.state().job(1).unwrap();
    assert_eq!(job.state, JobState::Running);
    assert_eq!(job.fence, Some(1));
    assert_eq!(job.acquired_at, Some(0.1));
    let c = d.client();
    assert_eq!(c.holder, Some(1));
    assert!(c.holder_alive);
    assert_eq!(c.fence, 1);
    assert_eq!(
        (c.handoffs, c.takeovers),
        (0, 0),
        "a first acquisition is neither"
    );

    d.feed(1.0, released(1, 1, 27)).feed(1.0, finished(1));
    d.feed(1.1, acquired(2, 2, How::Handoff));
    let c = d.client();
    assert_eq!((c.holder, c.fence, c.handoffs), (Some(2), 2, 1));
    assert_eq!(d.state().count(JobState::Running), 1);
}

#[test]
fn chunks_advance_the_job_and_grow_the_output_tail() {
    let mut d = Dash::with_jobs(1);
    d.feed(0.1, acquired(1, 1, How::Created));
    d.feed(0.3, chunk(1, 1, 1, 0, "Maest"));
    d.feed(0.5, chunk(1, 1, 2, 5, "ro is"));
    let job = d.state().job(1).unwrap();
    assert_eq!((job.chunks, job.of), (2, 6));
    let out = &d.client().output;
    assert_eq!(out.text, "Maestro is");
    assert_eq!(out.len, 10);
    assert_eq!(
        out.last_write,
        Some((5, 5, 1, 1)),
        "(offset, len, fence, job)"
    );
}

#[test]
fn released_and_finished_free_the_holder_and_count_the_job_finished() {
    let mut d = Dash::with_jobs(2);
    d.feed(0.1, acquired(1, 1, How::Created));
    for (n, (offset, text)) in [
        (0, "Maest"),
        (5, "ro is"),
        (10, " the "),
        (15, "best."),
        (20, "....."),
        (25, "\n\n"),
    ]
    .into_iter()
    .enumerate()
    {
        d.feed(
            0.2 + n as f64 * 0.2,
            chunk(1, 1, n as u32 + 1, offset, text),
        );
    }
    d.feed(1.5, released(1, 1, 27));
    d.feed(1.5, finished(1));
    let c = d.client();
    assert_eq!(c.holder, None);
    assert!(!c.holder_alive);
    assert_eq!(c.segments.len(), 1);
    assert_eq!(c.segments[0].to, Some(1.5), "the hold ends at the release");
    assert_eq!(c.output.text, "Maestro is the best......\n\n");
    assert_eq!(d.state().count(JobState::Finished), 1);
    assert_eq!(d.state().count(JobState::Running), 0);
    let job = d.state().job(1).unwrap();
    assert_eq!(job.ended_at, Some(1.5));
    assert_eq!(job.chunks, 6);
}

#[test]
fn a_killed_holder_stays_the_holder_but_dead_until_a_waiter_takes_over() {
    let mut d = Dash::with_jobs(2);
    d.feed(0.1, acquired(1, 1, How::Created));
    d.feed(0.2, attempt(2, 1, 1, 1));
    d.feed(0.3, chunk(1, 1, 1, 0, "Maest"));
    d.feed(0.5, chunk(1, 1, 2, 5, "ro is"));
    d.feed(0.6, killed(1, true));

    assert_eq!(d.job_state(1), JobState::Killed);
    assert_eq!(d.client().holder, Some(1), "nobody released the lock");
    assert!(!d.client().holder_alive);
    assert_eq!(d.client().segments[0].to, None, "dead until taken over");

    d.feed(3.7, lease_expired(2, 1, 1));
    assert!(
        d.state().warnings.is_empty(),
        "the lease of a dead holder is meant to expire: {:?}",
        d.state().warnings
    );
    d.feed(3.7, takeover(2, 2, 1, 0));
    d.feed(3.7, repair(2, 2, 10, 0));

    let c = d.client();
    assert_eq!(c.holder, Some(2));
    assert!(c.holder_alive);
    assert_eq!(c.fence, 2);
    assert_eq!(c.takeovers, 1);
    assert_eq!(c.handoffs, 0);
    assert!(
        !c.output.text.contains("Maestro is"),
        "the torn tail is cut: {:?}",
        c.output.text
    );
    assert_eq!(c.output.len, 0);
    assert_eq!(c.output.last_repair, Some((3.7, 10, 2)));
    assert_eq!(c.segments.len(), 2);
    assert_eq!(c.segments[0].job, 1);
    assert_eq!(
        c.segments[0].to,
        Some(3.7),
        "A's stretch ends at B's acquisition"
    );
    assert_eq!((c.segments[1].job, c.segments[1].to), (2, None));
    let kinds = marks(&d);
    for kind in [MarkKind::Kill, MarkKind::Takeover, MarkKind::Repair] {
        assert!(kinds.contains(&kind), "{kind:?} missing from {kinds:?}");
    }
    assert_eq!(d.job_state(2), JobState::Running);

    // B writes over the cut tail from the start.
    d.feed(3.9, chunk(2, 2, 1, 0, "Maest"));
    assert_eq!(d.client().output.text, "Maest");
}

#[test]
fn a_stalled_holder_whose_lease_expires_is_expected_not_a_warning_and_ends_fenced() {
    let mut d = Dash::with_jobs(2);
    d.feed(0.1, acquired(1, 1, How::Created));
    d.feed(0.2, attempt(2, 1, 1, 1));
    d.feed(0.3, chunk(1, 1, 1, 0, "Maest"));
    d.feed(0.4, stalled(1, 2.0 * LEASE));
    assert_eq!(d.job_state(1), JobState::Stalled);
    assert_eq!(d.state().count(JobState::Stalled), 1);
    assert_eq!(d.state().count(JobState::Running), 0);
    assert!(d.state().warnings.is_empty());

    // The stall was injected: its expiry and the fenced write are the lock
    // working as designed, so they are notices, not warnings.
    d.feed(3.5, lease_expired(2, 1, 1));
    assert!(d.state().warnings.is_empty(), "{:?}", d.state().warnings);

    d.feed(3.5, takeover(2, 2, 1, 0));
    d.feed(3.5, repair(2, 2, 5, 0));
    d.feed(6.4, write_rejected(1, 1, 2));
    assert!(d.state().warnings.is_empty(), "{:?}", d.state().warnings);
    assert!(
        d.state()
            .log
            .iter()
            .any(|l| l.text.contains("REJECTED") && l.level == Level::Notice),
        "the log still tells of the rejected write"
    );
    assert!(marks(&d).contains(&MarkKind::Rejected));

    d.feed(6.4, fenced(1));
    assert_eq!(d.job_state(1), JobState::Fenced);
    assert_eq!(d.state().job(1).unwrap().ended_at, Some(6.4));
    let c = d.client();
    assert_eq!(
        c.holder,
        Some(2),
        "the fenced job was not the holder any more"
    );
    assert!(c.holder_alive);
    assert_eq!(c.segments[0].to, Some(3.5));
}

// ---------------------------------------------------------------------------
// Events that look out of order.
// ---------------------------------------------------------------------------

#[test]
fn a_release_by_a_job_that_is_not_the_holder_leaves_the_holder_alone() {
    let mut d = Dash::with_jobs(2);
    d.feed(0.1, acquired(1, 1, How::Created));
    d.feed(0.2, released(2, 7, 0));
    let c = d.client();
    assert_eq!((c.holder, c.holder_alive), (Some(1), true));
    assert_eq!(c.segments[0].to, None);
    assert_eq!(d.job_state(2), JobState::Queued);
}

#[test]
fn the_end_of_run_recovery_as_job_0_changes_no_job_counts() {
    let mut d = Dash::with_jobs(1);
    d.feed(0.1, acquired(1, 1, How::Created));
    d.feed(0.3, chunk(1, 1, 1, 0, "Maest"));
    d.feed(0.4, killed(1, true));
    let before = d.state().counts;
    d.feed(0.5, attempt(0, 1, 1, 1));
    d.feed(3.5, lease_expired(0, 1, 1));
    d.feed(3.5, takeover(0, 2, 1, 0));
    d.feed(3.5, repair(0, 2, 5, 0));
    d.feed(3.6, released(0, 2, 0));
    d.feed(3.6, finished(0));
    assert_eq!(d.state().counts, before);
    assert_eq!(d.state().jobs.len(), 1);
    let c = d.client();
    assert_eq!(c.holder, None, "the recovery released the lock");
    assert_eq!(c.takeovers, 1);
    assert_eq!(c.output.len, 0);
    assert_eq!(d.job_state(1), JobState::Killed);
}

#[test]
fn events_for_an_unknown_client_touch_no_client_and_do_not_panic() {
    let mut d = Dash::with_jobs(1);
    d.feed(0.1, on("ghost", acquired(1, 1, How::Created)));
    d.feed(0.2, on("ghost", chunk(1, 1, 1, 0, "Maest")));
    d.feed(0.3, on("ghost", repair(1, 1, 5, 0)));
    d.feed(0.4, on("ghost", write_rejected(1, 1, 2)));
    d.feed(0.5, on("ghost", released(1, 1, 0)));
    d.feed(0.5, on("ghost", finished(1)));
    let c = d.client();
    assert_eq!(c.holder, None);
    assert!(c.output.text.is_empty());
    assert!(c.marks.is_empty());
    assert_eq!(d.job_state(1), JobState::Finished);
}

#[test]
fn a_duplicate_queued_event_adds_no_row() {
    let mut d = Dash::with_jobs(2);
    d.feed(0.1, acquired(1, 1, How::Created));
    d.feed(0.2, queued(1));
    d.feed(0.2, queued(2));
    assert_eq!(d.state().jobs.len(), 2);
    assert_eq!(d.job_state(1), JobState::Running, "not reset to queued");
    assert_eq!(d.state().count(JobState::Queued), 1);
}

#[test]
fn events_for_jobs_never_queued_are_ignored() {
    let mut d = Dash::with_jobs(2);
    d.feed(0.1, acquired(9, 1, How::Created));
    d.feed(0.2, chunk(9, 1, 1, 0, "Maest"));
    d.feed(0.3, stalled(9, 1.0));
    d.feed(0.4, crashed(9));
    d.feed(0.5, queued(7));
    assert_eq!(d.state().jobs.len(), 2);
    assert_eq!(d.state().count(JobState::Queued), 2);
}

#[test]
fn a_repeated_end_state_is_counted_once_and_late_attempts_do_not_revive_the_job() {
    let mut d = Dash::with_jobs(2);
    d.feed(0.1, acquired(1, 1, How::Created));
    d.feed(0.2, crashed(1));
    d.feed(0.2, crashed(1));
    assert_eq!(d.state().count(JobState::Crashed), 1);
    // A late attempt does not bring an ended job back to waiting.
    d.feed(0.4, attempt(1, 9, 2, 2));
    assert_eq!(d.job_state(1), JobState::Crashed);
}

#[test]
fn a_heartbeat_from_a_job_that_is_not_the_holder_does_not_renew_the_lease() {
    let mut d = Dash::with_jobs(2);
    d.feed(0.1, acquired(1, 1, How::Created));
    d.feed(1.0, heartbeat(1, 1, 1));
    assert_eq!(d.client().heartbeat_at, 1.0);
    d.feed(2.0, heartbeat(2, 9, 1));
    assert_eq!(d.client().heartbeat_at, 1.0);
    assert!(
        d.state().log.iter().all(|l| !l.text.contains("renewed")),
        "heartbeats stay out of the log"
    );
}

// ---------------------------------------------------------------------------
// Warnings and the end of the run.
// ---------------------------------------------------------------------------

#[test]
fn a_broken_invariant_is_a_warning() {
    let mut d = Dash::with_jobs(1);
    d.feed(
        5.0,
        Event::InvariantBroken {
            what: "two holders at once".into(),
        },
    );
    assert_eq!(d.state().warnings.len(), 1);
    assert!(d.state().warnings[0].contains("two holders at once"));
    assert_eq!(d.state().log.back().unwrap().level, Level::Warning);
}

#[test]
fn run_finished_opens_the_summary_once_and_esc_closes_it_for_good() {
    let mut d = Dash::with_jobs(1);
    let summary = Summary {
        jobs: 1,
        finished: 1,
        ..Summary::default()
    };
    d.feed(
        9.0,
        Event::RunFinished {
            summary: Box::new(summary.clone()),
        },
    );
    assert_eq!(d.state().summary.as_ref(), Some(&summary));
    assert_eq!(d.app.ui.overlay, Overlay::Summary);

    assert_eq!(d.press(Action::Close), Effect::None);
    assert_eq!(d.app.ui.overlay, Overlay::None);
    d.app.after_events();
    d.feed(9.1, Event::Resumed);
    assert_eq!(d.app.ui.overlay, Overlay::None, "closed for good");
}

#[test]
fn the_summary_does_not_cover_an_overlay_the_user_opened() {
    let mut d = Dash::with_jobs(1);
    d.press(Action::Help);
    d.feed(
        9.0,
        Event::RunFinished {
            summary: Box::default(),
        },
    );
    assert_eq!(d.app.ui.overlay, Overlay::Help);
}

// ---------------------------------------------------------------------------
// View state and key actions.
// ---------------------------------------------------------------------------

#[test]
fn down_and_up_move_the_selection_and_stop_at_the_ends() {
    let mut d = Dash::with_jobs(4);
    assert_eq!(d.app.ui.selected, Some(1));
    d.press(Action::Up);
    assert_eq!(d.app.ui.selected, Some(1), "clamped at the top");
    d.press(Action::Down);
    d.press(Action::Down);
    assert_eq!(d.app.ui.selected, Some(3));
    for _ in 0..10 {
        d.press(Action::Down);
    }
    assert_eq!(d.app.ui.selected, Some(4), "clamped at the bottom");
    d.press(Action::Up);
    assert_eq!(d.app.ui.selected, Some(3));
    d.press(Action::PageUp);
    assert_eq!(d.app.ui.selected, Some(1));
}

#[test]
fn the_selection_moves_among_visible_rows_only() {
    let mut d = Dash::with_jobs(5);
    d.feed(0.1, acquired(1, 1, How::Created));
    d.feed(0.2, attempt(3, 1, 1, 1));
    d.feed(0.2, attempt(5, 1, 1, 1));
    // Filter to waiting: queued, then waiting.
    d.press(Action::CycleFilter);
    d.press(Action::CycleFilter);
    assert_eq!(d.app.ui.filter, Some(JobState::Waiting));
    assert_eq!(d.rows(), [3, 5]);
    // Job 1 (selected) is filtered out: a move lands on a shown row.
    d.press(Action::Down);
    let at = d.app.ui.selected.unwrap();
    assert!([3, 5].contains(&at), "selected {at}, not a shown row");
    d.press(Action::Up);
    assert_eq!(d.app.ui.selected, Some(3));
    d.press(Action::Up);
    assert_eq!(d.app.ui.selected, Some(3), "clamped at the first shown row");
    d.press(Action::Down);
    d.press(Action::Down);
    assert_eq!(d.app.ui.selected, Some(5), "clamped at the last shown row");
}

#[test]
fn the_filter_cycles_through_every_state_then_back_to_none() {
    let mut d = Dash::with_jobs(3);
    d.feed(0.1, acquired(1, 1, How::Created));
    d.feed(0.2, attempt(2, 1, 1, 1));
    assert_eq!(d.app.ui.filter, None);
    for s in JobState::ALL {
        d.press(Action::CycleFilter);
        assert_eq!(d.app.ui.filter, Some(s));
        let shown = d.rows();
        let expected: Vec<JobId> = d
            .state()
            .jobs
            .iter()
            .filter(|j| j.state == s)
            .map(|j| j.id)
            .collect();
        assert_eq!(shown, expected, "filter {s:?}");
    }
    d.press(Action::CycleFilter);
    assert_eq!(d.app.ui.filter, None);
    assert_eq!(d.rows(), [1, 2, 3]);
}

#[test]
fn sorting_by_attempts_orders_rows_and_reverse_flips_them() {
    let mut d = Dash::with_jobs(4);
    d.feed(0.1, acquired(1, 1, How::Created));
    d.feed(0.2, attempt(2, 3, 1, 1));
    d.feed(0.2, attempt(3, 1, 1, 1));
    d.feed(0.2, attempt(4, 2, 1, 1));
    assert_eq!(d.app.ui.sort, SortKey::Number);
    for _ in 0..3 {
        d.press(Action::CycleSort);
    }
    assert_eq!(d.app.ui.sort, SortKey::Attempts);
    assert_eq!(
        d.rows(),
        [1, 3, 4, 2],
        "1 attempt each for jobs 1 and 3, by id"
    );
    d.press(Action::ReverseSort);
    assert_eq!(d.rows(), [2, 4, 3, 1]);
    d.press(Action::ReverseSort);
    assert_eq!(d.rows(), [1, 3, 4, 2]);
}

#[test]
fn sort_keys_cycle_through_every_column_and_back_to_number() {
    let mut d = Dash::with_jobs(1);
    let mut seen = vec![d.app.ui.sort];
    for _ in 0..7 {
        d.press(Action::CycleSort);
        seen.push(d.app.ui.sort);
    }
    assert_eq!(
        seen,
        [
            SortKey::Number,
            SortKey::State,
            SortKey::Client,
            SortKey::Attempts,
            SortKey::Wait,
            SortKey::Run,
            SortKey::Chunks,
            SortKey::Number
        ]
    );
}

#[test]
fn the_selected_job_stays_selected_when_rows_resort_or_jobs_arrive() {
    let mut d = Dash::with_jobs(4);
    d.feed(0.1, acquired(1, 1, How::Created));
    d.feed(0.2, attempt(2, 3, 1, 1));
    d.feed(0.2, attempt(3, 1, 1, 1));
    d.feed(0.2, attempt(4, 2, 1, 1));
    d.press(Action::Down);
    assert_eq!(d.app.ui.selected, Some(2));
    for _ in 0..3 {
        d.press(Action::CycleSort);
    }
    assert_eq!(d.app.ui.selected, Some(2), "same job after re-sorting");
    d.feed(0.5, queued(5));
    d.feed(0.6, attempt(3, 5, 1, 1));
    assert_eq!(d.rows(), [5, 1, 4, 2, 3]);
    assert_eq!(d.app.ui.selected, Some(2), "same job after new rows");
    d.press(Action::Up);
    assert_eq!(
        d.app.ui.selected,
        Some(4),
        "moves from where the job is now"
    );
}

#[test]
fn detail_opens_the_selected_job_and_esc_closes_it() {
    let mut d = Dash::with_jobs(3);
    d.press(Action::Down);
    d.press(Action::Detail);
    assert_eq!(d.app.ui.overlay, Overlay::Detail(2));
    d.press(Action::Down);
    assert_eq!(
        d.app.ui.selected,
        Some(2),
        "movement is modal under an overlay"
    );
    d.press(Action::Close);
    assert_eq!(d.app.ui.overlay, Overlay::None);
}

#[test]
fn help_opens_and_the_same_key_closes_it() {
    let mut d = Dash::with_jobs(1);
    d.press(Action::Help);
    assert_eq!(d.app.ui.overlay, Overlay::Help);
    d.press(Action::Help);
    assert_eq!(d.app.ui.overlay, Overlay::None);
}

#[test]
fn fault_keys_become_commands_for_the_holder() {
    let mut d = Dash::with_jobs(2);
    d.feed(0.1, acquired(1, 1, How::Created));
    assert_eq!(
        d.press(Action::KillHolder),
        Effect::Send(Command::Kill(Target::Holder(Some("client-1".into()))))
    );
    assert_eq!(
        d.press(Action::CrashHolder),
        Effect::Send(Command::Crash(Target::Holder(Some("client-1".into()))))
    );
    assert_eq!(
        d.press(Action::StallHolder),
        Effect::Send(Command::Stall(
            Target::Holder(Some("client-1".into())),
            2.0 * LEASE
        ))
    );
    d.press(Action::Down);
    assert_eq!(
        d.press(Action::CrashSelected),
        Effect::Send(Command::Crash(Target::Job(2)))
    );
    assert_eq!(
        d.press(Action::AddJob),
        Effect::Send(Command::AddJob(Some("client-1".into())))
    );
}

#[test]
fn faster_and_slower_scale_the_current_speed() {
    let mut d = Dash::with_jobs(1);
    assert_eq!(
        d.press(Action::Faster),
        Effect::Send(Command::SetSpeed(2.0))
    );
    d.feed(0.1, Event::SpeedChanged { speed: 2.0 });
    assert_eq!(
        d.press(Action::Faster),
        Effect::Send(Command::SetSpeed(4.0))
    );
    assert_eq!(
        d.press(Action::Slower),
        Effect::Send(Command::SetSpeed(1.0))
    );
}

/// `run_started` on a real clock at `speed` (the hand-built runs are virtual).
fn real_run_at(speed: f64) -> Event {
    let mut started = run_started(1, 1);
    if let Event::RunStarted {
        clock, speed: s, ..
    } = &mut started
    {
        *clock = "real".into();
        *s = speed;
    }
    started
}

#[test]
fn a_lease_under_the_floor_is_folded_from_the_start_and_every_speed_change() {
    let mut d = Dash::new();
    d.feed(0.0, real_run_at(1000.0));
    let below = d.state().below_floor().expect("under the floor at 1000x");
    assert_eq!((below.speed, below.lease_real), (1000.0, 0.003));
    let last = d.state().log.back().map(|l| (l.text.clone(), l.level));
    assert!(
        matches!(&last, Some((t, Level::Warning)) if t.starts_with("⚠ warning: at --speed 1000 the 3s lease is 3ms")),
        "{last:?}"
    );
    // Not a run anomaly: the header's warning count stays at 0.
    assert!(d.state().warnings.is_empty());
    // Back to 1x: above the floor, and the log says so.
    d.feed(0.1, Event::SpeedChanged { speed: 1.0 });
    assert_eq!(d.state().below_floor(), None);
    let last = d
        .state()
        .log
        .back()
        .map(|l| l.text.clone())
        .unwrap_or_default();
    assert!(last.contains("back above the 200ms floor"), "{last}");
    // `]` up to 8x crosses it again (1 s of slack / 8 = 125 ms).
    d.feed(0.2, Event::SpeedChanged { speed: 8.0 });
    assert_eq!(d.state().below_floor().map(|b| b.speed), Some(8.0));
}

#[test]
fn a_virtual_clock_or_an_old_recording_has_no_floor() {
    let mut d = Dash::new();
    d.feed(0.0, run_started(1, 1));
    d.feed(0.1, Event::SpeedChanged { speed: 1e6 });
    assert_eq!(d.state().below_floor(), None, "a virtual clock");
    let mut old = real_run_at(1000.0);
    if let Event::RunStarted { floor, .. } = &mut old {
        *floor = 0.0;
    }
    let mut d = Dash::new();
    d.feed(0.0, old);
    assert_eq!(
        d.state().below_floor(),
        None,
        "a recording that states no floor"
    );
}

#[test]
fn space_pauses_and_once_paused_resumes() {
    let mut d = Dash::with_jobs(1);
    assert_eq!(d.press(Action::TogglePause), Effect::Send(Command::Pause));
    assert_eq!(
        d.press(Action::TogglePause),
        Effect::Send(Command::Pause),
        "nothing changes until the engine says it paused"
    );
    d.feed(0.1, Event::Paused);
    assert!(d.state().paused);
    assert_eq!(d.press(Action::TogglePause), Effect::Send(Command::Resume));
    d.feed(0.1, Event::Resumed);
    assert!(!d.state().paused);
}

#[test]
fn quit_and_restart_work_even_under_an_overlay() {
    let mut d = Dash::with_jobs(1);
    assert_eq!(d.press(Action::Quit), Effect::Quit);
    d.press(Action::Help);
    assert_eq!(d.press(Action::Quit), Effect::Quit);
    assert_eq!(d.press(Action::Restart), Effect::Restart);
}

#[test]
fn tab_moves_arrows_to_the_log_which_scrolls_within_its_lines() {
    let mut d = Dash::with_jobs(3);
    let lines = d.state().log.len();
    d.press(Action::FocusNext);
    d.press(Action::Down);
    assert_eq!(d.app.ui.log_scroll, 1);
    assert_eq!(d.app.ui.selected, Some(1), "the table selection stays");
    for _ in 0..100 {
        d.press(Action::Down);
    }
    assert_eq!(d.app.ui.log_scroll, lines - 1);
    d.press(Action::FocusNext);
    d.press(Action::Down);
    assert_eq!(d.app.ui.selected, Some(2));
}
