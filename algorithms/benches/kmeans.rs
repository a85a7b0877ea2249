//! k-means: one Lloyd iteration, k-means++ and k-means|| initialisation, on
//! generated data (20,000 × 60 f32, 64 clusters), on one thread and on two.
//!
//! ```text
//! cargo bench -p shardkit-algorithms --bench kmeans
//! ```
//!
//! The full-size measurement (200,000 × 60, 256 clusters) and the peers
//! are in benches/measure_kmeans.rs and scripts/peers/kmeans_sklearn.py.

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use ndarray::{s, Array2};
use shardkit::Executor;
use shardkit_algorithms::frames::Frames;
use shardkit_algorithms::kmeans::{Init, KMeans};

fn data(n: usize, d: usize) -> Array2<f32> {
    let mut state = 0x1234_5678_u64;
    let centres = Array2::from_shape_fn((32, d), |(i, j)| ((i * 37 + j * 11) % 17) as f32 - 8.0);
    Array2::from_shape_fn((n, d), |(i, j)| {
        state = state
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        centres[(i % 32, j)] + ((state >> 40) as f32 / (1u64 << 24) as f32 - 0.5)
    })
}

fn bench(c: &mut Criterion) {
    let (n, d, k) = (20_000, 60, 64);
    let x = data(n, d);
    let init = x.slice(s![..k, ..]).mapv(f64::from);
    let mut g = c.benchmark_group("kmeans");
    g.sample_size(10);
    for threads in [1, 2] {
        let pool = Executor::threads(threads).expect("a pool");
        let id = |what: &str| BenchmarkId::new(what, format!("{n}x{d}/k{k}/{threads}t"));
        let lloyd = KMeans::new(k).init(Init::Given(init.clone())).max_iter(1);
        g.bench_function(id("lloyd_iteration"), |b| {
            b.iter(|| {
                pool.install(|| lloyd.fit(&Frames::rows(x.view())))
                    .expect("fit")
            })
        });
        let pp = KMeans::new(k).seed(1);
        g.bench_function(id("kmeans++"), |b| {
            b.iter(|| {
                pool.install(|| pp.initial_centroids(&Frames::rows(x.view())))
                    .expect("init")
            })
        });
        let par = KMeans::new(k).init(Init::parallel()).seed(1);
        g.bench_function(id("kmeans||"), |b| {
            b.iter(|| {
                pool.install(|| par.initial_centroids(&Frames::rows(x.view())))
                    .expect("init")
            })
        });
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
