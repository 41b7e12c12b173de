//! The dashboard: a live view of the lock, fed by the engine's event stream, with
//! keys that send faults back on the command channel.
//!
//! The loop waits on three sources at once (engine events, key presses, a frame
//! tick), drains every queued event before drawing, and draws at most
//! [`FRAME`]-apart. It is generic over the ratatui backend, so tests drive the real
//! loop in a `TestBackend`.

pub mod app;
pub mod keys;
pub mod replay;
pub mod state;
pub mod theme;
pub mod view;

use std::io::{self, Write};
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, select};
use ratatui::Terminal;
use ratatui::backend::Backend;

use crate::screen::{Input, TerminalGuard, input};
use app::{App, Effect};
use theme::Theme;

use crate::engine::{self, EngineError, RunHandle, Scenario, seeds};
use crate::events::{Command, Stamped, Summary};

/// Minimum time between two frames (about 30 a second).
pub const FRAME: Duration = Duration::from_millis(33);

/// How long a dashboard that failed waits for its run to stop cleanly.
const STOP_WAIT: Duration = Duration::from_secs(30);

/// Why the dashboard failed.
#[derive(Debug, thiserror::Error)]
pub enum TuiError {
    /// The engine could not start.
    #[error(transparent)]
    Engine(#[from] EngineError),
    /// The terminal failed.
    #[error("terminal: {0}")]
    Terminal(String),
    /// The events file could not be written.
    #[error("cannot write the events file: {0}")]
    Record(io::Error),
}

/// What a step of the loop decided.
#[derive(Debug)]
pub enum Flow {
    /// Keep going.
    Continue,
    /// The user quit; the last run's summary, if it ended (boxed: a summary is
    /// large and a step returns `Continue` many times a second).
    Exit(Option<Box<Summary>>),
}

/// The dashboard's loop state: the model, the running engine, the inputs.
pub struct Dashboard {
    app: App,
    scenario: Scenario,
    run: RunHandle,
    /// The run's event stream (`never()` once it has closed).
    events: Receiver<Stamped>,
    input: Receiver<Input>,
    /// SIGTERM and SIGHUP: leave as `q` does.
    signals: Receiver<i32>,
    ticker: Receiver<Instant>,
    /// Quit (or restart) asked: the run was told to stop; leave when it reports done.
    leaving: Option<Leaving>,
    dirty: bool,
    last_draw: Option<Instant>,
    /// Where every event is also written as a JSON line (`--events`).
    recorder: Option<Box<dyn Write>>,
    /// The first failure to record, reported when the dashboard closes.
    record_error: Option<io::Error>,
    /// Opens recording number N (2, 3...) when `r` restarts the run: each run
    /// gets its own recording, with its own header, instead of appending.
    next_recording: Option<NextRecording>,
    /// Recordings made so far.
    recordings: u32,
}

/// Opens the recording of the `n`th run (from 2) of `scenario`: a new file with
/// its header written; returns it and where it is, for the footer.
pub type NextRecording =
    Box<dyn FnMut(&Scenario, u32) -> io::Result<(Box<dyn Write>, String)> + Send>;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Leaving {
    Quit,
    Restart,
}

impl Dashboard {
    /// Starts the engine on `scenario` and a dashboard to watch it.
    pub fn start(
        scenario: Scenario,
        input: Receiver<Input>,
        theme: Theme,
    ) -> Result<Self, TuiError> {
        let run = engine::start(scenario.clone())?;
        Ok(Dashboard {
            app: App::new(theme),
            scenario,
            events: run.events().clone(),
            run,
            input,
            signals: crossbeam_channel::never(),
            ticker: crossbeam_channel::tick(FRAME),
            leaving: None,
            dirty: true,
            last_draw: None,
            recorder: None,
            record_error: None,
            next_recording: None,
            recordings: 0,
        })
    }

    /// Also records every event as a JSON line to `w` (the `--events` file).
    pub fn with_recorder(mut self, w: Box<dyn Write>) -> Dashboard {
        self.recorder = Some(w);
        self.recordings = 1;
        self
    }

    /// How to open the next run's recording when `r` restarts.
    pub fn with_next_recording(mut self, open: NextRecording) -> Dashboard {
        self.next_recording = Some(open);
        self
    }

    /// Leaves as `q` does when a number arrives on `signals` (SIGTERM, SIGHUP).
    pub fn with_signals(mut self, signals: Receiver<i32>) -> Dashboard {
        self.signals = signals;
        self
    }

