//! Where the shards of a call run.
//!
//! - this file: the [`Executor`] (serial, a thread pool, or MPI ranks) and
//!   the ambient executor of a scope ([`Executor::install`]);
//! - [`error`]: why an executor could not be built;
//! - [`timeout`]: `SHARDKIT_MPI_TIMEOUT`, how long an MPI rank waits for
//!   the others;
//! - [`pool`]: the ordered fold of one call's blocks on one pool (or the
//!   calling thread), which every executor ends in;
//! - `offer`: how the calling thread runs a call's blocks with help from
//!   the pool's threads, without waiting for a pool thread to wake;
//! - `transport` (feature `mpi`): the interface through which an executor
//!   reaches other processes — implemented by `mpi/`;
//! - `ranks` (feature `mpi`): what ranks do for a call, written against
//!   that interface: check the plan, share out blocks, agree on errors,
//!   combine exact results, exchange results and outputs;
//! - `steps` (feature `mpi`): where a rank is in its sequence of calls, as
//!   the ranks tell each other, and the messages that name it when they
//!   went different ways or one waited too long.
//!
//! Building an executor from the environment, and the process-wide default
//! of [`Executor::current`], are in `launch.rs`, above both this folder and
//! `mpi/`.

pub(crate) mod error;
mod offer;
pub(crate) mod pool;
#[cfg(feature = "mpi")]
pub(crate) mod ranks;
#[cfg(feature = "mpi")]
pub(crate) mod steps;
pub(crate) mod timeout;
#[cfg(feature = "mpi")]
pub(crate) mod transport;

use std::cell::RefCell;
use std::fmt;
use std::sync::Arc;

pub use error::{ExecutorError, THREADS_ENV};
pub use timeout::{DEFAULT_MPI_TIMEOUT, MPI_TIMEOUT_ENV};
#[cfg(feature = "mpi")]
use transport::Transport;

use crate::reduce::Folder;

/// Where the shards of a `#[parallelize]` call run.
///
/// An executor is cheap to clone (the thread pool is shared). The function
/// body never names it: a call runs on the *ambient* executor, which is the
/// one [`install`](Executor::install)ed for the current scope, or else the
/// default pool (every core, or `SHARDKIT_THREADS` threads).
///
/// Whatever the executor, a call returns the same bits: blocks are cut from
/// the data alone and their results are merged in block order.
///
/// ```
/// use shardkit::Executor;
///
/// let pool = Executor::threads(2).unwrap();
/// assert_eq!(pool.workers(), 2);
/// let n = pool.install(|| Executor::current().workers());
/// assert_eq!(n, 2);
/// ```
#[derive(Clone)]
pub struct Executor {
    kind: Kind,
}

#[derive(Clone)]
enum Kind {
    Serial,
    Threads(Arc<rayon::ThreadPool>),
    #[cfg(feature = "mpi")]
    Mpi(Arc<Ranks>),
}

/// An MPI executor: the other processes, reached through a [`Transport`],
/// and the executor on which this rank runs its own blocks.
#[cfg(feature = "mpi")]
pub(crate) struct Ranks {
    pub(crate) transport: Box<dyn Transport>,
    pub(crate) local: Executor,
}

#[cfg(feature = "mpi")]
impl fmt::Debug for Ranks {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "rank {} of {}, each on {:?}",
            self.transport.rank(),
            self.transport.size(),
            self.local
        )
    }
}

impl fmt::Debug for Executor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            Kind::Serial => f.write_str("Executor::Serial"),
            Kind::Threads(pool) => write!(f, "Executor::Threads({})", pool.current_num_threads()),
            #[cfg(feature = "mpi")]
            Kind::Mpi(ranks) => write!(f, "Executor::Mpi({ranks:?})"),
        }
    }
}

/// Threads per core above which [`Executor::threads`] warns.
const OVERSUBSCRIBED: usize = 4;

/// The cores this process may use (1 where that cannot be read).
pub(crate) fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

thread_local! {
    static CURRENT: RefCell<Option<Executor>> = const { RefCell::new(None) };
}

impl Executor {
    /// Runs every shard on the calling thread, one after the other.
    ///
    /// This is the serial reference: the threaded executors return the same
    /// bits.
    pub fn serial() -> Self {
        Executor { kind: Kind::Serial }
    }

    /// A rayon pool of `n` threads of its own.
    ///
    /// More threads than [`max_threads`](Executor::max_threads) is refused: beyond the machine's
    /// cores they only add switching, and a mistyped count (`100000`) would
    /// otherwise start threads until the system refuses. Above four threads
    /// per core the pool is built, with a warning on standard error (once
    /// per process).
    ///
    /// # Errors
    ///
    /// [`ExecutorError::ZeroThreads`] for `n == 0`,
    /// [`ExecutorError::TooManyThreads`] above
    /// [`max_threads`](Executor::max_threads),
    /// [`ExecutorError::Pool`] if the threads cannot be started.
    pub fn threads(n: usize) -> Result<Self, ExecutorError> {
        if n == 0 {
            return Err(ExecutorError::ZeroThreads);
        }
        let (cores, limit) = (cores(), Executor::max_threads());
        if n > limit {
            return Err(ExecutorError::TooManyThreads {
                threads: n,
                cores,
                limit,
            });
        }
        if n > OVERSUBSCRIBED * cores {
            static WARNED: std::sync::Once = std::sync::Once::new();
            WARNED.call_once(|| {
                eprintln!(
                    "shardkit: a pool of {n} threads on {cores} cores ({:.1}× oversubscribed) will not run faster than one of {cores}",
                    n as f64 / cores as f64
                );
            });
        }
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(n)
            .thread_name(|i| format!("shardkit-{i}"))
            .build()
            .map_err(|source| ExecutorError::Pool { threads: n, source })?;
        Ok(Executor {
            kind: Kind::Threads(Arc::new(pool)),
        })
    }

