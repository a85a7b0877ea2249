//! Which kinds of pass a process has made: each `#[parallelize]` call
//! adds its function's name and, for data that is the same on every rank,
//! its number of blocks, to a set; the *plan digest* of that set is what
//! result files carry to say how their passes were cut.
//!
//! Blocks of the same data are cut from the data alone, never from the
//! number of threads or ranks, so a program gives the same digest on any
//! layout. A call on each rank's own data (`data = "local"`) adds its name
//! only: how many blocks its ranks hold together depends on how many ranks
//! there are. It is a set, not a count: a run that repeats a pass more
//! often (more iterations), or that was stopped and resumed from a
//! checkpoint (which carries the set of the passes before it, see
//! [`plan_kinds`] and [`merge_plan_kinds`]), has the same digest.

use std::cell::Cell;
use std::collections::BTreeSet;
use std::sync::Mutex;

static KINDS: Mutex<BTreeSet<u64>> = Mutex::new(BTreeSet::new());

thread_local! {
    /// The kind this thread noted last: already in `KINDS`, which never
    /// loses a kind, so noting it again can skip the lock.
    static LAST: Cell<Option<u64>> = const { Cell::new(None) };
}

/// FNV-1a, stable across processes and platforms.
pub(crate) fn fnv(bytes: &[u8]) -> u64 {
    fnv_more(0xcbf2_9ce4_8422_2325, bytes)
}

/// FNV-1a from state `h`, over more bytes.
fn fnv_more(h: u64, bytes: &[u8]) -> u64 {
    bytes
        .iter()
        .fold(h, |h, &b| (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3))
}

/// Counts one call of `function`: over `blocks` blocks of the same data,
/// or (`None`) over each rank's own data.
pub(crate) fn note(function: &str, blocks: Option<usize>) {
    // (Hashed in two steps: every call passes here, so no allocation.)
    let named = fnv(function.as_bytes());
    let kind = match blocks {
        Some(n) => fnv_more(named, &(n as u64).to_le_bytes()),
        None => fnv_more(named, b" (local)"),
    };
    if LAST.get() == Some(kind) {
        return;
    }
    KINDS.lock().unwrap_or_else(|e| e.into_inner()).insert(kind);
    LAST.set(Some(kind));
}

/// The kinds of pass this process has made so far, and a digest of them
/// (see [`plan_digest`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PlanDigest {
    /// The number of distinct kinds of pass (function and block count).
    pub kinds: usize,
    /// The digest of the set.
    pub digest: u64,
}

impl std::fmt::Display for PlanDigest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:016x} ({} kinds of pass)", self.digest, self.kinds)
    }
}

/// The plan digest of this process so far: the set of its
/// `#[parallelize]` calls' functions and, over the same data on every
/// rank, their block counts. The same program on the same data gives the
/// same digest on any number of threads or ranks, however many iterations
/// it ran; other data (another number of blocks), other code or other
/// algorithms change it. Result files record it as part of their
/// provenance.
///
/// ```
/// use shardkit::{parallelize, plan_digest};
///
/// #[parallelize(split = "xs", reduce = "sum")]
/// fn total(xs: &[u64]) -> u64 {
///     xs.iter().sum()
/// }
///
/// total(&[1, 2, 3]);
/// let once = plan_digest();
/// // The same pass again adds nothing; a pass cut otherwise does.
/// total(&[4, 5, 6]);
/// assert_eq!(plan_digest(), once);
/// total(&[1, 2, 3, 4]);
/// assert_eq!(plan_digest().kinds, once.kinds + 1);
/// ```
pub fn plan_digest() -> PlanDigest {
    let kinds = KINDS.lock().unwrap_or_else(|e| e.into_inner());
    let mut bytes = Vec::with_capacity(8 * kinds.len());
    for k in kinds.iter() {
        bytes.extend_from_slice(&k.to_le_bytes());
    }
    PlanDigest {
        kinds: kinds.len(),
        digest: fnv(&bytes),
    }
}

/// The kinds of pass behind [`plan_digest`], in increasing order: what a
/// checkpoint saves so that the run resumed from it ends with the digest
/// of a run never stopped ([`merge_plan_kinds`]).
pub fn plan_kinds() -> Vec<u64> {
    KINDS
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .iter()
        .copied()
        .collect()
}

/// Adds kinds of pass that [`plan_kinds`] gave in an earlier process (read
/// back from a checkpoint).
pub fn merge_plan_kinds(kinds: &[u64]) {
    KINDS
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .extend(kinds.iter().copied());
}
