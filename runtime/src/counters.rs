//! What this process exchanged with the other MPI ranks: per call and kind
//! of collective, how many collectives, the payload bytes sent and
//! received, the seconds spent in them and the largest buffers one of them
//! held ([`comm_counts`]). With `SHARDKIT_STATS=1` every rank prints its
//! table to standard error at exit.
//!
//! Bytes are payload, counted the same way whatever algorithm MPI uses
//! underneath, so that a model of a run can predict them exactly:
//!
//! | collective | sent | received |
//! |---|---|---|
//! | all-gather of `n` bytes per rank (`allgather`, `allgatherv`) | `n` | the other ranks' bytes |
//! | broadcast of `n` bytes (`bcast`) | `n` on the root, else 0 | `n` off the root, else 0 |
//! | all-reduce of `n` bytes (`allreduce`, `allreduce-keys`) | `n` | `n` |
//!
//! `peak_bytes` is the largest send plus receive buffer of one collective.
//! Off MPI nothing is counted.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Mutex;

/// The environment variable that makes every rank print its counters at
/// exit (`SHARDKIT_STATS=1`).
pub const STATS_ENV: &str = "SHARDKIT_STATS";

/// One row of [`comm_counts`]: the collectives of one kind that this rank
/// made inside one call.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct CommCount {
    /// The `#[parallelize]` function (or `write_on_root`, `claim_output`;
    /// empty for the end of the program) the collectives belonged to.
    pub call: &'static str,
    /// The kind: `allgather`, `allgatherv`, `bcast`, `allreduce` or
    /// `allreduce-keys`.
    pub op: &'static str,
    /// How many collectives.
    pub count: u64,
    /// Payload bytes this rank contributed (see the module's table).
    pub sent: u64,
    /// Payload bytes it got from the others.
    pub received: u64,
    /// Wall-clock seconds inside them, waiting included.
    pub seconds: f64,
    /// The largest send plus receive buffer of one of them, in bytes.
    pub peak_bytes: u64,
}

static COUNTS: Mutex<BTreeMap<(&'static str, &'static str), CommCount>> =
    Mutex::new(BTreeMap::new());

/// Counts one collective (called by the MPI transport).
#[cfg_attr(not(feature = "mpi"), allow(dead_code))]
pub(crate) fn record(
    call: &'static str,
    op: &'static str,
    sent: u64,
    received: u64,
    buffers: u64,
    seconds: f64,
) {
    let mut counts = COUNTS.lock().unwrap_or_else(|e| e.into_inner());
    let row = counts.entry((call, op)).or_insert(CommCount {
        call,
        op,
        count: 0,
        sent: 0,
        received: 0,
        seconds: 0.0,
        peak_bytes: 0,
    });
    row.count += 1;
    row.sent += sent;
    row.received += received;
    row.seconds += seconds;
    row.peak_bytes = row.peak_bytes.max(buffers);
}

/// This process's counters so far, one row per call and kind of
/// collective, ordered by call then kind (empty off MPI).
///
/// ```
/// // Off MPI no collective runs.
/// assert!(shardkit::comm_counts().is_empty());
/// ```
pub fn comm_counts() -> Vec<CommCount> {
    COUNTS
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .values()
        .cloned()
        .collect()
}

/// [`comm_counts`] as a table, with a total line, each line starting with
/// `rank R:`.
pub fn comm_table(rank: usize) -> String {
    let rows = comm_counts();
    let mut out = String::new();
    let _ = writeln!(
        out,
        "rank {rank}: {:<28} {:<14} {:>8} {:>14} {:>14} {:>10} {:>12}",
        "call", "collective", "count", "sent B", "received B", "seconds", "peak B"
    );
    let mut total = (0u64, 0u64, 0u64, 0.0f64, 0u64);
    for r in &rows {
        let call = if r.call.is_empty() { "(end)" } else { r.call };
        let _ = writeln!(
            out,
            "rank {rank}: {call:<28} {:<14} {:>8} {:>14} {:>14} {:>10.6} {:>12}",
            r.op, r.count, r.sent, r.received, r.seconds, r.peak_bytes
        );
        total.0 += r.count;
        total.1 += r.sent;
        total.2 += r.received;
        total.3 += r.seconds;
        total.4 = total.4.max(r.peak_bytes);
    }
    let _ = writeln!(
        out,
        "rank {rank}: {:<28} {:<14} {:>8} {:>14} {:>14} {:>10.6} {:>12}",
        "total", "", total.0, total.1, total.2, total.3, total.4
    );
    out
}
