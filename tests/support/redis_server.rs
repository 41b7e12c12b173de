//! Throwaway Redis servers for tests: one shared per test binary, or private ones for
//! tests that stop and restart their server. The stores bench starts its server here
//! too (`benches/stores.rs` includes this file), through [`RedisServer::try_start`]
//! so that a machine without redis-server skips the bench instead of panicking.
//!
//! Each server runs without persistence on a free loopback port and a Unix socket in
//! its own temporary directory. A tiny `sh` watchdog kills it once the test process
//! is gone, and removes its directory, because the shared server lives in a `static`
//! whose `Drop` never runs.

use std::io::{Read, Write};
use std::net::{Shutdown, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::thread;
use std::time::{Duration, Instant};

use joblock::store::RedisStore;
use tempfile::TempDir;

/// How long a starting server may take to answer PING (CI machines can be slow).
const READY_TIMEOUT: Duration = Duration::from_secs(15);

/// A `redis-server` child process that dies with the test process.
pub struct RedisServer {
    /// The loopback TCP port it listens on.
    pub port: u16,
    /// `redis://127.0.0.1:<port>`.
    pub url: String,
    /// `redis+unix://<dir>/redis.sock`, the same server over its Unix socket.
    pub unix_url: String,
    dir: TempDir,
    server: Option<Child>,
    watchdog: Option<Child>,
}

/// Whether a Redis server answers PING on `port`.
fn pings(port: u16) -> bool {
    let Ok(mut s) =
        TcpStream::connect_timeout(&([127, 0, 0, 1], port).into(), Duration::from_millis(200))
    else {
        return false;
    };
    let _ = s.set_read_timeout(Some(Duration::from_millis(500)));
    let mut reply = [0u8; 7];
    let ok = s.write_all(b"PING\r\n").is_ok()
        && s.read_exact(&mut reply).is_ok()
        && &reply == b"+PONG\r\n";
    let _ = s.shutdown(Shutdown::Both);
    ok
}

fn read_log(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| format!("(no log at {}: {e})", path.display()))
}

impl RedisServer {
    /// Starts a server on a free port and waits until it answers PING; panics with
    /// the reason if it cannot.
    pub fn start() -> RedisServer {
        RedisServer::try_start().unwrap_or_else(|e| panic!("{e}"))
    }

    /// Starts a server on a free port and waits until it answers PING; `Err` with
    /// the reason (e.g. redis-server is not installed) if it cannot.
    pub fn try_start() -> Result<RedisServer, String> {
        let dir = tempfile::Builder::new()
            .prefix("joblock-redis-")
            .tempdir()
            .map_err(|e| format!("create a temporary directory for redis-server: {e:?}"))?;
        let sock = dir.path().join("redis.sock");
        let mut server = RedisServer {
            port: 0,
            url: String::new(),
            unix_url: format!("redis+unix://{}", sock.display()),
            dir,
            server: None,
            watchdog: None,
        };
        on_a_free_port("redis-server", |port| {
            server.port = port;
            server.url = format!("redis://127.0.0.1:{port}");
            server.spawn()
        })?;
        Ok(server)
    }

    /// Stops the server and starts a fresh one on the same port (no persistence: data is gone).
    pub fn restart(&mut self) {
        self.stop();
        match self.spawn() {
            Ok(()) => {}
            Err(SpawnError::Exited(e)) => {
                panic!("redis-server did not restart on port {}: {e}", self.port)
            }
            Err(SpawnError::Fatal(e)) => panic!("{e}"),
        }
    }

    /// Freezes the server (SIGSTOP), as a hung host would be: connections stay
    /// open and new ones are queued by the kernel, but nothing answers until
    /// [`RedisServer::thaw`]. Returns once it is stopped.
    pub fn freeze(&self) {
        self.signal("-STOP");
        let Some(pid) = self.server.as_ref().map(Child::id) else {
            return;
        };
        let deadline = Instant::now() + READY_TIMEOUT;
        while Instant::now() < deadline {
            let state = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
            let state = state.rsplit_once(')').map(|(_, rest)| rest.trim_start());
            if state.is_none_or(|rest| rest.starts_with('T') || rest.starts_with('Z')) {
                return;
            }
            thread::sleep(Duration::from_millis(10));
        }
    }

