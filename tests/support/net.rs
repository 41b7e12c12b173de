//! Stand-ins for a store's server in the `joblock run` tests: a listener that
//! accepts connections and never answers (a hung server), and a proxy to the real
//! server that can be told to stop forwarding (a network that went silent).

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

/// A server that accepts every connection and never says a word.
pub struct Silent {
    /// Where it listens.
    pub addr: SocketAddr,
    held: Arc<Mutex<Vec<TcpStream>>>,
}

impl Silent {
    /// Listens on a free loopback port.
    pub fn start() -> Silent {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind a loopback port");
        let addr = listener.local_addr().expect("its address");
        let held = Arc::new(Mutex::new(Vec::new()));
        let keep = held.clone();
        thread::spawn(move || {
            for conn in listener.incoming().flatten() {
                keep.lock().unwrap_or_else(|p| p.into_inner()).push(conn);
            }
        });
        Silent { addr, held }
    }

    /// How many connections it has taken.
    pub fn connections(&self) -> usize {
        self.held.lock().unwrap_or_else(|p| p.into_inner()).len()
    }
}

/// A TCP proxy to `upstream` that forwards both ways until frozen.
pub struct Proxy {
    /// Where it listens.
    pub addr: SocketAddr,
    state: Arc<State>,
}

#[derive(Default)]
struct State {
    /// Bytes read while frozen are held, not forwarded.
    frozen: AtomicBool,
    /// The proxy is gone: every pump ends.
    closed: AtomicBool,
}

impl Proxy {
    /// Listens on a free loopback port and forwards every connection to `upstream`.
    pub fn start(upstream: SocketAddr) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind a loopback port");
        let addr = listener.local_addr().expect("its address");
        let state = Arc::new(State::default());
        let st = state.clone();
        thread::spawn(move || {
            for inbound in listener.incoming().flatten() {
                if st.closed.load(Ordering::SeqCst) {
                    return;
                }
                let Ok(outbound) = TcpStream::connect(upstream) else {
                    continue;
                };
                for (from, to) in [
                    (inbound.try_clone(), outbound.try_clone()),
                    (Ok(outbound), Ok(inbound)),
                ] {
                    if let (Ok(from), Ok(to)) = (from, to) {
                        let st = st.clone();
                        thread::spawn(move || pump(from, to, &st));
                    }
                }
            }
        });
        Proxy { addr, state }
    }

    /// Stops forwarding: from now on nothing reaches either side.
    pub fn freeze(&self) {
        self.state.frozen.store(true, Ordering::SeqCst);
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.state.closed.store(true, Ordering::SeqCst);
        // Wake the accept loop so that it sees `closed`.
        let _ = TcpStream::connect(self.addr);
    }
}

/// Copies `from` to `to` until either closes, holding what it read while frozen.
fn pump(mut from: TcpStream, mut to: TcpStream, state: &State) {
    let mut buf = [0u8; 16 * 1024];
    let _ = from.set_read_timeout(Some(Duration::from_millis(100)));
    'copy: while !state.closed.load(Ordering::SeqCst) {
        let n = match from.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                continue;
            }
            Err(_) => break,
        };
        while state.frozen.load(Ordering::SeqCst) {
            if state.closed.load(Ordering::SeqCst) {
                break 'copy;
            }
            thread::sleep(Duration::from_millis(10));
        }
        if to.write_all(&buf[..n]).is_err() {
            break;
        }
    }
    let _ = to.shutdown(Shutdown::Both);
    let _ = from.shutdown(Shutdown::Both);
}
