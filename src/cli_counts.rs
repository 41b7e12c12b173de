//! The whole-number flags' parsers: counts of jobs, clients, threads, runs, each
//! at least one and, where memory is at stake, at most a documented bound.

/// The most jobs one run takes: each costs a little memory while it waits, and
/// ten million is far past anything a lock per client is for.
pub const MAX_JOBS: u32 = 10_000_000;

/// `--jobs`: 1 to [`MAX_JOBS`].
pub(crate) fn job_count(s: &str) -> Result<u32, String> {
    let v = at_least_one(s)?;
    if v > MAX_JOBS {
        return Err(format!("must be at most {MAX_JOBS}, got {v}"));
    }
    Ok(v)
}

/// `--threads`: 1 to the engine's `MAX_THREADS`.
pub(crate) fn thread_count(s: &str) -> Result<u32, String> {
    let v = at_least_one(s)?;
    let max = joblock::engine::admission::MAX_THREADS;
    if v > max {
        return Err(format!("must be at most {max}, got {v}"));
    }
    Ok(v)
}

/// A whole number of at least 1.
pub(crate) fn at_least_one(s: &str) -> Result<u32, String> {
    let v: u32 = s
        .trim()
        .parse()
        .map_err(|_| format!("{s:?} is not a whole number"))?;
    if v == 0 {
        return Err("must be at least 1, got 0".into());
    }
    Ok(v)
}

/// [`at_least_one`] as a `usize`.
pub(crate) fn at_least_one_usize(s: &str) -> Result<usize, String> {
    at_least_one(s).map(|v| v as usize)
}
