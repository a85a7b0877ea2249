//! What a process's `#[parallelize]` calls were: each call adds its
//! function's name and, for data that is the same on every rank, its
//! number of blocks to one digest, the *plan digest* that result files
//! carry to say how their passes were cut.
//!
//! Blocks of the same data are cut from the data alone, never from the
//! number of threads or ranks, so a program gives the same digest on any
//! layout. A call on each rank's own data (`data = "local"`) adds its name
//! only: how many blocks its ranks hold together depends on how many ranks
//! there are. The digest is a wrapping sum of one FNV-1a hash per call:
//! calls made at once from several threads add up to the same value in
//! any order.

use std::sync::atomic::{AtomicU64, Ordering};

static CALLS: AtomicU64 = AtomicU64::new(0);
static DIGEST: AtomicU64 = AtomicU64::new(0);

/// FNV-1a, stable across processes and platforms.
pub(crate) fn fnv(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// Counts one call of `function`: over `blocks` blocks of the same data,
/// or (`None`) over each rank's own data.
pub(crate) fn note(function: &str, blocks: Option<usize>) {
    let mut bytes = function.as_bytes().to_vec();
    match blocks {
        Some(n) => bytes.extend_from_slice(&(n as u64).to_le_bytes()),
        None => bytes.extend_from_slice(b" (local)"),
    }
    DIGEST.fetch_add(fnv(&bytes), Ordering::Relaxed);
    CALLS.fetch_add(1, Ordering::Relaxed);
}

/// The `#[parallelize]` calls this process has made so far: how many, and
/// a digest of their functions and block counts (see [`plan_digest`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PlanDigest {
    /// The number of calls.
    pub calls: u64,
    /// The digest of their functions' names and block counts.
    pub digest: u64,
}

impl std::fmt::Display for PlanDigest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:016x} ({} calls)", self.digest, self.calls)
    }
}

/// The plan digest of this process so far: every `#[parallelize]` call
/// adds its function's name and, over the same data on every rank, its
/// number of blocks.
/// The same program on the same data gives the same digest on any number
/// of threads or ranks; other data, other settings or other code usually
/// change it. Result files record it as part of their provenance.
///
/// ```
/// use shardkit::{parallelize, plan_digest};
///
/// #[parallelize(split = "xs", reduce = "sum")]
/// fn total(xs: &[u64]) -> u64 {
///     xs.iter().sum()
/// }
///
/// let before = plan_digest();
/// total(&[1, 2, 3]);
/// let after = plan_digest();
/// assert!(after.calls > before.calls);
/// ```
pub fn plan_digest() -> PlanDigest {
    PlanDigest {
        calls: CALLS.load(Ordering::Relaxed),
        digest: DIGEST.load(Ordering::Relaxed),
    }
}
