//! An MPI communicator as the executor's [`Transport`]: each collective of
//! the interface is one rsmpi call, or a few rounds of one where MPI's
//! 32-bit counts would not hold the whole buffer.

use std::cell::Cell;
use std::os::raw::{c_int, c_void};
use std::sync::OnceLock;
use std::thread::ThreadId;

use mpi::collective::{SystemOperation, UnsafeUserOperation};
use mpi::datatype::{MutView, PartitionMut, UserDatatype, View};
use mpi::topology::SimpleCommunicator;
use mpi::traits::*;
use mpi::Count;

use crate::executor::transport::{Keep, Transport};

/// A communicator handed between threads; only its owner thread calls MPI
/// with it.
pub(super) struct Comm {
    comm: SimpleCommunicator,
    rank: usize,
    size: usize,
    /// The thread that initialised MPI: with `Threading::Funneled` only it
    /// may call MPI.
    owner: ThreadId,
}

// SAFETY: `SimpleCommunicator` holds a communicator handle, which MPI lets
// any thread name; every MPI call made with it goes through `Comm::comm`,
// which checks that it runs on the thread that initialised MPI (Funneled).
unsafe impl Send for Comm {}
// SAFETY: as above: shared references only reach MPI on the owner thread.
unsafe impl Sync for Comm {}

impl Comm {
    /// The ranks of `comm`, whose MPI calls must come from `owner`.
    pub(super) fn new(comm: SimpleCommunicator, owner: ThreadId) -> Comm {
        Comm {
            rank: comm.rank() as usize,
            size: comm.size() as usize,
            comm,
            owner,
        }
    }

    #[track_caller]
    fn comm(&self) -> &SimpleCommunicator {
        assert!(
            std::thread::current().id() == self.owner,
            "shardkit: a #[parallelize] call on MPI ranks must be made from the thread that initialised MPI (MPI was initialised with Threading::Funneled)"
        );
        &self.comm
    }
}

impl Transport for Comm {
    fn rank(&self) -> usize {
        self.rank
    }

    fn size(&self) -> usize {
        self.size
    }

    fn all_gather_u64(&self, mine: &[u64]) -> Vec<u64> {
        let mut all = vec![0u64; mine.len() * self.size];
        self.comm().all_gather_into(mine, &mut all[..]);
        all
    }

    /// MPI counts are 32-bit, so long buffers go in rounds of at most
    /// [`chunk_bytes`] bytes per rank.
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

    fn broadcast_u64(&self, root: usize, words: &mut [u64]) {
        self.comm()
            .process_at_rank(root as i32)
            .broadcast_into(words);
    }

    fn broadcast_bytes(&self, root: usize, bytes: &mut [u8]) {
        self.comm()
            .process_at_rank(root as i32)
            .broadcast_into(bytes);
    }

    /// In chunks of at most [`chunk_words`] words.
    fn all_reduce_sum(&self, words: &mut [i64]) {
        let comm = self.comm();
        // Normalised limbs have headroom for 2^30 ranks, so MPI's own
        // MPI_SUM on int64 adds them, and MPI may cut and pipeline the
        // buffer as it likes. (rsmpi offers no MPI_IN_PLACE, hence the copy.)
        for chunk in words.chunks_mut(chunk_words().max(2)) {
            let send = chunk.to_vec();
            comm.all_reduce_into(&send[..], chunk, SystemOperation::sum());
        }
    }

    /// In chunks of at most [`chunk_words`] words.
    fn all_reduce_keys(&self, keys: &mut [i64], keep: Keep) {
        let comm = self.comm();
        // Keys are two words each, compared as one i128: a user operation
        // over elements of a contiguous datatype (one chunk of keys), so
        // MPI never splits a key.
        // SAFETY: the operation is associative and commutative (integer
        // minima or maxima) and reads only the buffers MPI hands it.
        let op = unsafe { UnsafeUserOperation::commutative(combine_keys) };
        let mut at = 0;
        while at < keys.len() {
            // Even, so that chunks of keys (two words each) stay whole.
            let n = (keys.len() - at).min(chunk_words());
            REDUCING.with(|c| c.set((n, keep)));
            let datatype = UserDatatype::contiguous(n as i32, &i64::equivalent_datatype());
            let send = keys[at..at + n].to_vec();
            // SAFETY: one element of `datatype` is exactly `n` i64 words,
            // which `send` holds.
            let send = unsafe { View::with_count_and_datatype(&send[..], 1, &datatype) };
            // SAFETY: as above, for the `n` words of `keys` from `at`.
            let mut recv =
                unsafe { MutView::with_count_and_datatype(&mut keys[at..at + n], 1, &datatype) };
            comm.all_reduce_into(&send, &mut recv, &op);
            at += n;
        }
    }
}

thread_local! {
    /// The words in one element of the datatype being reduced by
    /// [`combine_keys`], and which key it keeps.
    static REDUCING: Cell<(usize, Keep)> = const { Cell::new((0, Keep::Min)) };
}

/// The user reduction of [`Comm::all_reduce_keys`]. One element of its
/// datatype is a whole chunk of keys, so MPI never hands it a part of one:
/// `REDUCING` says how long a chunk is and whether minima or maxima are kept.
///
/// # Safety
///
/// Called by MPI with two buffers of `*len` elements of the chunk datatype.
unsafe extern "C" fn combine_keys(
    invec: *mut c_void,
    inoutvec: *mut c_void,
    len: *mut c_int,
    _datatype: *mut mpi::ffi::MPI_Datatype,
) {
    let (words, keep) = REDUCING.with(|c| c.get());
    // SAFETY: MPI passes a valid pointer to the element count.
    let elements = unsafe { *len } as usize;
    let n = words * elements;
    // SAFETY: MPI passes an input buffer of `len` elements of `words` i64
    // each, which nothing writes during the call.
    let a = unsafe { std::slice::from_raw_parts(invec as *const i64, n) };
    // SAFETY: and an in-out buffer of the same size, distinct from the input.
    let b = unsafe { std::slice::from_raw_parts_mut(inoutvec as *mut i64, n) };
    let key = |w: &[i64]| (i128::from(w[0]) << 64) | i128::from(w[1] as u64);
    for (x, y) in a.chunks_exact(2).zip(b.chunks_exact_mut(2)) {
        let (kx, ky) = (key(x), key(y));
        let kept = match keep {
            Keep::Min => kx.min(ky),
            Keep::Max => kx.max(ky),
        };
        y[0] = (kept >> 64) as i64;
        y[1] = kept as i64;
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

/// Bytes per rank per round of [`Comm::all_gather_bytes`]: the whole round
/// must fit a 32-bit count.
fn chunk_bytes(ranks: usize) -> usize {
    chunk_override().unwrap_or((i32::MAX as usize / ranks.max(1)).min(1 << 30))
}

/// Words per round of [`Comm::all_reduce_sum`] and
/// [`Comm::all_reduce_keys`].
fn chunk_words() -> usize {
    // Even, so that minimum and maximum keys (two words each) stay whole.
    chunk_override().map_or(CHUNK_WORDS, |b| (b / 8) & !1)
}
