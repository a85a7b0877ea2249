//! The executor a program was launched with: [`Executor::from_env`] reads
//! `SHARDKIT_THREADS` and detects an `mpirun` launch, and
//! [`Executor::current`] falls back to it, built once, where no executor is
//! installed.
//!
//! This sits above both `executor/` and `mpi/`: the plain executors do not
//! know MPI, and MPI's world is built here only when the launch asks for it.

use std::sync::OnceLock;

use crate::executor::{Executor, ExecutorError, THREADS_ENV};

impl Executor {
    /// The executor the environment asks for: a pool of `SHARDKIT_THREADS`
    /// threads when that variable is set, else a pool over every core.
    ///
    /// Under `mpirun` / `srun` (detected from the launcher's environment
    /// variables) and with the `mpi` feature, it is the MPI world instead,
    /// each rank with a pool of `SHARDKIT_THREADS` threads (default: its
    /// share of the node's cores), each rank waiting for the others at most
    /// [`SHARDKIT_MPI_TIMEOUT`](crate::MPI_TIMEOUT_ENV) seconds at one step
    /// (see `Executor::mpi`). Without the feature, a launch under
    /// `mpirun` is reported on standard error, since every rank would then
    /// do all the work.
    ///
    /// # Errors
    ///
    /// [`ExecutorError::BadThreadsEnv`] when the variable is not a positive
    /// integer; [`ExecutorError::BadMpiTimeoutEnv`] when
    /// [`SHARDKIT_MPI_TIMEOUT`](crate::MPI_TIMEOUT_ENV) is set but not a
    /// number of seconds from 1 to one week (checked with or without MPI);
    /// MPI initialisation errors under `mpirun`.
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
        // Checked on every launch, so that a mistyped value is reported
        // before a job is sent to a cluster, not only under mpirun.
        crate::executor::timeout::mpi_timeout_from_env()?;
        #[cfg(feature = "mpi")]
        if crate::mpi::launch_size().is_some() {
            return crate::mpi::world(threads);
        }
        #[cfg(not(feature = "mpi"))]
        warn_mpi_launch();
        Executor::threads(threads.unwrap_or_else(crate::executor::cores))
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
    /// When the default is needed and `SHARDKIT_THREADS` or
    /// `SHARDKIT_MPI_TIMEOUT` is malformed, with the message of
    /// [`ExecutorError::BadThreadsEnv`] or
    /// [`ExecutorError::BadMpiTimeoutEnv`].
    pub fn current() -> Executor {
        if let Some(exec) = Executor::installed() {
            return exec;
        }
        match default_executor() {
            Ok(exec) => exec.clone(),
            Err(e) => panic!("shardkit: {e}"),
        }
    }
}

/// The process-wide default executor, built by [`Executor::from_env`] on
/// first success and then kept; a failure is not remembered (the variable
/// may be fixed and the call made again).
fn default_executor() -> Result<&'static Executor, ExecutorError> {
    static DEFAULT: OnceLock<Executor> = OnceLock::new();
    if let Some(exec) = DEFAULT.get() {
        return Ok(exec);
    }
    let exec = Executor::from_env()?;
    // Two threads may both get here; the first one's executor is kept.
    Ok(DEFAULT.get_or_init(|| exec))
}

/// Whether this process is rank 0 of the ambient executor, without
/// panicking: where the default executor cannot be built (a malformed
/// `SHARDKIT_THREADS`, say, which the program is about to report), the
/// launcher's rank decides (rank 0, or the only process).
pub(crate) fn ambient_is_root() -> bool {
    if let Some(exec) = Executor::installed() {
        return exec.is_root();
    }
    match default_executor() {
        Ok(exec) => exec.is_root(),
        Err(_) => launch_rank().is_none_or(|rank| rank == 0),
    }
}

/// This process's rank as the MPI launcher gives it (Open MPI, MPICH/Hydra,
/// PMIx, Slurm), with the `mpi` feature; `None` without the feature (every
/// process then works alone and is its own root) or outside a launch.
fn launch_rank() -> Option<usize> {
    if !cfg!(feature = "mpi") {
        return None;
    }
    [
        "OMPI_COMM_WORLD_RANK",
        "PMI_RANK",
        "PMIX_RANK",
        "SLURM_PROCID",
    ]
    .iter()
    .find_map(|v| std::env::var(v).ok()?.trim().parse().ok())
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
