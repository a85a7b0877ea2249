//! MPI ranks (cargo feature `mpi`): the same `#[parallelize]` calls, with
//! blocks shared out between processes.
//!
//! SPMD, as daal4py: every rank runs the same program and calls the function
//! with the same arguments; every rank cuts the same plan, runs a contiguous
//! run of its blocks on its own executor (serial or a thread pool), and
//! receives the combined result.
//!
//! Sums, minima and maxima of types that [`pack`](crate::Reduce::pack) are
//! combined exactly (fixed-point integers), so the result has the same bits
//! for any number of ranks and threads per rank — and the same bits as a
//! run on threads alone.

use std::ops::Range;
use std::os::raw::{c_int, c_void};
use std::sync::{Arc, Mutex, OnceLock};
use std::thread::ThreadId;

use mpi::collective::{SystemOperation, UnsafeUserOperation};
use mpi::datatype::{MutView, PartitionMut, UserDatatype, View};
use mpi::environment::Universe;
use mpi::topology::SimpleCommunicator;
use mpi::traits::*;
use mpi::{Count, Threading};

use crate::engine::execute;
use crate::executor::{Executor, ExecutorError};
use crate::glue::ErrorOps;
use crate::lanes::{Exact, WordLayout};
use crate::plan::Plan;
use crate::reduction::{Collect, ExactFolder, Plain, Reduction};
use crate::remote::RemoteError;
use crate::wire::{Codec, Output};

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

/// MPI as this process initialised it.
struct State {
    /// `Some` when shardkit initialised MPI and must finalise it at exit.
    universe: Mutex<Option<Universe>>,
    /// The thread that initialised MPI: with `Threading::Funneled` only it
    /// may call MPI.
    owner: ThreadId,
}

static STATE: OnceLock<State> = OnceLock::new();
static INIT: Mutex<()> = Mutex::new(());

extern "C" {
    fn atexit(callback: extern "C" fn()) -> c_int;
}

extern "C" fn finalize_at_exit() {
    if let Some(state) = STATE.get() {
        if let Ok(mut universe) = state.universe.lock() {
            // Dropping the universe calls MPI_Finalize.
            drop(universe.take());
        }
    }
}

fn level(t: Threading) -> u8 {
    match t {
        Threading::Single => 0,
        Threading::Funneled => 1,
        Threading::Serialized => 2,
        Threading::Multiple => 3,
    }
}

/// Initialises MPI once (requesting `Threading::Funneled`), keeps the
/// universe for the program's life, finalises it at exit, and makes a panic
/// on any rank abort the whole job.
fn ensure_initialized() -> Result<&'static State, ExecutorError> {
    if let Some(state) = STATE.get() {
        return Ok(state);
    }
    let _guard = INIT.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(state) = STATE.get() {
        return Ok(state);
    }
    let universe = if mpi::is_initialized() {
        // The program initialised MPI itself and will finalise it.
        let provided = mpi::environment::threading_support();
        if level(provided) < level(Threading::Funneled) {
            return Err(ExecutorError::MpiThreading {
                provided: format!("{provided:?}"),
            });
        }
        None
    } else {
        let (universe, provided) =
            mpi::initialize_with_threading(Threading::Funneled).ok_or(ExecutorError::MpiInit)?;
        if level(provided) < level(Threading::Funneled) {
            return Err(ExecutorError::MpiThreading {
                provided: format!("{provided:?}"),
            });
        }
        Some(universe)
    };
    let owned = universe.is_some();
    let state = STATE.get_or_init(|| State {
        universe: Mutex::new(universe),
        owner: std::thread::current().id(),
    });
    if owned {
        // SAFETY: registering a plain `extern "C"` function with the C
        // runtime; it only touches `STATE`, a static.
        unsafe {
            atexit(finalize_at_exit);
        }
    }
    install_abort_hook();
    Ok(state)
}

