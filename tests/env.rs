//! `SHARDKIT_THREADS` and `SHARDKIT_MPI_TIMEOUT`, read by
//! `Executor::from_env` and by the default executor. Environment variables are process-wide, so this binary holds a
//! single test that changes them one step at a time.

mod common;

use std::panic::{self, AssertUnwindSafe};

use common::{on_pool_and_caller, thread_names, Meeting};
use shardkit::{Executor, ExecutorError, MPI_TIMEOUT_ENV, THREADS_ENV};

fn set(value: &str) {
    std::env::set_var(THREADS_ENV, value);
}

/// `from_env` fails, naming the variable and the value found.
fn refused(value: &str) {
    set(value);
    let err = Executor::from_env().expect_err(value);
    match &err {
        ExecutorError::BadThreadsEnv { value: found } => assert_eq!(found, value),
        other => panic!("{value:?} gave {other:?}"),
    }
    let message = err.to_string();
    assert!(message.contains("SHARDKIT_THREADS"), "{message}");
    assert!(message.contains(&format!("`{value}`")), "{message}");
}

#[test]
fn shardkit_threads() {
    assert_eq!(THREADS_ENV, "SHARDKIT_THREADS");

    // Malformed values are refused by `from_env`...
    for value in ["0", "abc", "-1", "", "2.5", "1e3"] {
        refused(value);
    }
    // ...and make the default executor panic, naming the variable; the
    // failure is not remembered.
    set("abc");
    let payload = panic::catch_unwind(AssertUnwindSafe(Executor::current))
        .expect_err("a malformed SHARDKIT_THREADS cannot build the default");
    let text = payload
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| payload.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_default();
    assert!(text.contains("SHARDKIT_THREADS=`abc`"), "{text}");
    // `is_root`, which a program calls to print that very error, does not
    // panic: outside an MPI launch this process is the root.
    assert!(shardkit::is_root());

    // An absurd count is refused before any thread starts, naming the
    // count and the machine's cores.
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    set("100000");
    match Executor::from_env() {
        Err(ExecutorError::TooManyThreads {
            threads: 100_000,
            cores: c,
            limit,
        }) => {
            assert_eq!((c, limit), (cores, Executor::max_threads()));
        }
        other => panic!("SHARDKIT_THREADS=100000 gave {other:?}"),
    }
    let message = Executor::threads(Executor::max_threads() + 1)
        .expect_err("above max_threads")
        .to_string();
    assert!(
        message.contains(&format!("{} threads", Executor::max_threads() + 1)),
        "{message}"
    );
    assert!(message.contains(&format!("{cores} cores")), "{message}");

    // Valid values give pools of that size.
    for n in [1, 3, 5] {
        set(&n.to_string());
        let exec = Executor::from_env().unwrap();
        assert_eq!(exec.workers(), n);
        assert_eq!(format!("{exec:?}"), format!("Executor::Threads({n})"));
    }

    // A program's own thread count takes precedence over the variable,
    // even a malformed one; `Some(0)` is refused, `None` reads it.
    set("abc");
    let exec = Executor::from_env_with_threads(Some(2)).unwrap();
    assert_eq!(exec.workers(), 2);
    assert!(matches!(
        Executor::from_env_with_threads(Some(0)),
        Err(ExecutorError::ZeroThreads)
    ));
    assert!(matches!(
        Executor::from_env_with_threads(None),
        Err(ExecutorError::BadThreadsEnv { .. })
    ));

    // The default executor is built from the variable on first use, then
    // kept.
    set("3");
    assert_eq!(Executor::current().workers(), 3);
    let names = thread_names(&[0; 30], &Meeting::new(2));
    assert!(on_pool_and_caller(&names), "{names:?}");
    set("5");
    assert_eq!(Executor::current().workers(), 3);

    // Unset, `from_env` uses every core.
    std::env::remove_var(THREADS_ENV);
    assert_eq!(Executor::from_env().unwrap().workers(), cores);
    assert!(std::env::var(THREADS_ENV).is_err());

    // A malformed SHARDKIT_MPI_TIMEOUT is refused on every launch, MPI or
    // not, with one line naming the variable and the value found.
    assert_eq!(MPI_TIMEOUT_ENV, "SHARDKIT_MPI_TIMEOUT");
    for value in ["abc", "0", "-3", "0.2", "1e9", "inf", "10m"] {
        std::env::set_var(MPI_TIMEOUT_ENV, value);
        let err = Executor::from_env().expect_err(value);
        assert!(
            matches!(&err, ExecutorError::BadMpiTimeoutEnv { value: v } if v == value),
            "{value:?} gave {err:?}"
        );
        let message = err.to_string();
        assert!(
            message.starts_with(&format!(
                "SHARDKIT_MPI_TIMEOUT=`{value}` is not a number of seconds"
            )),
            "{message}"
        );
        assert!(!message.contains('\n'), "{message}");
    }
    for value in ["2", "2.5", " 600 ", "604800"] {
        std::env::set_var(MPI_TIMEOUT_ENV, value);
        assert_eq!(Executor::from_env().expect(value).workers(), cores);
    }
    std::env::remove_var(MPI_TIMEOUT_ENV);
}
