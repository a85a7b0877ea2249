//! What `#[parallelize]` costs and what it buys.
//!
//! - `overhead`: one call on 16 numbers (16 one-item blocks) on the default
//!   executor, on a pool of 2 threads and on the serial executor, against the
//!   same body as a plain function; and rayon's own `scope` and `join` on a
//!   pool of 2, from one of its threads (the floor of any pool-based call)
//!   and from outside it (`install`, which wakes a worker and waits for it:
//!   where a `#[parallelize]` call is made from).
//! - `speedup`: a CPU-bound body over 100,000 items on pools of 1 and 2
//!   threads.
//!
//! ```text
//! cargo bench --bench overhead
//! cargo bench --bench overhead -- speedup   # one group
//! cargo test --benches                      # each benchmark once, as a test
//! ```

use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use shardkit::{parallelize, Executor};

/// The body without the attribute.
fn plain_sum(xs: &[u64]) -> u64 {
    xs.iter().sum()
}

/// The same body, sharded.
#[parallelize(split = "xs", reduce = "sum")]
fn par_sum(xs: &[u64]) -> u64 {
    xs.iter().sum()
}

/// Iterations of the inner loop per item of `heavy`.
const ITERS: u32 = 20;
/// Items of the `speedup` input.
const ITEMS: usize = 100_000;

/// A few hundred nanoseconds of floating-point work per item.
#[parallelize(split = "xs", reduce = "sum")]
fn heavy(xs: &[f64]) -> f64 {
    xs.iter()
        .map(|&x| {
            let mut y = black_box(x);
            for _ in 0..ITERS {
                y = (y.sqrt() + 1.0).sin() + 2.0;
            }
            y
        })
        .sum()
}

fn overhead(c: &mut Criterion) {
    let xs: Vec<u64> = (1..=16).collect();
    let two = Executor::threads(2).expect("a pool of 2 threads");
    let serial = Executor::serial();
    assert_eq!(par_sum(&xs), plain_sum(&xs));

    let mut group = c.benchmark_group("overhead");
    group.bench_function("plain", |b| b.iter(|| plain_sum(black_box(&xs))));
    group.bench_function("default", |b| b.iter(|| par_sum(black_box(&xs))));
    group.bench_function("threads(2)", |b| {
        two.install(|| b.iter(|| par_sum(black_box(&xs))))
    });
    group.bench_function("serial", |b| {
        serial.install(|| b.iter(|| par_sum(black_box(&xs))))
    });
    // rayon's own floor on the same pool of 2: a scope that spawns one task
    // per worker, and a join of two halves (what any pool-based call pays
    // to wake a worker and wait for it).
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(2)
        .build()
        .expect("a rayon pool of 2 threads");
    group.bench_function("rayon scope(2)", |b| {
        pool.install(|| {
            b.iter(|| {
                let (left, right) = xs.split_at(8);
                let (mut a, mut c) = (0, 0);
                rayon::scope(|s| {
                    s.spawn(|_| a = plain_sum(black_box(left)));
                    s.spawn(|_| c = plain_sum(black_box(right)));
                });
                a + c
            })
        })
    });
    group.bench_function("rayon join(2)", |b| {
        pool.install(|| {
            b.iter(|| {
                let (left, right) = xs.split_at(8);
                let (a, c) = rayon::join(
                    || plain_sum(black_box(left)),
                    || plain_sum(black_box(right)),
                );
                a + c
            })
        })
    });
    group.bench_function("rayon install+join(2)", |b| {
        b.iter(|| {
            pool.install(|| {
                let (left, right) = xs.split_at(8);
                let (a, c) = rayon::join(
                    || plain_sum(black_box(left)),
                    || plain_sum(black_box(right)),
                );
                a + c
            })
        })
    });
    group.finish();
}

fn speedup(c: &mut Criterion) {
    let xs: Vec<f64> = (0..ITEMS).map(|i| i as f64).collect();
    let one = Executor::threads(1).expect("a pool of 1 thread");
    let two = Executor::threads(2).expect("a pool of 2 threads");
    let (r1, r2) = (one.install(|| heavy(&xs)), two.install(|| heavy(&xs)));
    assert_eq!(r1.to_bits(), r2.to_bits(), "1 and 2 threads differ");

    let mut group = c.benchmark_group("speedup");
    group.throughput(Throughput::Elements(ITEMS as u64));
    group.bench_function("threads(1)", |b| {
        one.install(|| b.iter(|| heavy(black_box(&xs))))
    });
    group.bench_function("threads(2)", |b| {
        two.install(|| b.iter(|| heavy(black_box(&xs))))
    });
    group.finish();
}

fn config() -> Criterion {
    Criterion::default()
        .sample_size(20)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
}

criterion_group! {
    name = benches;
    config = config();
    targets = overhead, speedup
}
criterion_main!(benches);