/// A panic on one rank cannot unwind the others, which would wait forever
/// in their next collective; finalising during the unwind would block too.
/// So after the usual panic message, the hook ends the whole job.
fn install_abort_hook() {
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        previous(info);
        if mpi::is_initialized() && !mpi::is_finalized() {
            let world = SimpleCommunicator::world();
            if world.size() > 1 {
                eprintln!(
                    "shardkit: MPI rank {} panicked; aborting the job (a panic cannot unwind the other ranks)",
                    world.rank()
                );
                world.abort(101);
            }
        }
    }));
}

/// A communicator handed between threads; only its owner thread uses it.
struct Comm(SimpleCommunicator);

// SAFETY: `SimpleCommunicator` holds a communicator handle, which MPI lets
// any thread name; every MPI call made with it goes through `Ranks`, which
// checks that it runs on the thread that initialised MPI (Funneled).
unsafe impl Send for Comm {}
// SAFETY: as above: shared references only reach MPI on the owner thread.
unsafe impl Sync for Comm {}

/// An MPI executor: a communicator and each rank's own executor.
pub(crate) struct Ranks {
    comm: Comm,
    rank: usize,
    size: usize,
    local: Executor,
    owner: ThreadId,
}

impl std::fmt::Debug for Ranks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "rank {} of {}, each on {:?}",
            self.rank, self.size, self.local
        )
    }
}

impl Ranks {
    /// Every rank of `comm`, each running its blocks on `local`.
    pub(crate) fn new(
        comm: SimpleCommunicator,
        local: Executor,
    ) -> Result<Arc<Ranks>, ExecutorError> {
        let state = ensure_initialized()?;
        Ok(Arc::new(Ranks {
            rank: comm.rank() as usize,
            size: comm.size() as usize,
            comm: Comm(comm),
            local,
            owner: state.owner,
        }))
    }

    /// The world, as an `mpirun` launch gives it: each rank with a pool of
    /// `SHARDKIT_THREADS` threads, or of its share of the node's cores.
    pub(crate) fn world(threads: Option<usize>) -> Result<Arc<Ranks>, ExecutorError> {
        ensure_initialized()?;
        let threads = threads.unwrap_or_else(|| {
            let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
            (cores / local_ranks()).max(1)
        });
        let local = if threads == 1 {
            Executor::serial()
        } else {
            Executor::threads(threads)?
        };
        Ranks::new(SimpleCommunicator::world(), local)
    }

    pub(crate) fn rank(&self) -> usize {
        self.rank
    }

    pub(crate) fn size(&self) -> usize {
        self.size
    }

    pub(crate) fn local(&self) -> &Executor {
        &self.local
    }

    #[track_caller]
    fn comm(&self) -> &SimpleCommunicator {
        assert!(
            std::thread::current().id() == self.owner,
            "shardkit: a #[parallelize] call on MPI ranks must be made from the thread that initialised MPI (MPI was initialised with Threading::Funneled)"
        );
        &self.comm.0
    }

    /// Checks that every rank cut the same plan, and returns this rank's
    /// contiguous run of blocks, balanced by block weight.
    #[track_caller]
    pub(crate) fn assign(&self, function: &str, plan: &Plan) -> Range<usize> {
        let comm = self.comm();
        let mine = [plan.len() as u64, plan.blocks() as u64, plan.digest()];
        let mut all = vec![0u64; 3 * self.size];
        comm.all_gather_into(&mine[..], &mut all[..]);
        let first = &all[..3];
        if let Some((rank, other)) = all
            .chunks_exact(3)
            .enumerate()
            .find(|(_, other)| *other != first)
        {
            panic!(
                "shardkit: `{function}` was called with different split inputs on different MPI ranks: rank 0 has {} items in {} blocks, rank {rank} has {} items in {} blocks; every rank must pass the same arguments (SPMD)",
                first[0], first[1], other[0], other[1]
            );
        }
        plan.share(self.rank, self.size)
    }

