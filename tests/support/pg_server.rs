//! Throwaway PostgreSQL servers for tests: one shared per test binary, or private
//! ones for tests that stop and restart their server.
//!
//! Each server gets its own data directory under /tmp (initdb with trust auth) and a
//! free loopback port, and runs with fsync off: tests need speed, not durability
//! across power loss. PostgreSQL refuses to run as root, so as root the server runs
//! as the `postgres` user. A tiny `sh` watchdog kills the server and removes its
//! directory once the test process is gone, because the shared server lives in a
//! `static` whose `Drop` never runs.
//!
//! The stores bench starts its server here too (`benches/stores.rs` includes this
//! file), through [`PgServer::try_start`] so that a machine without the PostgreSQL
//! binaries skips the bench instead of panicking.

use std::fs::File;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use joblock::store::PostgresStore;

/// Where Debian's PostgreSQL 15 packages put the server binaries.
const DEFAULT_BIN: &str = "/usr/lib/postgresql/15/bin";

/// How long a starting server may take to accept a connection (CI machines can be slow).
const READY_TIMEOUT: Duration = Duration::from_secs(30);

/// How long a stopping server may take before it is killed outright.
const STOP_TIMEOUT: Duration = Duration::from_secs(10);

/// A `postgres` server process that dies with the test process.
pub struct PgServer {
    /// The loopback TCP port it listens on.
    pub port: u16,
    /// `postgres://postgres@127.0.0.1:<port>/postgres`.
    pub url: String,
    /// The same server over its Unix socket (the host is the socket directory).
    pub unix_url: String,
    /// Holds `data/` (PGDATA), the Unix socket and `server.log`.
    dir: PathBuf,
    bin: PathBuf,
    /// Numeric uid and gid of `postgres` when running as root; `None` otherwise.
    run_as: Option<(u32, u32)>,
    server: Option<Child>,
    watchdog: Option<Child>,
}

/// The directory with `initdb` and `postgres`: `$JOBLOCK_PG_BIN`, else Debian's 15,
/// else the newest `/usr/lib/postgresql/<v>/bin`. `Err` with how to install them.
fn pg_bin() -> Result<PathBuf, String> {
    let usable = |dir: &Path| dir.join("postgres").is_file() && dir.join("initdb").is_file();
    if let Some(dir) = std::env::var_os("JOBLOCK_PG_BIN") {
        let dir = PathBuf::from(dir);
        if !usable(&dir) {
            return Err(format!(
                "JOBLOCK_PG_BIN={} has no postgres and initdb binaries",
                dir.display()
            ));
        }
        return Ok(dir);
    }
    if usable(Path::new(DEFAULT_BIN)) {
        return Ok(PathBuf::from(DEFAULT_BIN));
    }
    let newest = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let version: u32 = e.file_name().to_str()?.parse().ok()?;
            Some((version, e.path().join("bin")))
        })
        .filter(|(_, bin)| usable(bin))
        .max();
    match newest {
        Some((_, bin)) => Ok(bin),
        None => Err(format!(
            "PostgreSQL server binaries not found in {DEFAULT_BIN} (nor any \
             /usr/lib/postgresql/<version>/bin); the PostgreSQL tests start their own \
             throwaway server and need them: run the tests with scripts/test (it installs \
             them), or apt-get install -y postgresql-15 \
             (or set JOBLOCK_PG_BIN to a directory holding initdb and postgres){}",
            if std::env::var_os("CI").is_some() {
                "; CI runs scripts/test, which installs them (see .ci/run)"
            } else {
                ""
            }
        )),
    }
}

/// Runs a command to completion and returns its output; `Err` if it cannot start.
fn run(cmd: &mut Command, what: &str) -> Result<Output, String> {
    cmd.stdin(Stdio::null())
        .output()
        .map_err(|e| format!("cannot run {what}: {e}"))
}

/// The numeric id `id <flag> postgres` prints.
fn postgres_id(flag: &str) -> Result<u32, String> {
    let out = run(Command::new("id").args([flag, "postgres"]), "id")?;
    String::from_utf8_lossy(&out.stdout)
        .trim()
        .parse()
        .map_err(|_| {
            format!(
                "running as root, and PostgreSQL refuses to: the tests run it as the \
                 `postgres` user, which does not exist here ({})",
                String::from_utf8_lossy(&out.stderr).trim()
            )
        })
}