    /// The first error met while recording events, if any.
    pub fn take_record_error(&mut self) -> Option<io::Error> {
        if let Some(w) = self.recorder.as_mut()
            && let Err(e) = w.flush()
        {
            self.record_error.get_or_insert(e);
        }
        self.record_error.take()
    }

    fn record(&mut self, ev: &Stamped) {
        let Some(w) = self.recorder.as_mut() else {
            return;
        };
        if self.record_error.is_some() {
            return;
        }
        if let Err(e) = ev.write_json_line(w.as_mut()) {
            self.record_error = Some(e);
        }
    }

    /// The model (for tests and for the caller's exit code).
    pub fn app(&self) -> &App {
        &self.app
    }

    /// Scenario time now; once the run is over, the time it ended (the end
    /// screen stands still).
    pub fn now(&self) -> f64 {
        self.app
            .state
            .ended_at()
            .unwrap_or_else(|| self.run.clock().now_secs())
    }

    /// Waits for the next input, event batch or tick, handles it, and draws if due.
    pub fn step<B: Backend>(&mut self, terminal: &mut Terminal<B>) -> Result<Flow, TuiError> {
        let events = self.events.clone();
        select! {
            recv(events) -> ev => {
                if let Ok(ev) = ev {
                    self.record(&ev);
                    self.app.state.apply(&ev);
                    // Drain everything queued so one frame shows the latest state.
                    while let Ok(ev) = events.try_recv() {
                        self.record(&ev);
                        self.app.state.apply(&ev);
                    }
                    self.app.after_events();
                    self.dirty = true;
                } else {
                    // The run is over and its stream closed: stop listening, or the
                    // loop would spin on the closed channel.
                    self.events = crossbeam_channel::never();
                }
            }
            recv(self.input) -> input => match input {
                Ok(input) => {
                    let effect = self.app.on_input(input, self.now());
                    self.apply(effect);
                    // Closing an overlay may uncover a summary that arrived meanwhile.
                    self.app.after_events();
                    self.dirty = true;
                }
                // No more input (the input thread ended): keep showing the run.
                Err(_) => self.input = crossbeam_channel::never(),
            },
            recv(self.signals) -> signal => match signal {
                // A second signal while leaving: stop waiting for the run.
                Ok(_) if self.leaving.is_some() => return Ok(Flow::Exit(self.app.state.summary.clone().map(Box::new))),
                Ok(_) => self.leave(Leaving::Quit),
                Err(_) => self.signals = crossbeam_channel::never(),
            },
            recv(self.ticker) -> _ => {}
        }
        if let Some(flow) = self.finish_leaving()? {
            return Ok(flow);
        }
        self.draw_if_due(terminal)?;
        Ok(Flow::Continue)
    }

    fn apply(&mut self, effect: Effect) {
        match effect {
            Effect::None => {}
            Effect::Send(cmd) => {
                let _ = self.run.commands().send(cmd);
            }
            Effect::Quit => self.leave(Leaving::Quit),
            Effect::Restart => self.leave(Leaving::Restart),
            // A live run has no replay to move (the app says so before it gets here).
            Effect::Replay(_) => {}
        }
    }

    fn leave(&mut self, why: Leaving) {
        self.leaving = Some(why);
        if self.app.state.summary.is_none() {
            self.ask_stop();
        }
    }

    /// Once the stopped run has reported its summary: leave, or start a new run.
    fn finish_leaving(&mut self) -> Result<Option<Flow>, TuiError> {
        let Some(why) = self.leaving else {
            return Ok(None);
        };
        if self.app.state.summary.is_none() {
            return Ok(None);
        }
        match why {
            Leaving::Quit => Ok(Some(Flow::Exit(
                self.app.state.summary.clone().map(Box::new),
            ))),
            Leaving::Restart => {
                self.scenario.seed = seeds::fresh_seed();
                self.run = engine::start(self.scenario.clone())?;
                self.events = self.run.events().clone();
                self.app = App::new(self.app.theme);
                self.new_recording();
                self.leaving = None;
                self.dirty = true;
                Ok(None)
            }
        }
    }

    /// The restarted run records to a file of its own (or not at all, said once).
    fn new_recording(&mut self) {
        if self.recorder.is_none() {
            return;
        }
        if let Some(w) = self.recorder.as_mut()
            && let Err(e) = w.flush()
        {
            self.record_error.get_or_insert(e);
        }
        self.recorder = None;
        let Some(open) = self.next_recording.as_mut() else {
            self.app.ui.notice = Some("this run is not recorded (only the first one was)".into());
            return;
        };
        self.recordings += 1;
        match open(&self.scenario, self.recordings) {
            Ok((w, path)) => {
                self.recorder = Some(w);
                self.app.ui.notice = Some(format!("recording this run to {path}"));
            }
            Err(e) => {
                self.app.ui.notice = Some(format!("cannot record this run: {e}"));
            }
        }
    }

