//! The interface through which an executor reaches the other processes of
//! a call (feature `mpi`): the collectives that `ranks.rs` writes a call's
//! steps with. `mpi/comm.rs` implements it over an MPI communicator.
//!
//! Every method is collective: every process of the group calls it, in the
//! same order, with arguments of the shapes documented. Section numbers are
//! those of the MPI 3.1 standard (as in rsmpi's documentation), whose
//! operation each method stands for.

/// Which key an all-reduce of keys keeps: see
/// [`Transport::all_reduce_keys`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Keep {
    /// The smallest.
    Min,
    /// The largest.
    Max,
}

/// The words of payload that each process adds to the start of a step:
/// see [`Transport::begin`].
pub(crate) const PAYLOAD: usize = 4;

/// A group of processes, numbered `0..size()`, that run the same program
/// (SPMD) and exchange data collectively.
///
/// Implementations may require every call to be made from one thread (MPI
/// initialised with `Threading::Funneled`) and panic otherwise.
pub(crate) trait Transport: Send + Sync {
    /// This process's number in the group.
    fn rank(&self) -> usize;

    /// The number of processes in the group.
    fn size(&self) -> usize;

    /// Starts the next step — a `#[parallelize]` call or a root helper
    /// named `call` — on this process, and returns every process's
    /// `payload`, in rank order (`MPI_Allgather`, §5.7, of the step's
    /// identity and the payload). Every process numbers its steps; when the
    /// processes started different calls at the same step (they made
    /// different numbers of calls, called different functions, or one has
    /// finished its program), the job ends at once with a message naming
    /// each process's call, and this never returns.
    ///
    /// Every exchange, this one included, waits for the other processes at
    /// most the executor's timeout (`SHARDKIT_MPI_TIMEOUT`); then the job
    /// ends with a message naming the processes waited for.
    fn begin(&self, call: &'static str, payload: [u64; PAYLOAD]) -> Vec<[u64; PAYLOAD]>;

    /// Every process's `mine`, in rank order: `mine.len()` words per
    /// process, the same length on every process (`MPI_Allgather`, §5.7).
    fn all_gather_u64(&self, mine: &[u64]) -> Vec<u64>;

    /// Every process's `mine`, of any length, in rank order (`MPI_Allgatherv`
    /// in rounds that keep counts within MPI's 32-bit limits, §5.7).
    fn all_gather_bytes(&self, mine: &[u8]) -> Vec<Vec<u8>>;

    /// Overwrites `words` with those of process `root` (`MPI_Bcast`, §5.4);
    /// the same length on every process.
    fn broadcast_u64(&self, root: usize, words: &mut [u64]);

    /// Overwrites `bytes` with those of process `root` (`MPI_Bcast`, §5.4);
    /// the same length on every process.
    fn broadcast_bytes(&self, root: usize, bytes: &mut [u8]);

    /// Adds `words` element by element across the group, in place, on
    /// every process (`MPI_Allreduce` with `MPI_SUM` on `int64`, §5.9.6).
    /// The caller keeps the sums within `i64`.
    fn all_reduce_sum(&self, words: &mut [i64]);

    /// Keeps the smallest or largest of each key across the group, in
    /// place, on every process (`MPI_Allreduce` with a user operation,
    /// §5.9.5, §5.9.6). A key is two words, high then low, compared as one
    /// `i128`; `keys` holds a whole number of them.
    fn all_reduce_keys(&self, keys: &mut [i64], keep: Keep);
}
