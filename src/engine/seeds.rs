//! Deterministic randomness: every draw of a run derives from the one `--seed`.
//!
//! Each job gets its own RNG streams (crash draw and identity; its store handle's
//! latency; its heartbeat's latency), so what a job draws does not depend on how
//! the threads happen to interleave.

use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};

/// Which stream of a job's randomness.
#[derive(Debug, Clone, Copy)]
pub enum Stream {
    /// Crash draw, then the worker hash.
    Job = 1,
    /// Latency of the job's store handle.
    Store = 2,
    /// The end-of-run recovery's store handle.
    Recovery = 3,
    /// The engine's own store handle.
    Engine = 4,
    /// The fault wrapper's draws.
    Faults = 5,
}

/// SplitMix64: a fast, well-mixed step, good for deriving independent seeds.
pub fn splitmix64(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

/// The seed of one stream of one job.
pub fn derive(seed: u64, job: u32, stream: Stream) -> u64 {
    splitmix64(splitmix64(seed ^ splitmix64(u64::from(job))) ^ stream as u64)
}

/// The RNG of one stream of one job.
pub fn rng(seed: u64, job: u32, stream: Stream) -> StdRng {
    StdRng::seed_from_u64(derive(seed, job, stream))
}

/// A random (version 4) UUID drawn from `rng`: the job's "worker hash".
pub fn worker_hash(rng: &mut StdRng) -> String {
    let mut b: [u8; 16] = rng.random();
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let hex: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}

/// A fresh seed from the operating system, for runs without `--seed`.
pub fn fresh_seed() -> u64 {
    rand::random()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_seed_gives_the_same_hash() {
        let a = worker_hash(&mut rng(7, 3, Stream::Job));
        let b = worker_hash(&mut rng(7, 3, Stream::Job));
        let c = worker_hash(&mut rng(7, 4, Stream::Job));
        assert_eq!(a, b);
        assert_ne!(a, c);
        assert_eq!(a.len(), 36);
        assert_eq!(&a[14..15], "4");
    }
}
