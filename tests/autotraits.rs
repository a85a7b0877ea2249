//! Compile-time checks of the auto traits of the public types, as linfa
//! does: a type that stops being `Send` or `Sync` (say, by holding an `Rc`)
//! fails to compile here.

use shardkit::{Executor, ExecutorError, Plan};

fn has_autotraits<T: Send + Sync + Sized + Unpin>() {}

fn is_clone_debug<T: Clone + std::fmt::Debug>() {}

/// `ExecutorError` can travel in a `Box<dyn Error + Send + Sync>` (and so
/// through `?` into `anyhow::Error`).
fn is_boxable_error<T: std::error::Error + Send + Sync + 'static>() {}

#[test]
fn executor() {
    has_autotraits::<Executor>();
    is_clone_debug::<Executor>();
}

#[test]
fn plan() {
    has_autotraits::<Plan>();
    is_clone_debug::<Plan>();
}

#[test]
fn executor_error() {
    has_autotraits::<ExecutorError>();
    is_boxable_error::<ExecutorError>();
    let boxed: Box<dyn std::error::Error + Send + Sync> = Box::new(ExecutorError::ZeroThreads);
    assert!(boxed.to_string().contains("at least one thread"));
}

/// An executor built on one thread can be installed on another.
#[test]
fn executor_moves_between_threads() {
    let exec = Executor::threads(2).unwrap();
    let workers = std::thread::spawn(move || exec.install(|| Executor::current().workers()))
        .join()
        .unwrap();
    assert_eq!(workers, 2);
}