    /// Lets a frozen server run again (SIGCONT).
    pub fn thaw(&self) {
        self.signal("-CONT");
    }

    fn signal(&self, sig: &str) {
        if let Some(server) = &self.server {
            let _ = Command::new("kill")
                .args([sig, &server.id().to_string()])
                .stderr(Stdio::null())
                .status();
        }
    }

    /// Kills the server (and its watchdog) and waits for it to be gone.
    pub fn stop(&mut self) {
        // The watchdog first, so it cannot signal a pid the kernel has reused.
        for child in [self.watchdog.take(), self.server.take()]
            .into_iter()
            .flatten()
        {
            let mut child = child;
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    fn log_path(&self) -> PathBuf {
        self.dir.path().join("redis.log")
    }

    /// Spawns redis-server on `self.port` and its watchdog, then waits for PING.
    fn spawn(&mut self) -> Result<(), SpawnError> {
        let log = self.log_path();
        let _ = std::fs::remove_file(&log);
        let sock = self.dir.path().join("redis.sock");
        let spawned = Command::new("redis-server")
            .args(["--bind", "127.0.0.1", "--port", &self.port.to_string()])
            .args(["--save", "", "--appendonly", "no"])
            .arg("--dir")
            .arg(self.dir.path())
            .arg("--unixsocket")
            .arg(&sock)
            .args(["--unixsocketperm", "700"])
            .arg("--logfile")
            .arg(&log)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn();
        let mut child = match spawned {
            Ok(child) => child,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(SpawnError::Fatal(
                    "redis-server is not installed (not on PATH); the Redis tests need it: \
                     run the tests with scripts/test (it installs it), or apt-get install -y redis-server"
                        .to_string(),
                ));
            }
            Err(e) => return Err(SpawnError::Fatal(format!("cannot run redis-server: {e}"))),
        };
        // Once the test process is gone (a shared server's `static` is never dropped,
        // so its TempDir never cleans up), the watchdog also removes the directory.
        // Not when only the server died: a restart reuses the directory.
        let watchdog = Command::new("sh")
            .arg("-c")
            .arg(
                r#"while kill -0 "$1" 2>/dev/null && kill -0 "$2" 2>/dev/null; do sleep 0.2; done
                kill -9 "$2" 2>/dev/null
                kill -0 "$1" 2>/dev/null || rm -rf "$3""#,
            )
            .arg("redis-watchdog")
            .arg(std::process::id().to_string())
            .arg(child.id().to_string())
            .arg(self.dir.path())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn();
        match watchdog {
            Ok(w) => self.watchdog = Some(w),
            Err(e) => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(SpawnError::Fatal(format!(
                    "cannot start the sh watchdog for redis-server: {e}"
                )));
            }
        }
        self.server = Some(child);

        let deadline = Instant::now() + READY_TIMEOUT;
        loop {
            if pings(self.port) {
                return Ok(());
            }
            let exited = self
                .server
                .as_mut()
                .and_then(|c| c.try_wait().ok().flatten());
            if let Some(status) = exited {
                self.stop();
                return Err(SpawnError::Exited(format!(
                    "redis-server on port {} exited with {status}; log:\n{}",
                    self.port,
                    read_log(&log)
                )));
            }
            if Instant::now() >= deadline {
                self.stop();
                return Err(SpawnError::Fatal(format!(
                    "redis-server on port {} did not answer PING within {READY_TIMEOUT:?}; log:\n{}",
                    self.port,
                    read_log(&log)
                )));
            }
            thread::sleep(Duration::from_millis(10));
        }
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.stop();
    }
}

/// The server shared by every test of this test binary.
pub fn shared() -> &'static RedisServer {
    static SERVER: OnceLock<RedisServer> = OnceLock::new();
    SERVER.get_or_init(RedisServer::start)
}

use super::spawn::{SpawnError, on_a_free_port};
pub use super::unique_namespace;

/// A store on the shared server under a fresh namespace, so it starts empty.
pub fn fresh_store() -> RedisStore {
    let server = shared();
    let ns = unique_namespace("t");
    RedisStore::connect(&server.url, &ns)
        .unwrap_or_else(|e| panic!("cannot open a redis store on {}: {e}", server.url))
}