fn running_as_root() -> Result<bool, String> {
    let out = run(Command::new("id").arg("-u"), "id -u")?;
    Ok(String::from_utf8_lossy(&out.stdout).trim() == "0")
}

/// Sends `signal` (e.g. `-INT`) to `pid`; a process already gone is fine.
fn signal(pid: u32, signal: &str) {
    let _ = Command::new("kill")
        .args([signal, &pid.to_string()])
        .stderr(Stdio::null())
        .status();
}

/// The processes whose parent is `pid` (a postmaster's backends and workers).
fn children(pid: u32) -> Vec<u32> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter(|&p| stat_field(p, 1).is_some_and(|ppid| ppid == pid.to_string()))
        .collect()
}

/// Field `n` after the command name of `/proc/PID/stat` (0: state, 1: parent).
fn stat_field(pid: u32, n: usize) -> Option<String> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let (_, rest) = stat.rsplit_once(')')?;
    rest.split_whitespace().nth(n).map(str::to_string)
}

/// Whether `pid` is stopped (or gone).
fn stopped(pid: u32) -> bool {
    stat_field(pid, 0).is_none_or(|state| state == "T" || state == "Z")
}

/// Waits up to `timeout` for `child` to exit; whether it did.
fn wait_for_exit(child: &mut Child, timeout: Duration) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        match child.try_wait() {
            Ok(Some(_)) | Err(_) => return true,
            Ok(None) if Instant::now() >= deadline => return false,
            Ok(None) => thread::sleep(Duration::from_millis(20)),
        }
    }
}

impl PgServer {
    /// Creates a cluster in a fresh /tmp directory, starts it on a free port and
    /// waits until it accepts connections; panics with the reason if it cannot.
    pub fn start() -> PgServer {
        PgServer::try_start().unwrap_or_else(|e| panic!("{e}"))
    }

