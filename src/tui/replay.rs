//! The dashboard on a recording: the same model and view as a live run, fed by a
//! [`Player`] instead of an engine. The state is a fold of events, so the screen
//! at scenario time `t` is the live one at `t`: moving forward folds the next
//! events, moving back folds again from the start.

use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, select};
use ratatui::Terminal;
use ratatui::backend::Backend;

use super::app::{App, Effect, Move};
use super::state::DashState;
use super::theme::Theme;
use super::view::fmt_speed;
use super::{FRAME, Flow, TuiError};
use crate::events::recording::Recording;
use crate::replay::{Player, Step};
use crate::screen::{Input, TerminalGuard, input};

/// A replay's loop state: the model, the player, the inputs.
pub struct Replay {
    app: App,
    player: Player,
    input: Receiver<Input>,
    signals: Receiver<i32>,
    ticker: Receiver<Instant>,
    /// When playback last advanced (real time).
    last_tick: Instant,
}

impl Replay {
    /// A replay of `recording`, paused at its start, at `speed`.
    pub fn new(recording: Recording, input: Receiver<Input>, theme: Theme) -> Replay {
        let mut replay = Replay {
            app: App::replay(theme),
            player: Player::new(recording.events),
            input,
            signals: crossbeam_channel::never(),
            ticker: crossbeam_channel::tick(FRAME),
            last_tick: Instant::now(),
        };
        replay.label();
        replay
    }

    /// Leaves when a number arrives on `signals` (SIGTERM, SIGHUP).
    pub fn with_signals(mut self, signals: Receiver<i32>) -> Replay {
        self.signals = signals;
        self
    }

    /// The model.
    pub fn app(&self) -> &App {
        &self.app
    }

    /// The playback position.
    pub fn player(&self) -> &Player {
        &self.player
    }

    /// Scenario time shown: where playback stands.
    pub fn now(&self) -> f64 {
        self.player.time()
    }

    /// Carries out a move of the playback position and folds what it names.
    pub fn apply(&mut self, m: Move) {
        let step = match m {
            Move::TogglePlay => {
                let play = !self.player.playing();
                self.player.set_playing(play);
                self.last_tick = Instant::now();
                return self.label();
            }
            Move::Speed(s) => {
                self.player.set_speed(s);
                self.app.state.speed = self.player.speed();
                return self.label();
            }
            Move::By(dt) => self.player.seek_by(dt),
            Move::Start => self.player.to_start(),
            Move::End => self.player.to_end(),
            Move::Step => self.player.step_forward(),
            Move::StepBack => self.player.step_back(),
            Move::NextMark => self.player.next_mark(),
            Move::PrevMark => self.player.prev_mark(),
        };
        self.fold(step);
    }

    /// Lets `real` time pass for playback.
    pub fn advance(&mut self, real: Duration) {
        let step = self.player.advance(real);
        self.fold(step);
    }

    fn fold(&mut self, step: Step) {
        match step {
            Step::Forward(range) => {
                for ev in &self.player.events()[range] {
                    self.app.state.apply(ev);
                }
            }
            Step::Rebuild(n) => {
                self.app.state = DashState::new();
                for ev in &self.player.events()[..n] {
                    self.app.state.apply(ev);
                }
            }
        }
        // The recorded speed is the run's; the header shows the playback's.
        self.app.state.speed = self.player.speed();
        self.app.after_events();
        self.label();
    }

    /// The header's badge: playing or paused, speed, and which event of how many
    /// (the header shows the time itself).
    fn label(&mut self) {
        let p = &self.player;
        self.app.ui.replay_label = Some(format!(
            "{} REPLAY {}x · event {}/{}",
            if p.playing() { "▶" } else { "‖" },
            fmt_speed(p.speed()),
            p.cursor(),
            p.events().len()
        ));
    }

    /// Waits for the next input or tick, handles it, and draws.
    pub fn step<B: Backend>(&mut self, terminal: &mut Terminal<B>) -> Result<Flow, TuiError> {
        select! {
            recv(self.input) -> input => match input {
                Ok(input) => {
                    let effect = self.app.on_input(input, self.now());
                    match effect {
                        Effect::Quit => return Ok(Flow::Exit(None)),
                        Effect::Replay(m) => self.apply(m),
                        // A replay sends nothing anywhere (the app refuses faults).
                        Effect::None | Effect::Send(_) | Effect::Restart => {}
                    }
                    self.app.after_events();
                }
                Err(_) => self.input = crossbeam_channel::never(),
            },
            recv(self.signals) -> _ => return Ok(Flow::Exit(None)),
            recv(self.ticker) -> _ => {}
        }
        let now = Instant::now();
        let real = now.duration_since(self.last_tick);
        self.last_tick = now;
        if self.player.playing() {
            self.advance(real);
        }
        self.draw(terminal)?;
        Ok(Flow::Continue)
    }

    /// Draws one frame now.
    pub fn draw<B: Backend>(&mut self, terminal: &mut Terminal<B>) -> Result<(), TuiError> {
        let now = self.now();
        super::draw_app(terminal, &mut self.app, now)
    }
}

/// Opens the dashboard in this terminal on `recording`, at `speed`, from scenario
/// time `at` (playing), until `q`, SIGTERM or SIGHUP.
pub fn run(recording: Recording, speed: f64, at: f64) -> Result<(), TuiError> {
    let input = input::spawn();
    let signals = crate::screen::signals::spawn();
    let mut replay = Replay::new(recording, input, Theme::from_env()).with_signals(signals);
    replay.apply(Move::Speed(speed));
    replay.apply(Move::By(at));
    replay.apply(Move::TogglePlay);
    let mut guard =
        TerminalGuard::enter_with_mouse().map_err(|e| TuiError::Terminal(e.to_string()))?;
    loop {
        if let Flow::Exit(_) = replay.step(guard.terminal())? {
            return Ok(());
        }
    }
}
