//! The command under the lock: started directly (no shell) in its own process
//! group, so the wrapper can signal all of it; killed by the kernel if the
//! wrapper's main thread dies; and watched without being reaped too early.

#![allow(unsafe_code)]

use std::ffi::OsString;
use std::io;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::process::{Child, Command, ExitStatus};

use rustix::process::{Pid, Signal, WaitId, WaitIdOptions, getpid, kill_process_group};

/// The command to run and what it is told about its lock.
#[derive(Debug, Clone)]
pub struct Spec {
    /// Program and arguments.
    pub argv: Vec<OsString>,
    /// Extra environment variables (`JOBLOCK_KEY`, `JOBLOCK_FENCE`, ...).
    pub env: Vec<(String, String)>,
}

/// A started command.
pub struct Running {
    child: Child,
    /// Its process id, which is also its process group's id.
    pub pid: u32,
    /// Whether it was given the terminal (and the wrapper must take it back).
    terminal: bool,
}

/// How the command ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// It exited with this code.
    Code(i32),
    /// A signal killed it.
    Signal(i32),
}

impl Exit {
    /// The wrapper's exit code for it: the same code, or 128 + the signal number
    /// (as shells report it).
    pub fn code(self) -> u8 {
        match self {
            Exit::Code(c) => u8::try_from(c.clamp(0, 255)).unwrap_or(255),
            Exit::Signal(s) => u8::try_from((128 + s).clamp(0, 255)).unwrap_or(255),
        }
    }

    /// `exit 3` or `signal 9 (SIGKILL)`.
    pub fn describe(self) -> String {
        match self {
            Exit::Code(c) => format!("exit {c}"),
            Exit::Signal(s) => format!("signal {s} ({})", signal_name(s)),
        }
    }

    fn of(status: ExitStatus) -> Exit {
        match (status.code(), status.signal()) {
            (Some(c), _) => Exit::Code(c),
            (None, Some(s)) => Exit::Signal(s),
            (None, None) => Exit::Code(255),
        }
    }
}

/// The name of a signal number, e.g. `SIGTERM`.
pub fn signal_name(n: i32) -> &'static str {
    match n {
        1 => "SIGHUP",
        2 => "SIGINT",
        3 => "SIGQUIT",
        6 => "SIGABRT",
        9 => "SIGKILL",
        10 => "SIGUSR1",
        12 => "SIGUSR2",
        13 => "SIGPIPE",
        14 => "SIGALRM",
        15 => "SIGTERM",
        _ => "signal",
    }
}

/// Starts `spec` in a new process group of its own, with stdin, stdout and stderr
/// inherited. Must be called on the thread that lives as long as the wrapper (the
/// main thread): the kernel's parent-death signal fires when *that thread* ends.
pub fn start(spec: &Spec) -> io::Result<Running> {
    let (program, args) = spec
        .argv
        .split_first()
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "no command given"))?;
    let mut cmd = Command::new(program);
    cmd.args(args).process_group(0);
    for (k, v) in &spec.env {
        cmd.env(k, v);
    }
    let parent = getpid();
    let terminal = owns_terminal();
    // SAFETY: the closure runs in the child between fork and exec, where only
    // async-signal-safe calls are allowed; it makes raw system calls (prctl,
    // getppid, sigprocmask, tcsetpgrp) and allocates nothing.
    unsafe {
        cmd.pre_exec(move || {
            if terminal {
                // An interactive command must own the terminal, or its first read
                // stops it (SIGTTIN): its new group becomes the foreground.
                without_ttou(|| {
                    let _ = rustix::termios::tcsetpgrp(rustix::stdio::stdin(), getpid());
                });
            }
            // If the wrapper dies (even by SIGKILL), the kernel kills the command.
            rustix::process::set_parent_process_death_signal(Some(Signal::KILL))?;
            // The wrapper may have died before that took effect: then we are
            // already orphaned and must not run at all.
            if rustix::process::getppid() != Some(parent) {
                return Err(io::Error::other("the joblock wrapper is gone"));
            }
            Ok(())
        });
    }
    let child = cmd.spawn()?;
    Ok(Running {
        pid: child.id(),
        child,
        terminal,
    })
}

/// Whether stdin is a terminal whose foreground group is ours (we were started
/// in the foreground of an interactive shell).
fn owns_terminal() -> bool {
    let stdin = rustix::stdio::stdin();
    rustix::termios::isatty(stdin)
        && rustix::termios::tcgetpgrp(stdin).is_ok_and(|g| g == rustix::process::getpgrp())
}

/// Runs `f` with SIGTTOU blocked in the calling thread: a process outside the
/// terminal's foreground group may then change the foreground group (otherwise
/// the kernel stops it for trying).
fn without_ttou(f: impl FnOnce()) {
    // SAFETY: sigset_t is plain data, initialised by sigemptyset before use; the
    // calls only change this thread's signal mask and restore it.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        let mut old: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigaddset(&mut set, libc::SIGTTOU);
        libc::pthread_sigmask(libc::SIG_BLOCK, &set, &mut old);
        f();
        libc::pthread_sigmask(libc::SIG_SETMASK, &old, std::ptr::null_mut());
    }
}

impl Running {
    /// Sends `signal` to the command's whole process group. A group that is gone
    /// already is no error.
    pub fn signal_group(&self, signal: Signal) {
        if let Some(pid) = Pid::from_raw(self.pid as i32) {
            let _ = kill_process_group(pid, signal);
        }
    }

    /// Reaps the ended command and says how it ended; takes the terminal back if
    /// the command had it.
    pub fn reap(mut self) -> io::Result<Exit> {
        let exit = self.child.wait().map(Exit::of);
        if self.terminal {
            without_ttou(|| {
                let _ =
                    rustix::termios::tcsetpgrp(rustix::stdio::stdin(), rustix::process::getpgrp());
            });
        }
        exit
    }
}

/// Blocks until the command `pid` has ended, without reaping it: its pid (and so its
/// group id) stays ours until [`Running::reap`], so nothing signals a reused id.
pub fn wait_exited(pid: u32) -> io::Result<()> {
    let pid =
        Pid::from_raw(pid as i32).ok_or_else(|| io::Error::other("the command has no pid"))?;
    loop {
        match rustix::process::waitid(
            WaitId::Pid(pid),
            WaitIdOptions::EXITED | WaitIdOptions::NOWAIT,
        ) {
            Ok(_) => return Ok(()),
            Err(rustix::io::Errno::INTR) => continue,
            Err(e) => return Err(e.into()),
        }
    }
}
