//! What the throwaway-server starters (`pg_server.rs`, `redis_server.rs`) share: a
//! free port, why a start failed, and retrying on a fresh port. Its own file so that
//! the stores bench can include it beside them.

/// Why one attempt to spawn a server failed.
pub enum SpawnError {
    /// The server exited at once (e.g. another process took the port): worth a retry.
    Exited(String),
    /// Anything else (no binary, no watchdog, never ready): no retry helps.
    Fatal(String),
}

/// A port that was free a moment ago (the kernel picks it; we release it at once).
pub fn free_port() -> Result<u16, String> {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .map_err(|e| format!("cannot find a free loopback port: {e}"))
}

/// Runs `attempt` (set up and spawn `what` on the given port) on fresh free ports
/// until one works, at most 5 times. Another process may grab the port between our
/// probe and the server's bind; a fresh port on retry makes that race harmless.
pub fn on_a_free_port(
    what: &str,
    mut attempt: impl FnMut(u16) -> Result<(), SpawnError>,
) -> Result<(), String> {
    let mut last_error = String::new();
    for _ in 0..5 {
        match attempt(free_port()?) {
            Ok(()) => return Ok(()),
            Err(SpawnError::Exited(e)) => last_error = e,
            Err(SpawnError::Fatal(e)) => return Err(e),
        }
    }
    Err(format!(
        "{what} did not start after 5 attempts: {last_error}"
    ))
}