    /// Creates a cluster in a fresh /tmp directory, starts it on a free port and
    /// waits until it accepts connections; `Err` with the reason (e.g. the binaries
    /// are not installed) if it cannot.
    pub fn try_start() -> Result<PgServer, String> {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let bin = pg_bin()?;
        // Before the directory exists, so a failure here leaves nothing behind.
        let run_as = if running_as_root()? {
            Some((postgres_id("-u")?, postgres_id("-g")?))
        } else {
            None
        };
        let dir = PathBuf::from(format!(
            "/tmp/joblock-pg-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        // A directory left by an earlier process that had our pid.
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir)
            .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
        let mut server = PgServer {
            port: 0,
            url: String::new(),
            unix_url: String::new(),
            dir,
            bin,
            run_as,
            server: None,
            watchdog: None,
        };
        // From here on, dropping `server` on an error cleans up.
        server.spawn_watchdog()?;
        server.initdb()?;
        on_a_free_port("postgres", |port| {
            server.port = port;
            server.url = format!("postgres://postgres@127.0.0.1:{port}/postgres");
            server.unix_url = format!(
                "postgres://postgres@{}:{port}/postgres",
                server.dir.display().to_string().replace('/', "%2F"),
            );
            server.spawn()
        })?;
        Ok(server)
    }

    /// Stops the server (fast shutdown) and starts it again on the same port and
    /// data directory: data survives, connections do not.
    pub fn restart(&mut self) {
        self.stop();
        self.start_again();
    }

    /// Stops the server with a fast shutdown (clients are disconnected, committed
    /// data is kept) and waits until it is gone.
    pub fn stop(&mut self) {
        self.shut_down("-INT");
    }

    /// Starts a stopped server again on the same port and data directory.
    pub fn start_again(&mut self) {
        if self.server.is_some() {
            return;
        }
        match self.spawn() {
            Ok(()) => {}
            Err(SpawnError::Exited(e)) => {
                panic!("postgres did not start again on port {}: {e}", self.port)
            }
            Err(SpawnError::Fatal(e)) => panic!("{e}"),
        }
    }

    /// Freezes the whole server (SIGSTOP to the postmaster, then to every process
    /// it forked: each backend is a process group of its own), as a hung host
    /// would be: connections stay open and new ones are queued by the kernel, but
    /// nothing answers until [`PgServer::thaw`]. Returns once they are all stopped.
    pub fn freeze(&self) {
        let Some(pg) = self.server.as_ref().map(Child::id) else {
            return;
        };
        signal(pg, "-STOP");
        let deadline = Instant::now() + STOP_TIMEOUT;
        loop {
            let procs: Vec<u32> = std::iter::once(pg).chain(children(pg)).collect();
            for &p in &procs[1..] {
                signal(p, "-STOP");
            }
            if procs.iter().all(|&p| stopped(p)) || Instant::now() >= deadline {
                return;
            }
            thread::sleep(Duration::from_millis(10));
        }
    }

    /// Lets a frozen server run again (SIGCONT to the postmaster and its children).
    pub fn thaw(&self) {
        if let Some(pg) = self.server.as_ref().map(Child::id) {
            for p in children(pg) {
                signal(p, "-CONT");
            }
            signal(pg, "-CONT");
        }
    }

    /// The server's log so far (for failure messages).
    pub fn log(&self) -> String {
        let path = self.dir.join("server.log");
        std::fs::read_to_string(&path)
            .unwrap_or_else(|e| format!("(no log at {}: {e})", path.display()))
    }

    fn data_dir(&self) -> PathBuf {
        self.dir.join("data")
    }

    /// A command that runs as `postgres` when we are root (PostgreSQL refuses root).
    fn as_postgres(&self, program: &str) -> Command {
        let mut cmd = Command::new(self.bin.join(program));
        if let Some((uid, gid)) = self.run_as {
            cmd.uid(uid).gid(gid);
        }
        // Our working directory may not be readable by `postgres`.
        cmd.current_dir(&self.dir);
        cmd
    }

    fn pid_file(&self) -> PathBuf {
        self.dir.join("server.pid")
    }

    /// Starts the `sh` watchdog for this server's whole life (it outlives restarts):
    /// once the test process is gone, it shuts down whatever server pid is in
    /// `server.pid` (immediate shutdown, SIGKILL after 5 s) and removes the
    /// directory. Started before initdb so even a half-made cluster is cleaned up.
    fn spawn_watchdog(&mut self) -> Result<(), String> {
        let watchdog = Command::new("sh")
            .arg("-c")
            .arg(
                r#"test=$1 dir=$2
                while kill -0 "$test" 2>/dev/null; do sleep 0.2; done
                if pg=$(cat "$dir/server.pid" 2>/dev/null); then
                  # A test that died with the server frozen: wake it and its
                  # children, or the stopped ones would never leave.
                  kill -CONT "$pg" 2>/dev/null; pkill -CONT -P "$pg" 2>/dev/null
                  kill -QUIT "$pg" 2>/dev/null
                  # Alive means a /proc entry that is not a zombie (whoever
                  # inherited it may be slow to reap it).
                  n=0
                  while [ $n -lt 50 ]; do
                    state=$(sed 's/.*) //' "/proc/$pg/stat" 2>/dev/null | cut -c1)
                    [ -z "$state" ] || [ "$state" = Z ] && break
                    sleep 0.1; n=$((n+1))
                  done
                  kill -KILL "$pg" 2>/dev/null
                fi
                rm -rf "$dir""#,
            )
            .arg("pg-watchdog")
            .arg(std::process::id().to_string())
            .arg(&self.dir)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            // Its own process group: a Ctrl-C aimed at `cargo test` must not end it
            // before it has cleaned up after the test process.
            .process_group(0)
            .spawn()
            .map_err(|e| format!("cannot start the sh watchdog for postgres: {e}"))?;
        self.watchdog = Some(watchdog);
        Ok(())
    }

    fn initdb(&self) -> Result<(), String> {
        if self.run_as.is_some() {
            let out = run(
                Command::new("chown")
                    .args(["postgres:postgres"])
                    .arg(&self.dir),
                "chown",
            )?;
            if !out.status.success() {
                return Err(format!(
                    "chown postgres {} failed: {}",
                    self.dir.display(),
                    String::from_utf8_lossy(&out.stderr)
                ));
            }
        }
        // UTF8 so jsonb can hold any string; C locale and no fsync for speed.
        let out = run(
            self.as_postgres("initdb")
                .arg("-D")
                .arg(self.data_dir())
                .args(["-A", "trust", "-U", "postgres", "-E", "UTF8"])
                .args(["--locale=C", "--no-sync", "--no-instructions"]),
            "initdb",
        )?;
        if !out.status.success() {
            return Err(format!(
                "initdb {} failed ({}):\n{}{}",
                self.data_dir().display(),
                out.status,
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ));
        }
        Ok(())
    }

    /// Starts `postgres` on `self.port` and records its pid, then waits until it
    /// accepts a connection. `Err` when the server exited at once (e.g. the port
    /// was taken), with its log.
    fn spawn(&mut self) -> Result<(), SpawnError> {
        let log_path = self.dir.join("server.log");
        let log = File::options()
            .create(true)
            .append(true)
            .open(&log_path)
            .map_err(|e| SpawnError::Fatal(format!("cannot open {}: {e}", log_path.display())))?;
        let log_err = log
            .try_clone()
            .map_err(|e| SpawnError::Fatal(format!("cannot duplicate the log handle: {e}")))?;
        let mut child = self
            .as_postgres("postgres")
            .arg("-D")
            .arg(self.data_dir())
            .args(["-p", &self.port.to_string()])
            .arg("-k")
            .arg(&self.dir)
            .args(["-c", "listen_addresses=127.0.0.1"])
            .args(["-c", "fsync=off", "-c", "synchronous_commit=off"])
            .args(["-c", "full_page_writes=off", "-c", "max_connections=200"])
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(log_err)
            // Its own process group: a Ctrl-C aimed at `cargo test` must not reach
            // it before the watchdog can clean up after the test process.
            .process_group(0)
            .spawn()
            .map_err(|e| {
                SpawnError::Fatal(format!("cannot run {}/postgres: {e}", self.bin.display()))
            })?;
        // The watchdog reads the pid from here once the test process is gone.
        if let Err(e) = std::fs::write(self.pid_file(), child.id().to_string()) {
            let _ = child.kill();
            let _ = child.wait();
            return Err(SpawnError::Fatal(format!(
                "cannot write {}: {e}",
                self.pid_file().display()
            )));
        }
        self.server = Some(child);

        let deadline = Instant::now() + READY_TIMEOUT;
        loop {
            let mut config: postgres::Config = self
                .url
                .parse()
                .map_err(|e| SpawnError::Fatal(format!("bad test URL {}: {e}", self.url)))?;
            config.connect_timeout(Duration::from_secs(1));
            if let Ok(client) = config.connect(postgres::NoTls) {
                let _ = client.close();
                return Ok(());
            }
            let exited = self
                .server
                .as_mut()
                .and_then(|c| c.try_wait().ok().flatten());
            if let Some(status) = exited {
                self.shut_down("-QUIT");
                return Err(SpawnError::Exited(format!(
                    "postgres on port {} exited with {status}; log:\n{}",
                    self.port,
                    self.log()
                )));
            }
            if Instant::now() >= deadline {
                self.shut_down("-QUIT");
                return Err(SpawnError::Fatal(format!(
                    "postgres on port {} did not accept a connection within {READY_TIMEOUT:?}; log:\n{}",
                    self.port,
                    self.log()
                )));
            }
            thread::sleep(Duration::from_millis(25));
        }
    }

    /// Sends `sig` to the server and waits for it (SIGKILL after `STOP_TIMEOUT`).
    fn shut_down(&mut self, sig: &str) {
        // A frozen server would never act on the signal.
        self.thaw();
        if let Some(mut server) = self.server.take() {
            // Before signalling: once reaped, the pid may be reused, so the watchdog
            // must never see it; a server already told to stop exits by itself.
            let _ = std::fs::remove_file(self.pid_file());
            signal(server.id(), sig);
            if !wait_for_exit(&mut server, STOP_TIMEOUT) {
                let _ = server.kill();
                let _ = server.wait();
            }
        }
    }
}

impl Drop for PgServer {
    fn drop(&mut self) {
        // Immediate shutdown: nothing in a dropped test cluster needs a checkpoint.
        self.shut_down("-QUIT");
        if let Some(mut watchdog) = self.watchdog.take() {
            let _ = watchdog.kill();
            let _ = watchdog.wait();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// The server shared by every test of this test binary.
pub fn shared() -> &'static PgServer {
    static SERVER: OnceLock<PgServer> = OnceLock::new();
    SERVER.get_or_init(PgServer::start)
}

use super::spawn::{SpawnError, on_a_free_port};
pub use super::unique_namespace;

/// A store on the shared server under a fresh namespace, so it starts empty.
pub fn fresh_store() -> PostgresStore {
    let server = shared();
    let ns = unique_namespace("t");
    PostgresStore::connect(&server.url, &ns)
        .unwrap_or_else(|e| panic!("cannot open a postgres store on {}: {e}", server.url))
}