    /// The most threads [`threads`](Executor::threads) builds a pool of:
    /// 1,024, or 16 per core on machines with more than 64 cores.
    ///
    /// ```
    /// assert!(shardkit::Executor::max_threads() >= 1024);
    /// assert!(shardkit::Executor::threads(shardkit::Executor::max_threads() + 1).is_err());
    /// ```
    pub fn max_threads() -> usize {
        (16 * cores()).max(1024)
    }

    /// This process's rank and the number of ranks: `(0, 1)` except on an
    /// MPI executor. Use it for work that one rank does for all (writing a
    /// model file, printing progress).
    pub fn rank(&self) -> (usize, usize) {
        match &self.kind {
            #[cfg(feature = "mpi")]
            Kind::Mpi(ranks) => (ranks.transport.rank(), ranks.transport.size()),
            _ => (0, 1),
        }
    }

    /// Whether this process is rank 0 (always true off MPI): the one that
    /// writes files and prints.
    pub fn is_root(&self) -> bool {
        self.rank().0 == 0
    }

    /// Runs `f` with `self` as the ambient executor, as rayon's
    /// `ThreadPool::install` does for `par_iter`: every `#[parallelize]`
    /// call that `f` makes on this thread runs on `self`.
    ///
    /// The previous ambient executor is restored when `f` returns or panics.
    ///
    /// ```
    /// use shardkit::{parallelize, Executor};
    ///
    /// #[parallelize(split = "xs", reduce = "sum")]
    /// fn total(xs: &[u64]) -> u64 {
    ///     xs.iter().sum()
    /// }
    ///
    /// let xs: Vec<u64> = (1..=100).collect();
    /// let on_three = Executor::threads(3).unwrap().install(|| total(&xs));
    /// let serial = Executor::serial().install(|| total(&xs));
    /// assert_eq!(on_three, 5050);
    /// assert_eq!(on_three, serial);
    /// ```
    pub fn install<R>(&self, f: impl FnOnce() -> R) -> R {
        let _restore = Installed::new(Some(self.clone()));
        f()
    }

    /// How many shards run at once: 1 for serial, the pool size for
    /// threads, ranks × each rank's workers for MPI.
    pub fn workers(&self) -> usize {
        match &self.kind {
            Kind::Serial => 1,
            Kind::Threads(pool) => pool.current_num_threads(),
            #[cfg(feature = "mpi")]
            Kind::Mpi(ranks) => ranks.transport.size() * ranks.local.workers(),
        }
    }

    /// The executor installed on this thread, if any (see
    /// [`install`](Executor::install)).
    pub(crate) fn installed() -> Option<Executor> {
        CURRENT.with(|c| c.borrow().clone())
    }

    /// Runs `shard` on every piece (block `first + i` for piece `i`) on this
    /// process — on the calling thread helped by the pool's threads, or on
    /// the calling thread alone for the serial and MPI executors — and folds the results in block order with `folder`
    /// (see [`pool::execute`], which this wraps); `None` when there are no
    /// pieces.
    ///
    /// A `#[parallelize]` call made inside a shard (or a merge) runs
    /// serially on that shard's thread.
    ///
    /// # Panics
    ///
    /// When a shard panics: the first panic in block order is resumed.
    pub(crate) fn execute<P: Send, T: Send, E: Send, F: Folder<T>>(
        &self,
        first: usize,
        pieces: Vec<P>,
        shard: &(dyn Fn(P) -> Result<T, E> + Sync),
        folder: &F,
    ) -> Result<Option<F::Acc>, (usize, E)> {
        // Installed once per thread and call, not per block.
        let serial = || Installed::new(Some(Executor::serial()));
        pool::execute(self.pool(), first, pieces, shard, folder, serial)
    }

    /// The thread pool, or `None` for the serial and MPI executors (an MPI
    /// rank's pool is its local executor's).
    fn pool(&self) -> Option<&rayon::ThreadPool> {
        match &self.kind {
            Kind::Threads(pool) => Some(pool),
            _ => None,
        }
    }

    /// An executor over the processes that `transport` reaches, each
    /// running its blocks on `local`.
    #[cfg(feature = "mpi")]
    pub(crate) fn on_ranks(transport: Box<dyn Transport>, local: Executor) -> Executor {
        Executor {
            kind: Kind::Mpi(Arc::new(Ranks { transport, local })),
        }
    }

    /// The MPI ranks, for an MPI executor.
    #[cfg(feature = "mpi")]
    pub(crate) fn ranks(&self) -> Option<&Ranks> {
        match &self.kind {
            Kind::Mpi(ranks) => Some(ranks),
            _ => None,
        }
    }
}

/// Sets the thread's ambient executor until dropped, then restores the old one.
struct Installed {
    previous: Option<Executor>,
}

impl Installed {
    fn new(exec: Option<Executor>) -> Self {
        let previous = CURRENT.with(|c| c.replace(exec));
        Installed { previous }
    }
}

impl Drop for Installed {
    fn drop(&mut self) {
        let previous = self.previous.take();
        CURRENT.with(|c| *c.borrow_mut() = previous);
    }
}
