//! What the examples share: how a program says where it runs.

use shardkit::Executor;

/// Where `exec` runs a call's shards: "4 threads", "1 thread", or under MPI
/// "2 ranks × 1 thread" (ranks × each rank's threads).
pub(crate) fn workers(exec: &Executor) -> String {
    let (_, ranks) = exec.rank();
    let threads = exec.workers() / ranks;
    let threads = format!("{threads} thread{}", if threads == 1 { "" } else { "s" });
    if ranks > 1 {
        format!("{ranks} ranks × {threads}")
    } else {
        threads
    }
}
