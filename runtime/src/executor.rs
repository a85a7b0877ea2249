//! Where shards run: the [`Executor`] and the ambient executor of a scope.

use std::cell::RefCell;
use std::fmt;
use std::sync::{Arc, OnceLock};

/// The environment variable that sets the size of the default thread pool.
pub const THREADS_ENV: &str = "SHARDKIT_THREADS";

/// Why an [`Executor`] could not be built.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ExecutorError {
    /// A thread count of zero was asked for.
    #[error("a thread pool needs at least one thread; use `Executor::serial()` to run on the calling thread")]
    ZeroThreads,
    /// `SHARDKIT_THREADS` is set but is not a positive integer.
    #[error("{THREADS_ENV}=`{value}` is not a positive integer; set it to the number of threads (e.g. {THREADS_ENV}=4) or unset it to use every core")]
    BadThreadsEnv {
        /// The value found in the environment.
        value: String,
    },
    /// MPI could not be initialised (feature `mpi`).
    #[error("MPI could not be initialised; was the program started by mpirun (or srun)?")]
    MpiInit,
    /// The MPI library cannot call MPI from the thread that initialised it
    /// while other threads run (feature `mpi`).
    #[error("the MPI library provides thread support {provided}, but shardkit needs at least Funneled (MPI called only from the main thread while worker threads run); use an MPI build with thread support")]
    MpiThreading {
        /// The level MPI provided.
        provided: String,
    },
    /// The operating system refused to start the pool's threads.
    #[error("could not start a pool of {threads} threads: {source}")]
    Pool {
        /// The number of threads asked for.
        threads: usize,
        /// Rayon's error.
        #[source]
        source: rayon::ThreadPoolBuildError,
    },
}

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
    Mpi(Arc<crate::mpi::Ranks>),
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
    /// # Errors
    ///
    /// [`ExecutorError::ZeroThreads`] for `n == 0`, [`ExecutorError::Pool`] if
    /// the threads cannot be started.
    pub fn threads(n: usize) -> Result<Self, ExecutorError> {
        if n == 0 {
            return Err(ExecutorError::ZeroThreads);
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

    /// The executor the environment asks for: a pool of `SHARDKIT_THREADS`
    /// threads when that variable is set, else a pool over every core.
    ///
    /// Under `mpirun` / `srun` (detected from the launcher's environment
    /// variables) and with the `mpi` feature, it is the MPI world instead,
    /// each rank with a pool of `SHARDKIT_THREADS` threads (default: its
    /// share of the node's cores). Without the feature, a launch under
    /// `mpirun` is reported on standard error, since every rank would then
    /// do all the work.
    ///
    /// # Errors
    ///
    /// [`ExecutorError::BadThreadsEnv`] when the variable is not a positive
    /// integer; MPI initialisation errors under `mpirun`.
    pub fn from_env() -> Result<Self, ExecutorError> {
        Executor::from_env_with_threads(None)
    }

    /// [`from_env`](Executor::from_env) with the threads per process given
    /// by the program — a `--threads` option, say — in place of
    /// `SHARDKIT_THREADS` (`None` falls back to it): a pool of `threads`,
    /// or under `mpirun` the MPI world with `threads` per rank.
    ///
    /// ```
    /// let exec = shardkit::Executor::from_env_with_threads(Some(2))?;
    /// assert_eq!(exec.workers(), 2); // outside mpirun: a pool of 2
    /// # Ok::<(), shardkit::ExecutorError>(())
    /// ```
    ///
    /// # Errors
    ///
    /// As [`from_env`](Executor::from_env); [`ExecutorError::ZeroThreads`]
    /// for `Some(0)`.
    pub fn from_env_with_threads(threads: Option<usize>) -> Result<Self, ExecutorError> {
        let threads = match threads {
            Some(0) => return Err(ExecutorError::ZeroThreads),
            Some(n) => Some(n),
            None => match std::env::var(THREADS_ENV) {
                Ok(value) => match value.trim().parse::<usize>() {
                    Ok(n) if n > 0 => Some(n),
                    _ => return Err(ExecutorError::BadThreadsEnv { value }),
                },
                Err(_) => None,
            },
        };
        #[cfg(feature = "mpi")]
        if crate::mpi::launch_size().is_some() {
            return Ok(Executor {
                kind: Kind::Mpi(crate::mpi::Ranks::world(threads)?),
            });
        }
        #[cfg(not(feature = "mpi"))]
        warn_mpi_launch();
        Executor::threads(threads.unwrap_or_else(|| {
            std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(1)
        }))
    }

    /// Every rank of the MPI world, each running its blocks on `local`
    /// (`Executor::serial()` or a pool). Initialises MPI if the program has
    /// not (with `Threading::Funneled`; it is finalised at exit).
    ///
    /// # Errors
    ///
    /// When MPI cannot be initialised or lacks thread support.
    #[cfg(feature = "mpi")]
    pub fn mpi_world(local: Executor) -> Result<Self, ExecutorError> {
        Executor::mpi(::mpi::topology::SimpleCommunicator::world(), local)
    }

    /// The ranks of a communicator the program manages itself (a split of
    /// the world, say), each running its blocks on `local`. Every rank of
    /// `comm` must make the same calls.
    ///
    /// # Errors
    ///
    /// When MPI cannot be initialised or lacks thread support.
    #[cfg(feature = "mpi")]
    pub fn mpi(
        comm: ::mpi::topology::SimpleCommunicator,
        local: Executor,
    ) -> Result<Self, ExecutorError> {
        Ok(Executor {
            kind: Kind::Mpi(crate::mpi::Ranks::new(comm, local)?),
        })
    }

    /// This process's rank and the number of ranks: `(0, 1)` except on an
    /// MPI executor. Use it for work that one rank does for all (writing a
    /// model file, printing progress).
    pub fn rank(&self) -> (usize, usize) {
        match &self.kind {
            #[cfg(feature = "mpi")]
            Kind::Mpi(ranks) => (ranks.rank(), ranks.size()),
            _ => (0, 1),
        }
    }

    /// Whether this process is rank 0 (always true off MPI): the one that
    /// writes files and prints.
    pub fn is_root(&self) -> bool {
        self.rank().0 == 0
    }

    /// The executor that a `#[parallelize]` call made here would run on.
    ///
    /// Inside [`install`](Executor::install) it is the installed executor.
    /// Inside a shard it is [`Executor::serial`]: a `#[parallelize]` function
    /// called from a shard runs its blocks on that shard's thread.
    /// Elsewhere it is the process-wide default, built on first use by
    /// [`Executor::from_env`].
    ///
    /// # Panics
    ///
    /// When the default is needed and `SHARDKIT_THREADS` is malformed, with
    /// the message of [`ExecutorError::BadThreadsEnv`].
    pub fn current() -> Executor {
        if let Some(exec) = CURRENT.with(|c| c.borrow().clone()) {
            return exec;
        }
        static DEFAULT: OnceLock<Executor> = OnceLock::new();
        DEFAULT
            .get_or_init(|| Executor::from_env().unwrap_or_else(|e| panic!("shardkit: {e}")))
            .clone()
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
            Kind::Mpi(ranks) => ranks.size() * ranks.local().workers(),
        }
    }

    /// The thread pool, or `None` for the serial executor.
    pub(crate) fn pool(&self) -> Option<&rayon::ThreadPool> {
        match &self.kind {
            Kind::Threads(pool) => Some(pool),
            _ => None,
        }
    }

    /// The MPI ranks, for an MPI executor.
    #[cfg(feature = "mpi")]
    pub(crate) fn ranks(&self) -> Option<&crate::mpi::Ranks> {
        match &self.kind {
            Kind::Mpi(ranks) => Some(ranks),
            _ => None,
        }
    }
}

/// Says once, on standard error, that an `mpirun` launch is being ignored.
#[cfg(not(feature = "mpi"))]
fn warn_mpi_launch() {
    const VARS: [&str; 3] = ["OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_RANK"];
    if let Some(var) = VARS.iter().find(|v| std::env::var_os(v).is_some()) {
        eprintln!(
            "shardkit: started under MPI ({var} is set) but built without the `mpi` feature: every rank runs the whole computation on its own threads; build with `--features mpi` to share the work between ranks"
        );
    }
}

/// Sets the thread's ambient executor until dropped, then restores the old one.
pub(crate) struct Installed {
    previous: Option<Executor>,
}

impl Installed {
    pub(crate) fn new(exec: Option<Executor>) -> Self {
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
