//! An MPI communicator as the executor's [`Transport`]: each collective of
//! the interface is one nonblocking rsmpi call, or a few rounds of one
//! where MPI's 32-bit counts would not hold the whole buffer, completed by
//! [`Comm::complete`] (`watch.rs`), which waits at most the timeout. (The
//! rounds of a byte gather are blocking: they start once an exchange of the
//! lengths has shown that every rank is there.)
//!
//! The communicator is a duplicate of the program's, so that shardkit's
//! exchanges never match the program's own, and so that the messages with
//! which ranks ask each other where they wait (`watch.rs`) reach no one
//! else.

use std::os::raw::{c_int, c_void};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock, Weak};
use std::thread::ThreadId;
use std::time::{Duration, Instant};

use mpi::collective::{SystemOperation, UnsafeUserOperation};
use mpi::datatype::{MutView, PartitionMut, UserDatatype, View};
use mpi::request::scope;
use mpi::topology::SimpleCommunicator;
use mpi::traits::*;
use mpi::Count;

use crate::executor::steps::Phase;
use crate::executor::transport::{Keep, Transport, PAYLOAD};

/// A communicator handed between threads; only its owner thread calls MPI
/// with it.
pub(super) struct Comm {
    /// A duplicate of the program's communicator, for shardkit alone.
    pub(super) comm: SimpleCommunicator,
    pub(super) rank: usize,
    pub(super) size: usize,
    /// The thread that initialised MPI: with `Threading::Funneled` only it
    /// may call MPI.
    owner: ThreadId,
    /// How long an exchange waits for the other ranks.
    pub(super) limit: Duration,
    /// Where this rank is in its steps.
    pub(super) now: Mutex<Now>,
}

/// Where a rank is in its steps (see `executor/steps.rs`), and its state
/// in the exchanges of `watch.rs`.
pub(super) struct Now {
    pub(super) phase: Phase,
    /// The number of the current step: 0 before the first.
    pub(super) number: u64,
    /// The current step's call.
    pub(super) call: &'static str,
    /// The previous step's call.
    pub(super) previous: Option<&'static str>,
    /// Another rank is reporting a timeout: until then, do not report too.
    pub(super) quiet_until: Option<Instant>,
    /// The timeouts this rank reported (to tell old answers from new).
    pub(super) rounds: u64,
}

// SAFETY: `SimpleCommunicator` holds a communicator handle, which MPI lets
// any thread name; every MPI call made with it goes through `Comm::comm`,
// which checks that it runs on the thread that initialised MPI (Funneled),
// or through `watch.rs`, which runs only inside those calls.
unsafe impl Send for Comm {}
// SAFETY: as above: shared references only reach MPI on the owner thread.
unsafe impl Sync for Comm {}

/// The communicators of live executors, in the order they were built, for
/// [`finish_all`].
static LIVE: Mutex<Vec<Weak<Comm>>> = Mutex::new(Vec::new());

impl Comm {
    /// The ranks of a duplicate of `comm`, whose MPI calls must come from
    /// `owner` (this thread), each exchange waiting at most `limit`.
    pub(super) fn new(comm: &SimpleCommunicator, owner: ThreadId, limit: Duration) -> Arc<Comm> {
        let comm = Arc::new(Comm {
            rank: comm.rank() as usize,
            size: comm.size() as usize,
            comm: comm.duplicate(),
            owner,
            limit,
            now: Mutex::new(Now {
                phase: Phase::Within,
                number: 0,
                call: "",
                previous: None,
                quiet_until: None,
                rounds: 0,
            }),
        });
        let mut live = LIVE.lock().unwrap_or_else(|e| e.into_inner());
        live.retain(|c| c.strong_count() > 0);
        live.push(Arc::downgrade(&comm));
        comm
    }

    #[track_caller]
    fn comm(&self) -> &SimpleCommunicator {
        assert!(
            self.on_owner(),
            "shardkit: a #[parallelize] call on MPI ranks must be made from the thread that initialised MPI (MPI was initialised with Threading::Funneled)"
        );
        &self.comm
    }

    fn on_owner(&self) -> bool {
        std::thread::current().id() == self.owner
    }

    /// Counts one collective of the current call (`counters.rs`): `sent`
    /// and `received` payload bytes, `buffers` bytes of send and receive
    /// buffers, since `started`.
    fn count(
        &self,
        op: &'static str,
        sent: usize,
        received: usize,
        buffers: usize,
        started: Instant,
    ) {
        let call = self.now.lock().unwrap_or_else(|e| e.into_inner()).call;
        crate::counters::record(
            call,
            op,
            sent as u64,
            received as u64,
            buffers as u64,
            started.elapsed().as_secs_f64(),
        );
    }

