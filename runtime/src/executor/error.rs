//! Why an executor could not be built.

use super::timeout::MPI_TIMEOUT_ENV;

/// The environment variable that sets the size of the default thread pool.
pub const THREADS_ENV: &str = "SHARDKIT_THREADS";

/// Why an `Executor` could not be built.
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
    /// `SHARDKIT_MPI_TIMEOUT` is set but is not a number of seconds from 1
    /// to one week (604,800).
    #[error("{MPI_TIMEOUT_ENV}=`{value}` is not a number of seconds from 1 to 604800 (one week); set it to how long an MPI rank may wait for the others at one step before the job is ended (e.g. {MPI_TIMEOUT_ENV}=900), or unset it for the default of 600")]
    BadMpiTimeoutEnv {
        /// The value found in the environment.
        value: String,
    },
    /// More threads were asked for than
    /// [`Executor::max_threads`](crate::Executor::max_threads) allows.
    #[error("{threads} threads is more than this machine can use ({cores} cores; at most {limit} threads); give a count up to the number of cores, e.g. {cores}")]
    TooManyThreads {
        /// The number of threads asked for.
        threads: usize,
        /// The cores this process may use.
        cores: usize,
        /// The most threads allowed.
        limit: usize,
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
