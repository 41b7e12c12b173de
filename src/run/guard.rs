//! The guardian: a tiny second process that kills the command's process group
//! when the wrapper can no longer vouch for the lock.
//!
//! The wrapper can be killed (`kill -9`) or frozen (`SIGSTOP`) at any moment, and
//! then nothing it does happens. The kernel's parent-death signal covers the first
//! case for the command itself but not for its own children, and nothing in the
//! kernel covers the second. So the wrapper starts `joblock __guard` (itself) with
//! a pipe on its stdin and tells it, line by line:
//!
//! * `group PGID` — the command's process group;
//! * `deadline MS` — kill the group if no newer deadline arrives within MS
//!   milliseconds (the wrapper sends its lease's end, less a margin, after every
//!   renewal);
//! * `done` — the command has ended: exit without killing anything.
//!
//! End of input without `done` means the wrapper died: the guardian kills the group
//! at once. It ignores SIGINT, SIGTERM and SIGHUP (a Ctrl-C to the terminal's
//! group must not take the guard away while the wrapper still holds the lock).

#![allow(unsafe_code)]

use std::io::{self, BufRead, Write};
use std::process::{Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use crossbeam_channel::{RecvTimeoutError, unbounded};
use rustix::process::{Pid, Signal, kill_process_group};

/// The hidden subcommand that runs the guardian.
pub const GUARD_SUBCOMMAND: &str = "__guard";

/// The wrapper's end of a running guardian.
pub struct Guardian {
    /// Its stdin: the only tie the wrapper keeps (it is never waited for; it exits
    /// on `done` or on end of input).
    input: Option<Box<dyn Write + Send>>,
}

impl Guardian {
    /// Starts the guardian from this very executable.
    pub fn start() -> io::Result<Guardian> {
        let exe = std::env::current_exe()?;
        let mut child = Command::new(exe)
            .arg(GUARD_SUBCOMMAND)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .spawn()?;
        let input = child.stdin.take();
        Ok(Guardian {
            input: input.map(|i| Box::new(i) as Box<dyn Write + Send>),
        })
    }

    /// Forks the guardian off this process (no exec: a fraction of a
    /// millisecond). Only sound while the process has one thread: the child runs
    /// ordinary Rust code, and a lock another thread held at the fork would stay
    /// held in it for ever. [`Guardian::start_soon`] checks that first.
    fn fork() -> io::Result<Guardian> {
        let (read, write) = rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC)?;
        // SAFETY: the process has a single thread (checked by the caller), so the
        // child inherits no lock held by another thread; it leaves with `_exit`,
        // running no destructor or exit handler of the parent's.
        match unsafe { libc::fork() } {
            -1 => Err(io::Error::last_os_error()),
            0 => {
                drop(write);
                // Like the exec'd guardian: no stdin or stdout of the wrapper's,
                // so a pipe reading the wrapper's output ends when the wrapper does.
                if let Ok(null) = std::fs::OpenOptions::new()
                    .read(true)
                    .write(true)
                    .open("/dev/null")
                {
                    let _ = rustix::stdio::dup2_stdin(&null);
                    let _ = rustix::stdio::dup2_stdout(&null);
                }
                let code = guard_loop(std::fs::File::from(read));
                // SAFETY: ends the forked child without touching the parent's state.
                unsafe { libc::_exit(i32::from(code)) }
            }
            _ => {
                drop(read);
                Ok(Guardian {
                    input: Some(Box::new(std::fs::File::from(write))),
                })
            }
        }
    }

    fn say(&mut self, line: &str) -> io::Result<()> {
        let input = self
            .input
            .as_mut()
            .ok_or_else(|| io::Error::other("the guardian's input is closed"))?;
        input.write_all(line.as_bytes())?;
        input.write_all(b"\n")?;
        input.flush()
    }

    /// Tells the guardian which process group to guard.
    pub fn guard(&mut self, pgid: u32) -> io::Result<()> {
        self.say(&format!("group {pgid}"))
    }

    /// Tells the guardian to kill the group unless it hears again within `left`.
    pub fn deadline(&mut self, left: Duration) -> io::Result<()> {
        self.say(&format!("deadline {}", left.as_millis()))
    }

    /// The command has ended: the guardian exits without killing anything. Not
    /// waited for (it exits on its own; the wrapper need not pay for that).
    pub fn finish(mut self) {
        let _ = self.say("done");
        self.input = None;
    }

    /// Starts the guardian: forked at once if this process has one thread (as
    /// `joblock run` has when it calls this), else started from this executable on
    /// a thread of its own, so that its start overlaps opening the store and
    /// acquiring; [`Starting::ready`] waits for it.
    pub fn start_soon() -> Starting {
        let (tx, rx) = crossbeam_channel::bounded(1);
        if single_threaded() {
            let _ = tx.send(Guardian::fork());
            return Starting(Ok(rx));
        }
        let spawned = thread::Builder::new()
            .name("guardian-start".into())
            .spawn(move || {
                let _ = tx.send(Guardian::start());
            });
        Starting(spawned.map(|_| rx).map_err(|e| e.to_string()))
    }
}