    /// Moves this rank to the next step, `phase` of `call`.
    fn step(&self, phase: Phase, call: &'static str) {
        let mut now = self.now.lock().unwrap_or_else(|e| e.into_inner());
        now.previous = (now.number > 0).then_some(now.call);
        now.number += 1;
        now.phase = phase;
        now.call = call;
    }

    /// Tells the other ranks where this rank is, with `payload`, and
    /// returns theirs; ends the job when they are elsewhere.
    fn start(&self, phase: Phase, call: &'static str, payload: [u64; PAYLOAD]) -> Vec<u64> {
        self.step(phase, call);
        let place = self.place();
        let width = 3 + PAYLOAD;
        let mut mine = [0u64; 3 + PAYLOAD];
        mine[..3].copy_from_slice(&place.identity());
        mine[3..].copy_from_slice(&payload);
        let all = self.all_gather_words(&mine);
        if all.chunks_exact(width).any(|w| w[..3] != all[..3]) {
            self.different_calls(&place);
        }
        all
    }

    /// The end of the program on this communicator: waits until every rank
    /// has ended its program too, or ends the job with a message naming
    /// the calls that the others are in. Does nothing off the thread that
    /// initialised MPI, which alone may call it.
    fn finish(&self) {
        if self.on_owner() {
            self.start(Phase::End, "", [0; PAYLOAD]);
        }
    }

    /// MPI counts are 32-bit, so long buffers go in rounds of at most
    /// [`chunk_bytes`] bytes per rank, after an exchange of the lengths
    /// (which waits for every rank, at most the timeout).
    pub(super) fn gather_bytes(&self, mine: &[u8]) -> Vec<Vec<u8>> {
        let comm = self.comm();
        let lens = self.all_gather_words(&[mine.len() as u64]);
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
            let started = Instant::now();
            let mut recv = vec![0u8; total];
            let start = (at as usize).min(mine.len());
            let send = &mine[start..start + counts[self.rank] as usize];
            {
                // Every rank has come (the lengths were exchanged), so the
                // rounds only move bytes: MPI's blocking Allgatherv, which
                // Open MPI runs faster than its nonblocking one for large
                // buffers.
                let mut partition = PartitionMut::new(&mut recv[..], &counts[..], &displs[..]);
                comm.all_gather_varcount_into(send, &mut partition);
            }
            self.count(
                "allgatherv",
                send.len(),
                total - send.len(),
                send.len() + total,
                started,
            );
            for (rank, buf) in all.iter_mut().enumerate() {
                let d = displs[rank] as usize;
                buf.extend_from_slice(&recv[d..d + counts[rank] as usize]);
            }
        }
        all
    }

    fn all_gather_words(&self, mine: &[u64]) -> Vec<u64> {
        let comm = self.comm();
        let started = Instant::now();
        let mut all = vec![0u64; mine.len() * self.size];
        scope(|scope| {
            self.complete(comm.immediate_all_gather_into(scope, mine, &mut all[..]));
        });
        let n = 8 * mine.len();
        self.count(
            "allgather",
            n,
            n * (self.size - 1),
            n * (self.size + 1),
            started,
        );
        all
    }

    /// Counts a broadcast of `n` bytes from `root`.
    fn count_broadcast(&self, root: usize, n: usize, started: Instant) {
        let (sent, received) = if root == self.rank { (n, 0) } else { (0, n) };
        self.count("bcast", sent, received, n, started);
    }
}

/// Announces the end of the program on the communicator of every live
/// executor, in the order they were built (the same on every rank), so that
/// a rank still waiting in a call learns at once that this one has
/// finished. Called at exit, before MPI is finalised.
pub(super) fn finish_all() {
    let live: Vec<Arc<Comm>> = LIVE
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .iter()
        .filter_map(Weak::upgrade)
        .collect();
    for comm in live {
        comm.finish();
    }
}

impl Transport for Arc<Comm> {
    fn rank(&self) -> usize {
        self.rank
    }

    fn size(&self) -> usize {
        self.size
    }

