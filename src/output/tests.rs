//! The output's own checks: fences, holders, the watermark and the lock it belongs to.

use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};

use super::*;

fn temp_output() -> (tempfile::TempDir, FencedOutput) {
    let dir = tempfile::tempdir().unwrap();
    let out = FencedOutput::create(&dir.path().join("out.txt")).unwrap();
    (dir, out)
}

fn claim(fence: u64) -> Claim {
    claim_of("inc-a", fence, &format!("owner-{fence}"))
}

fn claim_of(lock: &str, fence: u64, owner: &str) -> Claim {
    Claim {
        lock: lock.into(),
        key: "lock:worker:c".into(),
        fence,
        owner: owner.into(),
    }
}

#[test]
fn fenced_writer_cannot_append_after_a_higher_fence_was_accepted() {
    let (_dir, out) = temp_output();
    out.fence_in(&claim(1), 0).unwrap();
    out.append(&claim(1), b"hello").unwrap();
    out.fence_in(&claim(2), 5).unwrap();
    let err = out.append(&claim(1), b"late!").unwrap_err();
    assert!(matches!(
        err,
        OutputError::Fenced {
            fence: 1,
            highest: 2
        }
    ));
    assert_eq!(std::fs::read(out.path()).unwrap(), b"hello");
}

#[test]
fn fence_in_truncates_a_torn_tail_to_the_committed_length() {
    let (_dir, out) = temp_output();
    out.fence_in(&claim(1), 0).unwrap();
    out.append(&claim(1), b"whole").unwrap();
    out.append(&claim(1), b"tor").unwrap();
    let fin = out.fence_in(&claim(2), 5).unwrap();
    assert_eq!((fin.from_len, fin.to_len, fin.truncated()), (8, 5, 3));
    assert_eq!(std::fs::read(out.path()).unwrap(), b"whole");
    out.append(&claim(2), b"next").unwrap();
    assert_eq!(std::fs::read(out.path()).unwrap(), b"wholenext");
}

#[test]
fn fence_in_with_a_lower_fence_is_rejected_and_changes_nothing() {
    let (_dir, out) = temp_output();
    out.fence_in(&claim(3), 0).unwrap();
    out.append(&claim(3), b"abc").unwrap();
    assert!(out.fence_in(&claim(2), 0).is_err());
    assert_eq!(out.len(), 3);
    assert_eq!(out.highest_fence(), 3);
}

#[test]
fn an_equal_fence_from_another_holder_is_refused() {
    let (_dir, out) = temp_output();
    out.fence_in(&claim_of("inc-a", 8, "first"), 0).unwrap();
    out.append(&claim_of("inc-a", 8, "first"), b"Maest")
        .unwrap();
    let other = claim_of("inc-a", 8, "second");
    assert!(matches!(
        out.fence_in(&other, 0),
        Err(OutputError::FenceTaken { fence: 8, .. })
    ));
    assert!(matches!(
        out.append(&other, b"x"),
        Err(OutputError::FenceTaken { .. })
    ));
    // The holder itself may fence in again (its own repair).
    out.fence_in(&claim_of("inc-a", 8, "first"), 0).unwrap();
    assert_eq!(out.len(), 0);
}

#[test]
fn sequence_numbers_follow_the_writers_order() {
    let (_dir, out) = temp_output();
    let a = out.fence_in(&claim(1), 0).unwrap().seq;
    let b = out.append(&claim(1), b"x").unwrap().seq;
    let c = out.append(&claim(1), b"y").unwrap().seq;
    assert!(a < b && b < c);
}

#[test]
fn two_writers_on_one_file_share_the_fence_as_two_processes_would() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("shared.txt");
    let a = FencedOutput::open_shared(&path).unwrap();
    let b = FencedOutput::open_shared(&path).unwrap();
    assert_eq!(a.id(), b.id());
    a.fence_in(&claim(1), 0).unwrap();
    a.append(&claim(1), b"Maest").unwrap();
    // Another process takes over with fence 2 and cuts the torn chunk.
    let cut = b.fence_in(&claim(2), 0).unwrap();
    assert_eq!(cut.truncated(), 5);
    assert!(matches!(
        a.append(&claim(1), b"ro is"),
        Err(OutputError::Fenced { .. })
    ));
    b.append(&claim(2), b"whole").unwrap();
    assert_eq!(std::fs::read(&path).unwrap(), b"whole");
    let r = a.record().unwrap();
    assert_eq!((r.highest, r.seq), (2, 4));
}

#[test]
fn a_file_shorter_than_committed_is_reported_not_extended() {
    let (_dir, out) = temp_output();
    let err = out.fence_in(&claim(1), 10).unwrap_err();
    match err {
        OutputError::OutOfStep(o) => {
            assert_eq!(
                (o.on_disk, o.committed, &o.why),
                (Some(0), 10, &Why::Truncated)
            );
        }
        e => panic!("not out of step: {e}"),
    }
}

