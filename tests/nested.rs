//! Calls inside calls: a `#[parallelize]` call made in a shard runs
//! serially on that shard's thread, and a body or a merge may use rayon
//! itself without deadlocking the fold.

mod common;

use std::ops::Range;
use std::thread;

use common::{executors, explode_at, panic_text, threads, within_timeout};
use shardkit::{parallelize, Executor};

// ---------------------------------------------------------------------------
// Nested calls
// ---------------------------------------------------------------------------

#[parallelize(split = "xs", reduce = "concat")]
fn where_inner_ran(xs: &[u64]) -> Vec<(u64, thread::ThreadId)> {
    xs.iter().map(|&x| (x, thread::current().id())).collect()
}

/// For each block of `rows`, calls `where_inner_ran` on a row of 300 items;
/// returns the sum of the items and how many inner blocks ran elsewhere.
#[parallelize(split = "rows", reduce = "sum")]
fn outer(rows: Range<usize>) -> (u64, usize) {
    assert_eq!(shardkit::Executor::current().workers(), 1);
    assert_eq!(
        format!("{:?}", shardkit::Executor::current()),
        "Executor::Serial"
    );
    let here = thread::current().id();
    let mut total = 0;
    let mut elsewhere = 0;
    for r in rows {
        let items: Vec<u64> = (0..300).map(|j| (r * 300 + j) as u64).collect();
        for (x, id) in where_inner_ran(&items) {
            total += x;
            elsewhere += usize::from(id != here);
        }
    }
    (total, elsewhere)
}

#[test]
fn a_nested_call_runs_serially_inside_its_shard() {
    let n = 20 * 300;
    for (name, exec) in executors() {
        let got = exec.install(|| outer(0..20));
        assert_eq!(got, ((n * (n - 1) / 2) as u64, 0), "{name}");
        // Outside the shards the installed executor is back.
        assert_eq!(
            exec.install(|| Executor::current().workers()),
            exec.workers()
        );
    }
}

#[test]
fn a_panic_in_a_nested_call_surfaces() {
    #[parallelize(split = "rows", reduce = "sum")]
    fn outer_panics(rows: Range<usize>) -> usize {
        rows.map(|r| explode_at(0..50, if r == 7 { 33 } else { usize::MAX }))
            .sum()
    }
    let text = panic_text(|| threads(3).install(|| outer_panics(0..10)));
    assert_eq!(text, "shard 33 exploded");
}

// ---------------------------------------------------------------------------
// rayon inside a body or a merge
// ---------------------------------------------------------------------------

/// A body may use rayon itself: its worker may run other blocks while it
/// waits, and the call still returns the right result.
#[test]
fn a_body_that_uses_rayon() {
    #[parallelize(split = "xs", reduce = "concat")]
    fn squares(xs: &[u64]) -> Vec<u64> {
        use rayon::prelude::*;
        xs.par_iter().map(|x| x * x).collect()
    }
    let xs: Vec<u64> = (0..20_000).collect();
    let want: Vec<u64> = xs.iter().map(|x| x * x).collect();
    for (name, exec) in executors() {
        for _ in 0..5 {
            let (exec, xs) = (exec.clone(), xs.clone());
            let got = within_timeout(move || exec.install(|| squares(&xs)));
            assert_eq!(got, want, "{name}");
        }
    }
}

/// A merge may use rayon itself (say, to add long vectors). While the merge
/// waits for its rayon jobs, its worker may steal another block's job, which
/// then delivers its result to the fold: the fold must not be locked during
/// a merge (regression: it was, and the call never returned).
#[test]
fn a_merge_that_uses_rayon_does_not_deadlock() {
    fn par_add(a: Vec<f64>, b: Vec<f64>) -> Vec<f64> {
        use rayon::prelude::*;
        a.par_iter().zip(&b).map(|(x, y)| x + y).collect()
    }
    #[parallelize(split = "xs", reduce = par_add)]
    fn spread(xs: &[f64]) -> Vec<f64> {
        vec![xs.iter().sum(); 1000]
    }
    let xs: Vec<f64> = (0..10_000).map(f64::from).collect();
    for _ in 0..20 {
        let xs = xs.clone();
        let got = within_timeout(move || threads(7).install(|| spread(&xs)));
        assert_eq!(got, vec![49_995_000.0; 1000]);
    }
}