    /// The number, in the whole call, of this rank's first block when every
    /// rank cut its own data into `blocks` blocks (`data = "local"`):
    /// blocks are numbered across the ranks in rank order.
    pub(crate) fn offset(&self, blocks: usize) -> usize {
        let mut all = vec![0u64; self.size];
        self.comm().all_gather_into(&(blocks as u64), &mut all[..]);
        all[..self.rank].iter().sum::<u64>() as usize
    }

    /// Runs this rank's blocks (numbered from `first`) and combines the
    /// results of all ranks.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn run<P: Send, T: Send, E: Send>(
        &self,
        function: &'static str,
        first: usize,
        pieces: Vec<P>,
        shard: &(dyn Fn(P) -> Result<T, E> + Sync),
        reduction: Reduction<T>,
        exact: Option<ExactFolder<T>>,
        errors: ErrorOps<E>,
    ) -> Result<T, E> {
        if let Some(folder) = exact {
            let mine = execute(&self.local, first, pieces, shard, &folder);
            let mine = self.agree(function, mine, &errors)?;
            let exact = self.combine_exact(function, &folder, mine);
            return Ok(folder.finish(&exact));
        }
        if let Some(make) = reduction.stays {
            // `none`: nothing travels but the verdict on errors.
            let plain = Plain {
                merge: reduction.merge,
            };
            let mine = execute(&self.local, first, pieces, shard, &plain);
            return Ok(self.agree(function, mine, &errors)?.unwrap_or_else(make));
        }
        let Some(codec) = reduction.codec else {
            panic!(
                "shardkit: `{function}` returns `{}`, whose values cannot travel between MPI ranks: its reduction is not an exact sum/min/max, so every block's result is sent to every rank; implement `serde::Serialize` and `serde::Deserialize` for it (ndarray arrays, Vec, String and numbers already do)",
                std::any::type_name::<T>(),
            );
        };
        let mine = execute(&self.local, first, pieces, shard, &Collect);
        let mine = self.agree(function, mine, &errors)?.unwrap_or_default();
        let bytes = codec.encode_all(mine.iter()).unwrap_or_else(|e| {
            panic!(
                "shardkit: `{function}`: cannot encode this rank's results to send them to the other MPI ranks: {e}"
            )
        });
        drop(mine);
        let all = self.all_gather_bytes(&bytes);
        drop(bytes);
        // Every rank merges every block's result in block order (ranks hold
        // contiguous runs of blocks, in rank order), as one thread would.
        let mut results = all.iter().enumerate().flat_map(|(rank, bytes)| {
            (codec.decode)(bytes).unwrap_or_else(|e| {
                panic!("shardkit: `{function}`: cannot decode the results of MPI rank {rank}: {e}")
            })
        });
        let block_0 = results.next().expect("some rank holds block 0");
        Ok(results.fold(block_0, reduction.merge))
    }

    /// Gives every rank the items the other ranks wrote into an in-place
    /// output: each rank sends the items of its own blocks.
    pub(crate) fn gather_output<O: Output>(
        &self,
        function: &'static str,
        plan: &Plan,
        parameter: &'static str,
        output: &O,
        codec: Option<Codec<O::Elem>>,
    ) {
        let Some(codec) = codec else {
            panic!(
                "shardkit: `{function}` writes `{parameter}` in place, and its items of type `{}` cannot travel between MPI ranks to give every rank the whole output; implement `serde::Serialize` and `serde::Deserialize` for them",
                std::any::type_name::<O::Elem>()
            );
        };
        let items = |rank: usize| plan.items_in(plan.share(rank, self.size));
        let bytes = output.encode(items(self.rank), &codec).unwrap_or_else(|e| {
            panic!("shardkit: `{function}`: cannot encode this rank's part of `{parameter}`: {e}")
        });
        let all = self.all_gather_bytes(&bytes);
        for (rank, bytes) in all.iter().enumerate() {
            if rank != self.rank {
                output
                    .decode(items(rank), bytes, &codec)
                    .unwrap_or_else(|e| {
                        panic!(
                            "shardkit: `{function}`: cannot decode MPI rank {rank}'s part of `{parameter}`: {e}"
                        )
                    });
            }
        }
    }

    /// Rank 0's verdict, on every rank.
    pub(crate) fn broadcast_verdict(&self, mine: Result<(), String>) -> Result<(), String> {
        let comm = self.comm();
        let root = comm.process_at_rank(0);
        let mut message = match &mine {
            Err(m) if self.rank == 0 => m.clone().into_bytes(),
            _ => Vec::new(),
        };
        let mut head = [
            u64::from(self.rank == 0 && mine.is_err()),
            message.len() as u64,
        ];
        root.broadcast_into(&mut head[..]);
        if head[0] == 0 {
            return Ok(());
        }
        message.resize(head[1] as usize, 0);
        root.broadcast_into(&mut message[..]);
        Err(String::from_utf8_lossy(&message).into_owned())
    }

    /// Every rank's `mine`, in rank order, on every rank. MPI counts are
    /// 32-bit, so long buffers go in rounds of at most [`chunk_bytes`] bytes
    /// per rank.
    fn all_gather_bytes(&self, mine: &[u8]) -> Vec<Vec<u8>> {
        let comm = self.comm();
        let mut lens = vec![0u64; self.size];
        comm.all_gather_into(&(mine.len() as u64), &mut lens[..]);
        let chunk = chunk_bytes(self.size) as u64;
        let rounds = lens.iter().map(|&l| l.div_ceil(chunk)).max().unwrap_or(0);
        let mut all: Vec<Vec<u8>> = lens
            .iter()
            .map(|&l| Vec::with_capacity(l as usize))
            .collect();
        for round in 0..rounds {
            let at = round * chunk;
            let counts: Vec<Count> = lens
                .iter()
                .map(|&l| l.saturating_sub(at).min(chunk) as Count)
                .collect();
            let displs: Vec<Count> = counts
                .iter()
                .scan(0, |sum, &c| {
                    let d = *sum;
                    *sum += c;
                    Some(d)
                })
                .collect();
            let total: usize = counts.iter().map(|&c| c as usize).sum();
            let mut recv = vec![0u8; total];
            let start = (at as usize).min(mine.len());
            let send = &mine[start..start + counts[self.rank] as usize];
            {
                let mut partition = PartitionMut::new(&mut recv[..], &counts[..], &displs[..]);
                comm.all_gather_varcount_into(send, &mut partition);
            }
            for (rank, buf) in all.iter_mut().enumerate() {
                let d = displs[rank] as usize;
                buf.extend_from_slice(&recv[d..d + counts[rank] as usize]);
            }
        }
        all
    }

    /// Makes every rank agree on whether a shard failed anywhere: the first
    /// failure in block order wins; its rank returns its own error, the
    /// others an error built from a [`RemoteError`].
    fn agree<A, E>(
        &self,
        function: &'static str,
        local: Result<Option<A>, (usize, E)>,
        errors: &ErrorOps<E>,
    ) -> Result<Option<A>, E> {
        let comm = self.comm();
        let mine: [u64; 2] = match &local {
            Ok(_) => [0, u64::MAX],
            Err((block, _)) => [1, *block as u64],
        };
        let mut all = vec![0u64; 2 * self.size];
        comm.all_gather_into(&mine[..], &mut all[..]);
        let failed = all
            .chunks_exact(2)
            .enumerate()
            .filter(|(_, s)| s[0] == 1)
            .min_by_key(|(_, s)| s[1]);
        let Some((root, status)) = failed else {
            return Ok(local.unwrap_or_else(|_| unreachable!("no rank failed")));
        };
        // The failing rank tells the others what went wrong.
        let mut message = match (&local, errors.describe) {
            (Err((_, e)), Some(describe)) if self.rank == root => describe(e).into_bytes(),
            (Err(_), None) if self.rank == root => b"(the error type has no Display)".to_vec(),
            _ => Vec::new(),
        };
        let mut len = message.len() as u64;
        comm.process_at_rank(root as i32).broadcast_into(&mut len);
        message.resize(len as usize, 0);
        comm.process_at_rank(root as i32)
            .broadcast_into(&mut message[..]);
        let remote = RemoteError {
            function: function.to_string(),
            rank: root,
            block: status[1] as usize,
            message: String::from_utf8_lossy(&message).into_owned(),
        };
        match local {
            Err((_, e)) if self.rank == root => Err(e),
            _ => match errors.remote {
                Some(from) => Err(from(remote)),
                None => panic!(
                    "shardkit: {remote} (this rank panics because the error type has no `From<shardkit::RemoteError>`)"
                ),
            },
        }
    }

    /// Adds the ranks' exact partial results with one reduction.
    fn combine_exact<T>(
        &self,
        function: &str,
        folder: &ExactFolder<T>,
        local: Option<Exact>,
    ) -> Exact {
        let comm = self.comm();
        // A rank with no block, or only identities, adopts the shape of the
        // first rank that has a result.
        let mut local = local.filter(|e| !e.same_as(&folder.identity));
        let (digest, words) = match &local {
            Some(e) => (e.digest(), e.word_count() as u64),
            None => (0, 0),
        };
        let mine = [u64::from(local.is_some()), digest, words];
        let mut all = vec![0u64; 3 * self.size];
        comm.all_gather_into(&mine[..], &mut all[..]);
        let holders: Vec<(usize, &[u64])> = all
            .chunks_exact(3)
            .enumerate()
            .filter(|(_, s)| s[0] == 1)
            .collect();
        let Some(&(template, first)) = holders.first() else {
            return folder.identity.clone();
        };
        if let Some((rank, _)) = holders.iter().find(|(_, s)| s[1..] != first[1..]) {
            panic!(
                "shardkit: `{function}`: the result on MPI rank {rank} has a different shape from the result on rank {template}; every block must return the same shape"
            );
        }
        if holders.len() < self.size {
            // Ranks without a result take the template's structure.
            let mut description = match &local {
                Some(e) if self.rank == template => e.description(),
                _ => Vec::new(),
            };
            let mut len = description.len() as u64;
            let root = comm.process_at_rank(template as i32);
            root.broadcast_into(&mut len);
            description.resize(len as usize, 0);
            root.broadcast_into(&mut description[..]);
            if local.is_none() {
                local = Some(Exact::neutral(folder.identity.op(), &description));
            }
        }
        let mut exact = local.expect("every rank holds a result or the template's structure");
        for words in exact.sum_words_mut() {
            allreduce_sums(comm, words);
        }
        let (mut keys, layout) = exact.key_words();
        allreduce_keys(comm, &mut keys, layout);
        exact.set_key_words(&keys);
        exact
    }
}

