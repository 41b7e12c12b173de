//! The properties the model must keep, and the predicates on a state they are
//! made of (also used by the tests to look for shortest counterexamples).

use stateright::Property;

use crate::lock_model::LockModel;
use crate::state::{End, Pc, State};
use crate::{Id, RECORD, WORKERS};

/// Property (a), by name (the checker reports discoveries by name).
pub const A: &str = "(a) never two accepted writers at once";
/// Property (b).
pub const B: &str = "(b) fences strictly increase";
/// Property (c1).
pub const C1: &str = "(c1) the committed output is intact";
/// Property (c2).
pub const C2: &str = "(c2) the committed output is the records of the finished jobs";

/// Every property the checker tests: (a)-(c2) always, (d1)-(d6) sometimes.
pub fn all() -> Vec<Property<LockModel>> {
    vec![
        Property::always(A, |_, s: &State| output_is_whole_records(&s.out)),
        Property::always(B, |_, s: &State| !s.fence_regressed),
        Property::always(C1, |_, s: &State| committed_is_intact(s)),
        Property::always(C2, |_, s: &State| committed_is_finished_records(s)),
        Property::sometimes(
            "(d1) someone holds the lock after a holder was killed",
            |_, s: &State| holds_after(s, |e| matches!(e, End::Killed { .. })),
        ),
        Property::sometimes(
            "(d2) someone holds the lock after a holder crashed",
            |_, s: &State| holds_after(s, |e| matches!(e, End::Crashed { .. })),
        ),
        Property::sometimes(
            "(d3) all survivors of a killed holder finish",
            |_, s: &State| {
                count(s, |e| matches!(e, End::Killed { .. })) == 1
                    && count(s, |e| e == End::Finished) == WORKERS - 1
            },
        ),
        Property::sometimes("(d4) all workers finish", |_, s: &State| {
            count(s, |e| e == End::Finished) == WORKERS
        }),
        Property::sometimes(
            "(d5) a stalled holder overtaken by expiry has its next write rejected",
            |_, s: &State| count(s, |e| e == End::Rejected) > 0,
        ),
        Property::sometimes(
            "(d6) a killed holder's torn tail is cut and the others finish",
            |_, s: &State| {
                count(s, |e| matches!(e, End::Killed { torn: true, .. })) == 1
                    && count(s, |e| e == End::Finished) == WORKERS - 1
            },
        ),
    ]
}

/// How many workers ended as `end` says.
pub fn count(s: &State, end: fn(End) -> bool) -> usize {
    s.workers
        .iter()
        .filter(|w| matches!(w.pc, Pc::Done(e) if end(e)))
        .count()
}

/// (a): the output is whole records, each one worker's chunks in order, optionally
/// followed by a torn tail from one worker: no two writers' chunks interleave.
pub fn output_is_whole_records(out: &[(Id, u8)]) -> bool {
    out.chunks(usize::from(RECORD)).all(|record| {
        let owner = record[0].0;
        record
            .iter()
            .enumerate()
            .all(|(k, &(w, chunk))| w == owner && usize::from(chunk) == k)
    })
}

/// (c1): the output still holds everything the lock document says is committed, and
/// the committed length is a record boundary.
pub fn committed_is_intact(s: &State) -> bool {
    let committed = s.doc.map_or(0, |d| d.committed);
    committed.is_multiple_of(RECORD) && s.out.len() >= usize::from(committed)
}

/// (c2): the committed prefix is whole records, one per job, and every finished job's
/// record is in it; a job not finished may have a record in it only while it is still
/// unsure whether its release applied.
pub fn committed_is_finished_records(s: &State) -> bool {
    let committed = usize::from(s.doc.map_or(0, |d| d.committed));
    let Some(prefix) = s.out.get(..committed) else {
        return false; // (c1) reports this one
    };
    let mut writers: Vec<Id> = prefix
        .chunks(usize::from(RECORD))
        .map(|record| record[0].0)
        .collect();
    writers.sort_unstable();
    let distinct = writers.windows(2).all(|p| p[0] != p[1]);
    let pc = |i: Id| s.workers[usize::from(i)].pc;
    output_is_whole_records(prefix)
        && distinct
        && writers
            .iter()
            .all(|&i| matches!(pc(i), Pc::Done(End::Finished) | Pc::ReleaseUnsure(_)))
        && (0..WORKERS as Id)
            .filter(|&i| pc(i) == Pc::Done(End::Finished))
            .all(|i| writers.contains(&i))
}

/// Someone fenced in with a fence above the one held by a worker that ended as
/// `ended` says, and holds the lock now.
fn holds_after(s: &State, ended: fn(End) -> bool) -> bool {
    let dead_fence = |e: End| match e {
        End::Killed { fence, .. } | End::Crashed { fence } => Some(fence),
        _ => None,
    };
    s.workers.iter().any(|w| match w.pc {
        Pc::Done(e) if ended(e) => dead_fence(e).is_some_and(|dead| {
            s.workers.iter().any(|o| {
                matches!(o.pc, Pc::Holding(h) if h.fence > dead
                    && s.doc.is_some_and(|d| d.fence == h.fence))
            })
        }),
        _ => false,
    })
}
