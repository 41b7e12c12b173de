//! The real `joblock run` as a child process of the test, and what it left:
//! exit status, stdout, stderr and its `--events` file.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::thread;
use std::time::Instant;

use rustix::process::Signal;
use serde_json::Value;

use super::child::Workdir;
use super::stores::TestStore;
use super::{PATIENCE, POLL, poll, send};

/// The files of the wrappers of one process are numbered apart.
static NEXT_WRAPPER: AtomicU64 = AtomicU64::new(0);

/// A `joblock run` to start: `Run::new(...).args(...).command(...).spawn()`.
pub struct Run {
    /// The `--store` flag (`None`: the wrapper finds the store in `env`).
    store: Option<String>,
    env: Vec<(String, String)>,
    args: Vec<OsString>,
    command: Vec<OsString>,
    stdin: Stdio,
    dir: PathBuf,
}

impl Run {
    /// `joblock run --store URL --namespace NS --key KEY` in `work`.
    pub fn new(store: &TestStore, work: &Workdir, key: &str) -> Run {
        Run {
            store: Some(store.url.clone()),
            env: Vec::new(),
            args: ["--namespace", &store.namespace, "--key", key]
                .iter()
                .map(OsString::from)
                .collect(),
            command: Vec::new(),
            stdin: Stdio::null(),
            dir: work.path().to_path_buf(),
        }
    }

    /// The same store reached at another URL (a proxy, a silent listener).
    pub fn via(mut self, url: &str) -> Run {
        self.store = Some(url.to_string());
        self
    }

    /// No `--store` flag: the store's URL is in `JOBLOCK_STORE` instead.
    pub fn store_in_env(mut self) -> Run {
        if let Some(url) = self.store.take() {
            self.env.push(("JOBLOCK_STORE".into(), url));
        }
        self
    }

    /// An environment variable for the wrapper (which otherwise has no
    /// `JOBLOCK_STORE`, whatever the test's environment says).
    pub fn env(mut self, name: &str, value: &str) -> Run {
        self.env.push((name.into(), value.into()));
        self
    }

    /// More flags, e.g. `["--lease", "2"]`.
    pub fn args(mut self, args: &[&str]) -> Run {
        self.args.extend(args.iter().map(OsString::from));
        self
    }

    /// The command to run (after `--`).
    pub fn command(mut self, argv: Vec<OsString>) -> Run {
        self.command = argv;
        self
    }

    /// The wrapper's stdin (null unless set).
    pub fn stdin(mut self, stdin: Stdio) -> Run {
        self.stdin = stdin;
        self
    }

    /// Starts the wrapper; its events go to `N.events`, stdout to `N.out` and
    /// stderr to `N.err` in the work directory.
    pub fn spawn(self) -> Wrapper {
        let n = NEXT_WRAPPER.fetch_add(1, Ordering::Relaxed);
        let events = self.dir.join(format!("wrapper{n}.events"));
        let mut argv: Vec<OsString> = vec!["run".into()];
        if let Some(url) = self.store {
            argv.extend(["--store".into(), url.into()]);
        }
        argv.extend(self.args);
        argv.extend(["--events".into(), events.clone().into(), "--".into()]);
        argv.extend(self.command);
        let (name, events) = (format!("wrapper{n}"), Some(events));
        launch(&argv, &self.env, &self.dir, self.stdin, &name, events)
    }
}

/// Starts `joblock ARGV` in `dir`, stdout and stderr to `dir/NAME.out` and `.err`.
fn launch(
    argv: &[OsString],
    env: &[(String, String)],
    dir: &Path,
    stdin: Stdio,
    name: &str,
    events: Option<PathBuf>,
) -> Wrapper {
    let (out, err) = (
        dir.join(format!("{name}.out")),
        dir.join(format!("{name}.err")),
    );
    let file = |p: &Path| std::fs::File::create(p).expect("create a wrapper output file");
    let child = Command::new(env!("CARGO_BIN_EXE_joblock"))
        .args(argv)
        .env_remove("JOBLOCK_STORE")
        .envs(env.iter().map(|(k, v)| (k, v)))
        .current_dir(dir)
        .stdin(stdin)
        .stdout(file(&out))
        .stderr(file(&err))
        .spawn()
        .expect("run the joblock binary");
    Wrapper {
        child,
        events,
        out,
        err,
    }
}

/// A running `joblock run`.
pub struct Wrapper {
    /// The process.
    pub child: Child,
    events: Option<PathBuf>,
    out: PathBuf,
    err: PathBuf,
}

/// How a wrapper ended, and what it left.
pub struct Done {
    /// Its exit status.
    pub status: ExitStatus,
    /// Its stdout.
    pub stdout: String,
    /// Its stderr.
    pub stderr: String,
    /// Its `--events` file's header line, parsed (`None` when there is none).
    pub header: Option<Value>,
    /// Its `--events` file's events, parsed (the header left out).
    pub events: Vec<Value>,
}