thread_local! {
    /// The layout of the words being reduced, read by [`combine_words`].
    static LAYOUT: std::cell::Cell<WordLayout> = const {
        std::cell::Cell::new(WordLayout { mins: 0, maxs: 0 })
    };
}

/// The user reduction of [`allreduce_keys`]. One element of its datatype is
/// a whole chunk of words, so MPI never hands it a part of one: `LAYOUT`
/// says where the minimum and maximum keys are.
///
/// # Safety
///
/// Called by MPI with two buffers of `*len` elements of the chunk datatype.
unsafe extern "C" fn combine_words(
    invec: *mut c_void,
    inoutvec: *mut c_void,
    len: *mut c_int,
    _datatype: *mut mpi::ffi::MPI_Datatype,
) {
    let layout = LAYOUT.with(|l| l.get());
    let words = layout.mins + layout.maxs;
    let n = words * (*len as usize);
    // SAFETY: MPI passes buffers of `len` elements of `words` i64 each.
    let (a, b) = unsafe {
        (
            std::slice::from_raw_parts(invec as *const i64, n),
            std::slice::from_raw_parts_mut(inoutvec as *mut i64, n),
        )
    };
    for (ka, kb) in a.chunks_exact(words).zip(b.chunks_exact_mut(words)) {
        let key = |w: &[i64]| (i128::from(w[0]) << 64) | i128::from(w[1] as u64);
        for (i, (x, y)) in ka.chunks_exact(2).zip(kb.chunks_exact_mut(2)).enumerate() {
            let (kx, ky) = (key(x), key(y));
            let keep = if 2 * i < layout.mins {
                kx.min(ky)
            } else {
                kx.max(ky)
            };
            y[0] = (keep >> 64) as i64;
            y[1] = keep as i64;
        }
    }
}