    /// Tells the run to stop; resumed first, since a paused clock would hold jobs
    /// in their store latency.
    fn ask_stop(&self) {
        let _ = self.run.commands().send(Command::Resume);
        let _ = self.run.commands().send(Command::Stop);
    }

    /// Stops the run and waits for it to end (partial writes repaired): the way
    /// out after the loop itself failed.
    fn stop_run(&mut self) {
        self.ask_stop();
        let events = self.run.events().clone();
        let deadline = Instant::now() + STOP_WAIT;
        while let Ok(ev) = events.recv_deadline(deadline) {
            self.record(&ev);
            if matches!(ev.event, crate::events::Event::RunFinished { .. }) {
                break;
            }
        }
    }

    fn draw_if_due<B: Backend>(&mut self, terminal: &mut Terminal<B>) -> Result<(), TuiError> {
        let live = self.app.state.summary.is_none() && !self.app.state.paused;
        let due = self.last_draw.is_none_or(|t| t.elapsed() >= FRAME);
        if !(due && (self.dirty || live)) {
            return Ok(());
        }
        self.draw(terminal)
    }

    /// Draws one frame now.
    pub fn draw<B: Backend>(&mut self, terminal: &mut Terminal<B>) -> Result<(), TuiError> {
        let now = self.now();
        draw_app(terminal, &mut self.app, now)?;
        self.dirty = false;
        self.last_draw = Some(Instant::now());
        Ok(())
    }
}

/// Draws `app` at scenario time `now` and keeps what the frame learned (page
/// sizes, where each panel went): the one way both the live loop and the replay draw.
fn draw_app<B: Backend>(
    terminal: &mut Terminal<B>,
    app: &mut App,
    now: f64,
) -> Result<(), TuiError> {
    let mut drawn = view::Drawn::default();
    terminal
        .draw(|f| drawn = view::render(f, app, now))
        .map_err(|e| TuiError::Terminal(e.to_string()))?;
    app.ui.remember(&drawn);
    Ok(())
}

/// Runs the dashboard until the user quits; returns the last run's summary.
pub fn run_loop<B: Backend>(
    terminal: &mut Terminal<B>,
    dashboard: &mut Dashboard,
) -> Result<Option<Summary>, TuiError> {
    loop {
        if let Flow::Exit(summary) = dashboard.step(terminal)? {
            return Ok(summary.map(|s| *s));
        }
    }
}

/// Opens the dashboard in this terminal on `scenario` until the user quits (or a
/// SIGTERM or SIGHUP arrives), recording events to `recorder` if given and each
/// restarted run to what `next` opens.
///
/// Whatever ends the loop (an error, a panic in drawing) the run is stopped
/// cleanly first, so its outputs hold whole records only, and the terminal is
/// restored.
pub fn run(
    scenario: Scenario,
    recorder: Option<Box<dyn Write>>,
    next: Option<NextRecording>,
) -> Result<Option<Summary>, TuiError> {
    let input = input::spawn();
    let signals = crate::screen::signals::spawn();
    let mut dashboard = Dashboard::start(scenario, input, Theme::from_env())?.with_signals(signals);
    if let Some(w) = recorder {
        dashboard = dashboard.with_recorder(w);
    }
    if let Some(open) = next {
        dashboard = dashboard.with_next_recording(open);
    }
    let outcome = {
        let mut guard = match TerminalGuard::enter_with_mouse() {
            Ok(g) => g,
            Err(e) => {
                dashboard.stop_run();
                return Err(TuiError::Terminal(e.to_string()));
            }
        };
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            run_loop(guard.terminal(), &mut dashboard)
        }))
    };
    let summary = match outcome {
        Ok(Ok(summary)) => summary,
        Ok(Err(e)) => {
            dashboard.stop_run();
            return Err(e);
        }
        Err(panic) => {
            // The terminal is restored (the guard dropped); the run must not be
            // cut mid-record: stop it, then let the panic go on.
            eprintln!("joblock: the dashboard failed; stopping the run cleanly");
            dashboard.stop_run();
            std::panic::resume_unwind(panic);
        }
    };
    if let Some(e) = dashboard.take_record_error() {
        return Err(TuiError::Record(e));
    }
    Ok(summary)
}