#[test]
fn a_store_that_forgot_cannot_cut_committed_records() {
    // Fence 8 committed 10 bytes; the store then loses its documents and a new
    // document (another incarnation) starts again at fence 1 with nothing committed.
    let (_dir, out) = temp_output();
    let old = claim_of("inc-a", 8, "h8");
    out.fence_in(&old, 0).unwrap();
    out.append(&old, b"0123456789").unwrap();
    out.will_commit(&old, 10).unwrap();
    out.committed(&old, 10).unwrap();
    let reborn = claim_of("inc-b", 1, "h1");
    let err = out.fence_in(&reborn, 0).unwrap_err();
    assert!(matches!(err, OutputError::OtherLock { .. }), "{err}");
    assert!(err.to_string().contains("joblock reseed"), "{err}");
    // Even the same document saying less is committed is refused.
    let err = out.fence_in(&claim_of("inc-a", 9, "h9"), 0).unwrap_err();
    assert!(matches!(err, OutputError::BelowWatermark { .. }), "{err}");
    assert_eq!(std::fs::read(out.path()).unwrap(), b"0123456789");
}

#[test]
fn a_later_fence_in_confirms_an_announced_commit() {
    let (_dir, out) = temp_output();
    let a = claim(1);
    out.fence_in(&a, 0).unwrap();
    out.append(&a, b"record").unwrap();
    out.will_commit(&a, 6).unwrap();
    // The release applied but its holder never heard: the next holder reads 6.
    out.fence_in(&claim(2), 6).unwrap();
    let r = out.record().unwrap();
    assert_eq!((r.watermark, r.pending), (6, None));
}

#[test]
fn a_release_that_never_applied_leaves_its_announcement_void() {
    let (_dir, out) = temp_output();
    let a = claim(1);
    out.fence_in(&a, 0).unwrap();
    out.append(&a, b"record").unwrap();
    out.will_commit(&a, 6).unwrap();
    // The release failed; the next holder took over and read 0 committed.
    let cut = out.fence_in(&claim(2), 0).unwrap();
    assert_eq!(cut.truncated(), 6);
    let r = out.record().unwrap();
    assert_eq!((r.watermark, r.pending), (0, None));
}

#[test]
fn a_replaced_fence_file_is_noticed() {
    let (_dir, out) = temp_output();
    out.fence_in(&claim(1), 0).unwrap();
    std::fs::remove_file(out.fence_path()).unwrap();
    let err = out.append(&claim(1), b"x").unwrap_err();
    assert!(matches!(err, OutputError::Replaced { .. }), "{err}");
}

#[test]
fn an_output_of_the_first_format_keeps_its_fence_and_gets_an_id() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("old.txt");
    std::fs::write(&path, b"").unwrap();
    std::fs::write(FencedOutput::fence_path_of(&path), "4 9\n").unwrap();
    let out = FencedOutput::open_shared(&path).unwrap();
    assert!(!out.id().is_empty());
    assert_eq!(out.highest_fence(), 4);
    assert!(out.fence_in(&claim(3), 0).is_err());
}

#[test]
fn a_device_or_fifo_is_refused_as_an_output() {
    let err = FencedOutput::open_shared(Path::new("/dev/null")).unwrap_err();
    assert!(matches!(err, OutputError::NotRegular { .. }), "{err}");
}

/// Random histories of fence-ins, appends, announcements, commits and repairs from
/// holders of two lock documents: the file never shrinks below the watermark, and
/// the watermark never goes down.
#[test]
fn no_sequence_of_operations_cuts_below_the_watermark() {
    let first = rand::random::<u64>();
    for i in 0..300u64 {
        let seed = first.wrapping_add(i);
        let (_dir, out) = temp_output();
        let mut rng = StdRng::seed_from_u64(seed);
        let mut watermark = 0;
        for _ in 0..60 {
            let lock = if rng.random_bool(0.9) {
                "inc-a"
            } else {
                "inc-b"
            };
            let fence = rng.random_range(0..8);
            let c = claim_of(lock, fence, &format!("o{}", rng.random_range(0..3)));
            let len = out.len();
            let n = rng.random_range(0..=len + 10);
            let _ = match rng.random_range(0..5) {
                0 => out.fence_in(&c, n).map(drop),
                1 => out.append(&c, b"Maest").map(drop),
                2 => out.will_commit(&c, n),
                3 => out.committed(&c, n),
                _ => out.fence_in(&c, rng.random_range(0..=len)).map(drop),
            };
            let r = out.record().unwrap();
            assert!(r.watermark >= watermark, "seed {seed}: watermark went down");
            watermark = r.watermark;
            assert!(
                out.len() >= r.watermark,
                "seed {seed}: file {} bytes below watermark {}",
                out.len(),
                r.watermark
            );
        }
    }
}