    fn begin(&self, call: &'static str, payload: [u64; PAYLOAD]) -> Vec<[u64; PAYLOAD]> {
        let all = self.start(Phase::Start, call, payload);
        self.now.lock().unwrap_or_else(|e| e.into_inner()).phase = Phase::Within;
        all.chunks_exact(3 + PAYLOAD)
            .map(|w| w[3..].try_into().expect("PAYLOAD words"))
            .collect()
    }

    fn all_gather_u64(&self, mine: &[u64]) -> Vec<u64> {
        self.all_gather_words(mine)
    }

    fn all_gather_bytes(&self, mine: &[u8]) -> Vec<Vec<u8>> {
        self.gather_bytes(mine)
    }

    fn broadcast_u64(&self, root: usize, words: &mut [u64]) {
        let started = Instant::now();
        let process = self.comm().process_at_rank(root as i32);
        scope(|scope| self.complete(process.immediate_broadcast_into(scope, words)));
        self.count_broadcast(root, 8 * words.len(), started);
    }

    fn broadcast_bytes(&self, root: usize, bytes: &mut [u8]) {
        let started = Instant::now();
        let process = self.comm().process_at_rank(root as i32);
        scope(|scope| self.complete(process.immediate_broadcast_into(scope, bytes)));
        self.count_broadcast(root, bytes.len(), started);
    }

    /// In chunks of at most [`chunk_words`] words.
    fn all_reduce_sum(&self, words: &mut [i64]) {
        let comm = self.comm();
        // Normalised limbs have headroom for 2^30 ranks, so MPI's own
        // MPI_SUM on int64 adds them, and MPI may cut and pipeline the
        // buffer as it likes. (rsmpi offers no MPI_IN_PLACE, hence the copy.)
        // The send copy goes to a buffer kept from call to call (up to
        // KEPT_SEND words), already mapped.
        let mut send = SEND.with(std::cell::Cell::take);
        for chunk in words.chunks_mut(chunk_words().max(2)) {
            let started = Instant::now();
            send.clear();
            send.extend_from_slice(chunk);
            scope(|scope| {
                self.complete(comm.immediate_all_reduce_into(
                    scope,
                    &send[..],
                    chunk,
                    SystemOperation::sum(),
                ));
            });
            let n = 8 * send.len();
            self.count("allreduce", n, n, 2 * n, started);
        }
        if send.capacity() <= KEPT_SEND {
            SEND.with(|cell| cell.set(send));
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
            let started = Instant::now();
            REDUCING.store(reducing(n, keep), Ordering::Release);
            let datatype = UserDatatype::contiguous(n as i32, &i64::equivalent_datatype());
            let send = keys[at..at + n].to_vec();
            // SAFETY: one element of `datatype` is exactly `n` i64 words,
            // which `send` holds.
            let send = unsafe { View::with_count_and_datatype(&send[..], 1, &datatype) };
            // SAFETY: as above, for the `n` words of `keys` from `at`.
            let mut recv =
                unsafe { MutView::with_count_and_datatype(&mut keys[at..at + n], 1, &datatype) };
            scope(|scope| {
                self.complete(comm.immediate_all_reduce_into(scope, &send, &mut recv, &op));
            });
            self.count("allreduce-keys", 8 * n, 8 * n, 16 * n, started);
            at += n;
        }
    }
}

thread_local! {
    /// The send buffer of [`Comm::all_reduce_sum`], kept between calls.
    static SEND: std::cell::Cell<Vec<i64>> = const { std::cell::Cell::new(Vec::new()) };
}

/// The largest send buffer kept between calls: 4 Mi words (32 MiB).
const KEPT_SEND: usize = 1 << 22;

/// The words in one element of the datatype being reduced by
/// [`combine_keys`] (shifted left by one), and which key it keeps (the low
/// bit: 1 for maxima). A static rather than a thread-local, since MPI may
/// run the operation on a thread of its own while a nonblocking reduction
/// progresses.
static REDUCING: AtomicU64 = AtomicU64::new(0);

fn reducing(words: usize, keep: Keep) -> u64 {
    ((words as u64) << 1) | u64::from(keep == Keep::Max)
}

/// The user reduction of [`Comm::all_reduce_keys`]. One element of its
/// datatype is a whole chunk of keys, so MPI never hands it a part of one:
/// [`REDUCING`] says how long a chunk is and whether minima or maxima are kept.
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
    let reducing = REDUCING.load(Ordering::Acquire);
    let words = (reducing >> 1) as usize;
    let keep = if reducing & 1 == 1 {
        Keep::Max
    } else {
        Keep::Min
    };
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