impl std::fmt::Debug for Done {
    /// Compact, for assertion messages: the status, both streams, one event a line.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let cut = |s: &str| s.chars().take(2000).collect::<String>();
        writeln!(f, "status: {:?}", self.status)?;
        writeln!(f, "--- stdout ---\n{}", cut(&self.stdout))?;
        writeln!(f, "--- stderr ---\n{}", cut(&self.stderr))?;
        writeln!(f, "--- events ---")?;
        for e in &self.events {
            writeln!(f, "{e}")?;
        }
        Ok(())
    }
}

impl Done {
    /// The exit code (panics, showing stderr, if a signal ended the wrapper).
    pub fn code(&self) -> i32 {
        self.status
            .code()
            .unwrap_or_else(|| panic!("the wrapper died of {:?}\n{}", self.status, self.stderr))
    }

    /// The events' types in order.
    pub fn types(&self) -> Vec<&str> {
        types(&self.events)
    }

    /// The first event of type `ty`.
    pub fn event(&self, ty: &str) -> &Value {
        self.events
            .iter()
            .find(|e| e["type"] == ty)
            .unwrap_or_else(|| panic!("no {ty} event in {:?}\n{}", self.types(), self.stderr))
    }

    /// The fence the wrapper acquired.
    pub fn fence(&self) -> u64 {
        self.event("acquired")["fence"]
            .as_u64()
            .expect("a fence in acquired")
    }

    /// Asserts the exit code, showing everything if it differs.
    pub fn expect_code(&self, code: i32) -> &Done {
        assert_eq!(self.status.code(), Some(code), "{self:#?}");
        self
    }
}

/// The `type` of every event.
pub fn types(events: &[Value]) -> Vec<&str> {
    events
        .iter()
        .map(|e| e["type"].as_str().unwrap_or("?"))
        .collect()
}

/// Whether a recording's line is its header (`"type":"recording"`), not an event.
fn is_header(line: &Value) -> bool {
    line["type"] == "recording"
}

/// The complete lines of a JSON-lines file, each parsed (panics on a bad one).
pub fn json_lines(path: &Path) -> Vec<Value> {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    text.split_inclusive('\n')
        .filter(|l| l.ends_with('\n'))
        .map(|l| {
            serde_json::from_str(l).unwrap_or_else(|e| {
                panic!(
                    "{} has a line that is not JSON ({e}): {l:?}",
                    path.display()
                )
            })
        })
        .collect()
}

impl Wrapper {
    /// Its pid.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Sends it `signal`.
    pub fn signal(&self, signal: Signal) {
        send(self.pid(), signal);
    }

    /// Its events so far (the recording's header left out).
    pub fn events(&self) -> Vec<Value> {
        let mut lines = self.events.as_deref().map(json_lines).unwrap_or_default();
        if lines.first().is_some_and(is_header) {
            lines.remove(0);
        }
        lines
    }

    /// Its `--events` file's header line, if it has one yet.
    pub fn header(&self) -> Option<Value> {
        let lines = self.events.as_deref().map(json_lines).unwrap_or_default();
        lines.into_iter().next().filter(is_header)
    }

    /// Its stderr so far.
    pub fn stderr(&self) -> String {
        std::fs::read_to_string(&self.err).unwrap_or_default()
    }

    /// Waits until it has recorded an event of type `ty`, and returns it.
    pub fn await_event(&self, ty: &str) -> Value {
        poll(&format!("a {ty} event from wrapper {}", self.pid()), || {
            self.events().into_iter().find(|e| e["type"] == ty)
        })
    }

    /// Waits until its stderr says `text` (e.g. `waiting`, which a `--verbose`
    /// wrapper says when it finds the lock held).
    pub fn await_stderr(&self, text: &str) {
        poll(&format!("wrapper {} to say {text:?}", self.pid()), || {
            self.stderr().contains(text).then_some(())
        });
    }

    /// Whether it is still running.
    pub fn running(&mut self) -> bool {
        self.child.try_wait().expect("try_wait").is_none()
    }

    /// Waits for it to end (at most [`PATIENCE`], else it is killed and the test
    /// fails showing its stderr).
    pub fn wait(mut self) -> Done {
        let deadline = Instant::now() + PATIENCE;
        let status = loop {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                break status;
            }
            if Instant::now() >= deadline {
                let _ = self.child.kill();
                let _ = self.child.wait();
                panic!(
                    "wrapper {} still running after {PATIENCE:?}; stderr:\n{}",
                    self.child.id(),
                    self.stderr()
                );
            }
            thread::sleep(POLL);
        };
        Done {
            status,
            stdout: std::fs::read_to_string(&self.out).unwrap_or_default(),
            stderr: self.stderr(),
            header: self.header(),
            events: self.events(),
        }
    }
}

impl Drop for Wrapper {
    /// A test that failed half-way leaves no wrapper behind (its command and
    /// guardian follow it).
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Runs `joblock ARGS` in `dir` to the end (bounded by [`PATIENCE`]) with stdin
/// closed, e.g. for usage errors.
pub fn joblock(args: &[&str], dir: &Path) -> Done {
    let n = NEXT_WRAPPER.fetch_add(1, Ordering::Relaxed);
    let argv: Vec<OsString> = args.iter().map(OsString::from).collect();
    let name = format!("joblock{n}");
    launch(&argv, &[], dir, Stdio::null(), &name, None).wait()
}
