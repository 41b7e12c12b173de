//! Prints the events of one torture run: `cargo run --example replay_torture -- SEED`.
use joblock::describe::describe;
use joblock::engine;
use joblock::torture::scenario_for;

fn main() {
    let seed: u64 = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let dir = std::env::temp_dir().join(format!("joblock-replay-{seed}"));
    let _ = std::fs::create_dir_all(&dir);
    let s = scenario_for(seed, &dir.join("out.txt"), None);
    println!("{s:?}");
    let Ok(h) = engine::start(s) else {
        eprintln!("cannot start");
        std::process::exit(1);
    };
    for e in h.events().iter() {
        if !matches!(
            e.event,
            joblock::events::Event::LockAttempt { .. } | joblock::events::Event::Heartbeat { .. }
        ) {
            println!("[{:>9.3}] {}", e.t, describe(&e.event));
        }
    }
    let _ = h.join();
}
