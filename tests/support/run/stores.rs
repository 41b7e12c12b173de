//! The stores `joblock run` is tested on: one maker per store, each giving a
//! fresh namespace on the test binary's shared server.

use std::net::SocketAddr;
use std::sync::Arc;
use std::thread;

use joblock::clock::Clock;
use joblock::lock::state::{lock_id, read_doc};
use joblock::store::{MemoryConfig, Store, StoreUrl, open_store};

use crate::support::{pg_server, redis_server, unique_namespace};

/// A store for the wrapper: its URL and a fresh namespace.
pub struct TestStore {
    /// `redis`, `postgres`, ...
    pub name: &'static str,
    /// The `--store` URL.
    pub url: String,
    /// A namespace no other test uses, so the store starts empty.
    pub namespace: String,
    /// Where a networked store's server listens, and its URL for another address
    /// (a proxy, a listener that never answers). `None` for a local store.
    pub tcp: Option<Tcp>,
}

/// A networked store's server address, and how its URL names another one.
pub struct Tcp {
    /// The real server.
    pub addr: SocketAddr,
    /// The store's URL with `addr` in place of the server's.
    pub url_for: fn(SocketAddr) -> String,
}

/// Makes a fresh [`TestStore`] (its server shared by the test binary).
pub type Maker = fn() -> TestStore;

/// Every store `joblock run` is tested on: one line per store.
pub const STORES: &[Maker] = &[sqlite, redis, postgres];

/// One SQLite file per test binary (each test its own namespace = table in it),
/// in a directory removed when the binary ends.
fn sqlite() -> TestStore {
    static DIR: std::sync::OnceLock<tempfile::TempDir> = std::sync::OnceLock::new();
    let dir = DIR.get_or_init(|| {
        tempfile::Builder::new()
            .prefix("joblock-run-sqlite-")
            .tempdir()
            .expect("a temporary directory for the SQLite store")
    });
    TestStore {
        name: "sqlite",
        url: format!("sqlite://{}", dir.path().join("locks.db").display()),
        namespace: unique_namespace("run"),
        tcp: None,
    }
}

fn redis() -> TestStore {
    let server = redis_server::shared();
    networked("redis", &server.url, server.port, |addr| {
        format!("redis://{addr}")
    })
}

fn postgres() -> TestStore {
    let server = pg_server::shared();
    networked("postgres", &server.url, server.port, |addr| {
        format!("postgres://postgres@{addr}/postgres")
    })
}

/// A store whose server listens on loopback `port`.
fn networked(
    name: &'static str,
    url: &str,
    port: u16,
    url_for: fn(SocketAddr) -> String,
) -> TestStore {
    TestStore {
        name,
        url: url.to_string(),
        namespace: unique_namespace("run"),
        tcp: Some(Tcp {
            addr: SocketAddr::from(([127, 0, 0, 1], port)),
            url_for,
        }),
    }
}

impl TestStore {
    /// The same store through the library, for what a test does beside the
    /// wrappers (read the lock, revoke it).
    pub fn open(&self) -> Arc<dyn Store> {
        let url = StoreUrl::parse(&self.url).expect("a test store URL parses");
        open_store(
            &url,
            &self.namespace,
            &Clock::real(1.0),
            MemoryConfig::default(),
            0,
        )
        .unwrap_or_else(|e| panic!("cannot open the {} store {}: {e}", self.name, self.url))
    }

    /// The fence of `key`'s lock document now (0 if there is none).
    pub fn fence(&self, key: &str) -> u64 {
        read_doc(self.open().as_ref(), &lock_id(key))
            .expect("read the lock document")
            .map_or(0, |doc| doc.fence)
    }
}

/// Runs `test` on a fresh store of every kind, each on its own thread at the same
/// time (the tests mostly wait on leases, so this halves their wall time); fails
/// naming every store whose run failed.
pub fn each_store(test: impl Fn(&TestStore) + Sync) {
    on_stores(STORES.iter().map(|make| make()).collect(), &test);
}

/// [`each_store`] for the stores reached over TCP only (a proxy or a silent
/// listener can stand in for their server).
pub fn each_networked_store(test: impl Fn(&TestStore, &Tcp) + Sync) {
    let stores = STORES
        .iter()
        .map(|make| make())
        .filter(|s| s.tcp.is_some())
        .collect();
    on_stores(stores, &|s: &TestStore| {
        test(s, s.tcp.as_ref().expect("networked"))
    });
}

fn on_stores(stores: Vec<TestStore>, test: &(dyn Fn(&TestStore) + Sync)) {
    assert!(!stores.is_empty(), "no store to run the test on");
    let failed: Vec<&str> = thread::scope(|scope| {
        let runs: Vec<_> = stores
            .iter()
            .map(|store| {
                let run = thread::Builder::new()
                    .name(store.name.to_string())
                    .spawn_scoped(scope, move || test(store))
                    .expect("spawn a test thread");
                (store.name, run)
            })
            .collect();
        runs.into_iter()
            .filter_map(|(name, run)| run.join().is_err().then_some(name))
            .collect()
    });
    assert!(failed.is_empty(), "failed on: {}", failed.join(", "));
}
