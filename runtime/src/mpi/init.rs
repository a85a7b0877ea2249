//! MPI's lifecycle in a shardkit program: initialised once (requesting
//! `Threading::Funneled`), kept for the program's life, finalised at exit
//! (after telling the other ranks, on every live executor, that this one
//! has finished), and a panic on any rank made to end the whole job rather
//! than leave the other ranks waiting.

use std::os::raw::c_int;
use std::sync::{Mutex, OnceLock};
use std::thread::ThreadId;

use mpi::environment::Universe;
use mpi::topology::SimpleCommunicator;
use mpi::traits::*;
use mpi::Threading;

use crate::executor::ExecutorError;

/// MPI as this process initialised it.
pub(super) struct State {
    /// `Some` when shardkit initialised MPI and must finalise it at exit.
    universe: Mutex<Option<Universe>>,
    /// The thread that initialised MPI: with `Threading::Funneled` only it
    /// may call MPI.
    pub(super) owner: ThreadId,
}

static STATE: OnceLock<State> = OnceLock::new();
static INIT: Mutex<()> = Mutex::new(());

extern "C" {
    fn atexit(callback: extern "C" fn()) -> c_int;
}

extern "C" fn finalize_at_exit() {
    if let Some(state) = STATE.get() {
        // A rank still in a call learns now that this one has finished,
        // instead of waiting for it; MPI_Finalize would not tell it.
        super::comm::finish_all();
        if let Ok(mut universe) = state.universe.lock() {
            // SHARDKIT_STATS=1: this rank's counters, before MPI goes.
            if std::env::var_os(crate::counters::STATS_ENV).is_some_and(|v| v == "1") {
                if let Some(world) = universe.as_ref().map(|u| u.world()) {
                    eprint!("{}", crate::counters::comm_table(world.rank() as usize));
                }
            }
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
pub(super) fn ensure_initialized() -> Result<&'static State, ExecutorError> {
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