/// Words per collective: MPI counts are 32-bit, and one element of the
/// chunk datatype must stay well inside that.
const CHUNK_WORDS: usize = 1 << 26;

/// Lowers the chunk sizes (in bytes) of the collectives, so that tests can
/// reach the chunked paths with small data. Not for production use.
const CHUNK_ENV: &str = "SHARDKIT_MPI_CHUNK_BYTES";

fn chunk_override() -> Option<usize> {
    static CHUNK: OnceLock<Option<usize>> = OnceLock::new();
    *CHUNK.get_or_init(|| {
        std::env::var(CHUNK_ENV)
            .ok()
            .and_then(|v| v.trim().parse().ok())
            .filter(|&n: &usize| n >= 16)
    })
}

/// Bytes per rank per round of [`Ranks::all_gather_bytes`]: the whole
/// round must fit a 32-bit count.
fn chunk_bytes(ranks: usize) -> usize {
    chunk_override().unwrap_or((i32::MAX as usize / ranks.max(1)).min(1 << 30))
}

/// Words per round of [`allreduce_sums`] and [`allreduce_keys`].
fn chunk_words() -> usize {
    // Even, so that minimum and maximum keys (two words each) stay whole.
    chunk_override().map_or(CHUNK_WORDS, |b| (b / 8) & !1)
}

