//! MPI ranks (cargo feature `mpi`): the executor's [`Transport`] over an
//! MPI communicator, and the constructors that need rsmpi.
//!
//! - [`init`]: MPI's lifecycle — initialised once with
//!   `Threading::Funneled`, kept for the program's life, finalised at exit,
//!   and a panic hook that ends the whole job;
//! - [`comm`]: the communicator as a [`Transport`], with the collectives
//!   cut into rounds that fit MPI's 32-bit counts;
//! - [`watch`]: how a rank waits for the others — never for ever: a
//!   timeout, and a clear end of the job when ranks went different ways;
//! - [`serde_codec`]: how serde types travel (postcard), found by the call
//!   site's probe;
//! - this file: [`Executor::mpi`], [`Executor::mpi_world`], and the world
//!   that an `mpirun` launch asks for.
//!
//! What a call does on ranks — checking the plan, sharing out blocks,
//! agreeing on errors, combining results — is not here but in
//! `executor/ranks.rs`, written against the [`Transport`] interface.
//!
//! [`Transport`]: crate::executor::transport::Transport

mod comm;
mod init;
mod serde_codec;
mod watch;

use mpi::topology::SimpleCommunicator;

use crate::executor::{Executor, ExecutorError};

/// The environment variables that tell an MPI launch (Open MPI, MPICH/Hydra,
/// PMIx, Slurm's PMI) from a plain run, with the world size they hold.
const LAUNCH_VARS: [&str; 4] = [
    "OMPI_COMM_WORLD_SIZE",
    "PMI_SIZE",
    "PMIX_SIZE",
    "MPI_LOCALNRANKS",
];

/// The world size if this process was started by `mpirun`/`mpiexec`/`srun`.
pub(crate) fn launch_size() -> Option<usize> {
    LAUNCH_VARS
        .iter()
        .find_map(|v| std::env::var(v).ok())
        .and_then(|s| s.trim().parse().ok())
        .or_else(|| std::env::var("PMIX_RANK").ok().map(|_| 1))
}

/// How many ranks share this node, to size each rank's default pool.
fn local_ranks() -> usize {
    [
        "OMPI_COMM_WORLD_LOCAL_SIZE",
        "MPI_LOCALNRANKS",
        "SLURM_NTASKS_PER_NODE",
    ]
    .iter()
    .find_map(|v| std::env::var(v).ok()?.trim().parse().ok())
    .unwrap_or(1)
}

/// The world, as an `mpirun` launch gives it: each rank with a pool of
/// `threads` threads (`SHARDKIT_THREADS`), or of its share of the node's
/// cores.
pub(crate) fn world(threads: Option<usize>) -> Result<Executor, ExecutorError> {
    init::ensure_initialized()?;
    let threads = threads.unwrap_or_else(|| (crate::executor::cores() / local_ranks()).max(1));
    let local = if threads == 1 {
        Executor::serial()
    } else {
        Executor::threads(threads)?
    };
    Executor::mpi(SimpleCommunicator::world(), local)
}

impl Executor {
    /// Every rank of the MPI world, each running its blocks on `local`
    /// (`Executor::serial()` or a pool). Initialises MPI if the program has
    /// not (with `Threading::Funneled`; it is finalised at exit). Every
    /// rank must build it; each waits for the others at most
    /// `SHARDKIT_MPI_TIMEOUT` seconds (see [`Executor::mpi`]).
    ///
    /// # Errors
    ///
    /// As [`Executor::mpi`].
    pub fn mpi_world(local: Executor) -> Result<Self, ExecutorError> {
        Executor::mpi(SimpleCommunicator::world(), local)
    }

    /// The ranks of a communicator the program manages itself (a split of
    /// the world, say), each running its blocks on `local`. Every rank of
    /// `comm` must make the same calls, in the same order.
    ///
    /// Building it is collective, like MPI's own communicator constructors:
    /// every rank of `comm` must build it, since it duplicates `comm`
    /// (`MPI_Comm_dup`), so that shardkit's exchanges never mix with the
    /// program's own traffic on `comm`.
    ///
    /// # Never hanging
    ///
    /// The first exchange of every call carries the call's identity (its
    /// function's name and its number among this executor's calls; the
    /// exchanges that follow inside a call are decided by data every rank
    /// then holds), and every exchange waits for the other ranks at most [`SHARDKIT_MPI_TIMEOUT`](crate::MPI_TIMEOUT_ENV)
    /// seconds (default [`DEFAULT_MPI_TIMEOUT`](crate::DEFAULT_MPI_TIMEOUT),
    /// 10 minutes), without keeping a core busy. The job then ends
    /// (`MPI_Abort`, a non-zero exit) with a message on standard error:
    ///
    /// - when ranks start different calls at the same step (they made
    ///   different numbers of calls or called different functions), at
    ///   once, naming each rank's call;
    /// - when a rank ends its program while others are in a call, at once,
    ///   the same way, where shardkit initialised MPI (it then tells the
    ///   other ranks at exit, before finalising MPI; a program that
    ///   finalises MPI itself gets the timeout's message instead);
    /// - when a rank waits longer than the timeout, naming the ranks it
    ///   waited for and the calls that each rank is in.
    ///
    /// # Errors
    ///
    /// When MPI cannot be initialised or lacks thread support, and
    /// [`ExecutorError::BadMpiTimeoutEnv`] when `SHARDKIT_MPI_TIMEOUT` is
    /// set but not a number of seconds from 1 to one week.
    pub fn mpi(comm: SimpleCommunicator, local: Executor) -> Result<Self, ExecutorError> {
        let limit = crate::executor::timeout::mpi_timeout_from_env()?;
        let state = init::ensure_initialized()?;
        let comm = comm::Comm::new(&comm, state.owner, limit);
        Ok(Executor::on_ranks(Box::new(comm), local))
    }
}
