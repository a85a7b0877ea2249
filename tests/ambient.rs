//! The ambient executor of `Executor::install`: restored on return and on
//! panic, used by every call made inside, shared between threads; and a
//! pool of zero threads is an error.

mod common;

use std::thread;

use common::{dot, explode_at, on_pool_and_caller, panic_text, thread_names, threads, Meeting};
use shardkit::{Executor, ExecutorError};

#[test]
fn install_restores_the_previous_executor() {
    let three = threads(3);
    three.install(|| {
        assert_eq!(format!("{:?}", Executor::current()), "Executor::Threads(3)");
        Executor::serial().install(|| {
            assert_eq!(format!("{:?}", Executor::current()), "Executor::Serial");
        });
        assert_eq!(format!("{:?}", Executor::current()), "Executor::Threads(3)");
    });
}

#[test]
fn install_restores_the_previous_executor_when_the_closure_panics() {
    threads(3).install(|| {
        let text = panic_text(|| {
            threads(7).install(|| {
                assert_eq!(Executor::current().workers(), 7);
                panic!("inside install");
            })
        });
        assert_eq!(text, "inside install");
        assert_eq!(format!("{:?}", Executor::current()), "Executor::Threads(3)");

        // A call whose shard panics on the calling thread restores it too.
        let text = panic_text(|| Executor::serial().install(|| explode_at(0..4, 2)));
        assert_eq!(text, "shard 2 exploded");
        assert_eq!(format!("{:?}", Executor::current()), "Executor::Threads(3)");
        let text = panic_text(|| explode_at(0..1, 0));
        assert_eq!(text, "shard 0 exploded");
        assert_eq!(format!("{:?}", Executor::current()), "Executor::Threads(3)");
    });
}

#[test]
fn calls_run_on_the_installed_executor() {
    let caller = thread::current().name().map(str::to_string);
    let names = Executor::serial().install(|| thread_names(&[0; 50], &Meeting::new(1)));
    assert!(names.iter().all(|n| *n == caller), "{names:?}");
    // On a pool the calling thread takes blocks too, beside the pool's.
    let names = threads(3).install(|| thread_names(&[0; 50], &Meeting::new(2)));
    assert!(on_pool_and_caller(&names), "{names:?}");
}

#[test]
fn executors_are_shared_between_threads() {
    let pool = threads(2).clone();
    let handles: Vec<_> = (0..4)
        .map(|k| {
            let pool = pool.clone();
            thread::spawn(move || {
                let xs: Vec<f64> = (0..1000).map(|i| f64::from(i) * f64::from(k)).collect();
                pool.install(|| dot(&xs, &xs))
            })
        })
        .collect();
    for (k, h) in handles.into_iter().enumerate() {
        let want = (0..1000).map(|i| (i * i * k * k) as f64).sum::<f64>();
        assert_eq!(h.join().unwrap(), want);
    }
}

#[test]
fn zero_threads_is_an_error() {
    let err = Executor::threads(0).expect_err("no pool of 0 threads");
    assert!(matches!(err, ExecutorError::ZeroThreads), "{err:?}");
    assert!(err.to_string().contains("at least one thread"), "{err}");
    assert_eq!(Executor::threads(5).unwrap().workers(), 5);
    assert_eq!(Executor::serial().workers(), 1);
}