/// Adds the words of exact sums across the communicator, in chunks of at
/// most [`chunk_words`] words.
fn allreduce_sums(comm: &SimpleCommunicator, words: &mut [i64]) {
    // Normalised limbs have headroom for 2^30 ranks, so MPI's own MPI_SUM on
    // int64 adds them, and MPI may cut and pipeline the buffer as it likes.
    // (rsmpi offers no MPI_IN_PLACE, hence the copy.)
    for chunk in words.chunks_mut(chunk_words().max(2)) {
        let send = chunk.to_vec();
        comm.all_reduce_into(&send[..], chunk, SystemOperation::sum());
    }
}

/// Reduces minimum and maximum keys (laid out as `layout`) across the
/// communicator in place, in chunks of at most [`chunk_words`] words.
fn allreduce_keys(comm: &SimpleCommunicator, words: &mut [i64], layout: WordLayout) {
    // Minimum and maximum keys are two words each, compared as one i128:
    // a user operation over elements of a contiguous datatype (one key, or
    // one chunk of keys), so MPI never splits a key.
    // SAFETY: the operation is associative and commutative (integer minima
    // and maxima) and reads only the buffers MPI hands it.
    let op = unsafe { UnsafeUserOperation::commutative(combine_words) };
    // Each chunk holds keys of one kind only.
    let sections = [(0, layout.mins, true), (layout.mins, layout.maxs, false)];
    for (start, len, minima) in sections {
        let mut at = start;
        while at < start + len {
            // Even, so that chunks of keys (two words each) stay whole.
            let n = (start + len - at).min(chunk_words());
            let chunk_layout = if minima {
                WordLayout { mins: n, maxs: 0 }
            } else {
                WordLayout { mins: 0, maxs: n }
            };
            LAYOUT.with(|l| l.set(chunk_layout));
            let datatype = UserDatatype::contiguous(n as i32, &i64::equivalent_datatype());
            let send = words[at..at + n].to_vec();
            // SAFETY: one element of `datatype` is exactly `n` i64 words,
            // which both buffers hold.
            unsafe {
                let send = View::with_count_and_datatype(&send[..], 1, &datatype);
                let mut recv =
                    MutView::with_count_and_datatype(&mut words[at..at + n], 1, &datatype);
                comm.all_reduce_into(&send, &mut recv, &op);
            }
            at += n;
        }
    }
}