/// A guardian being started ([`Guardian::start_soon`]).
pub struct Starting(Result<crossbeam_channel::Receiver<io::Result<Guardian>>, String>);

impl Starting {
    /// The started guardian, or why it could not start.
    pub fn ready(self) -> Result<Guardian, String> {
        let rx = self.0?;
        match rx.recv() {
            Ok(started) => started.map_err(|e| e.to_string()),
            Err(_) => Err("the thread starting it died".into()),
        }
    }
}

/// What the guardian heard.
enum Heard {
    Group(u32),
    Deadline(Duration),
    Done,
}

fn parse(line: &str) -> Option<Heard> {
    let mut words = line.split_whitespace();
    match (words.next()?, words.next()) {
        ("group", Some(n)) => n.parse().ok().map(Heard::Group),
        ("deadline", Some(n)) => n
            .parse()
            .ok()
            .map(|ms| Heard::Deadline(Duration::from_millis(ms))),
        ("done", None) => Some(Heard::Done),
        _ => None,
    }
}

fn kill_group(group: Option<u32>) {
    if let Some(pid) = group.and_then(|g| Pid::from_raw(g as i32)) {
        let _ = kill_process_group(pid, Signal::KILL);
    }
}

/// Whether this process has exactly one thread (Linux: `/proc/self/status`).
fn single_threaded() -> bool {
    std::fs::read_to_string("/proc/self/status").is_ok_and(|s| {
        s.lines()
            .find_map(|l| l.strip_prefix("Threads:"))
            .is_some_and(|n| n.trim() == "1")
    })
}

/// The guardian's main when started as `joblock __guard`: returns its exit code.
pub fn guard_main() -> u8 {
    guard_loop(io::stdin())
}

/// The guardian: reads the wrapper's lines from `input` until `done` or its end.
fn guard_loop(input: impl io::Read + Send + 'static) -> u8 {
    for sig in [
        signal_hook::consts::SIGINT,
        signal_hook::consts::SIGTERM,
        signal_hook::consts::SIGHUP,
    ] {
        // A flag nobody reads: the signal is taken and ignored.
        let _ = signal_hook::flag::register(sig, std::sync::Arc::default());
    }
    let (tx, rx) = unbounded();
    let reader = thread::Builder::new()
        .name("guard-input".into())
        .spawn(move || {
            for line in io::BufReader::new(input).lines() {
                let Ok(line) = line else { break };
                if let Some(heard) = parse(&line)
                    && tx.send(heard).is_err()
                {
                    break;
                }
            }
            // Dropping `tx` tells the main loop the wrapper is gone.
        });
    if reader.is_err() {
        return 1;
    }
    let mut group = None;
    let mut deadline: Option<Instant> = None;
    loop {
        let heard = match deadline {
            Some(d) => rx.recv_deadline(d),
            None => rx.recv().map_err(|_| RecvTimeoutError::Disconnected),
        };
        match heard {
            Ok(Heard::Group(g)) => group = Some(g),
            Ok(Heard::Deadline(left)) => deadline = Instant::now().checked_add(left),
            Ok(Heard::Done) => return 0,
            // The wrapper died, or stopped vouching for the lock in time.
            Err(_) => {
                kill_group(group);
                return 0;
            }
        }
    }
}
