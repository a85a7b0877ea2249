//! The GMM E-step's block kernel on one thread: `D = 60`, `M = 512`, one
//! block of `BLOCK_FRAMES` MFCC-like frames.
//!
//! ```text
//! cargo bench -p shardkit-algorithms --bench gmm_estep
//! cargo bench -p shardkit-algorithms --bench gmm_estep -- chunk     # the chunk-size sweep only
//! ```
//!
//! Throughput is in elements per second where one element is one flop of
//! the E-step's count (`8·frames·M·D`): read `Gelem/s` as GFLOP/s.
//!
//! - `block/refined`, `block/not refined`: [`accumulate_block`] with the
//!   default refinement and without;
//! - `chunk/<frames>`: the same block in chunks of 64 to 2048 frames
//!   (the default is `__bench::CHUNK_FRAMES`);
//! - `block size/<frames>`: blocks of 1024 to 16384 frames, to weigh the
//!   per-block costs (scratch set-up, flush, uncentring) against
//!   `BLOCK_FRAMES`; the exact summation across blocks is measured by the
//!   `measure_gmm_estep` program (`accumulate` against one `accumulate_block`).

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use ndarray::s;
use shardkit_algorithms::__bench::accumulate_block_chunked;
use shardkit_algorithms::gmm::{accumulate_block, BLOCK_FRAMES};

const D: usize = 60;
const M: usize = 512;

fn bench(c: &mut Criterion) {
    let frames = shardkit_testkit::mfcc_like(16384, D, 64, 1);
    let ubm = shardkit_testkit::ubm_like(&frames, M, 2);
    let refined = ubm.prepare();
    let plain = ubm.prepare().with_refine_margin(None);
    let block = frames.slice(s![..BLOCK_FRAMES, ..]);
    let flops = |n: usize| Throughput::Elements((8 * n * M * D) as u64);

    let mut g = c.benchmark_group("block");
    g.sample_size(20);
    g.throughput(flops(BLOCK_FRAMES));
    g.bench_function("refined", |b| {
        b.iter(|| black_box(accumulate_block(block, &refined)))
    });
    g.bench_function("not refined", |b| {
        b.iter(|| black_box(accumulate_block(block, &plain)))
    });
    g.finish();

    let mut g = c.benchmark_group("chunk");
    g.sample_size(20);
    g.throughput(flops(BLOCK_FRAMES));
    for chunk in [64, 128, 256, 512, 1024, 2048] {
        g.bench_with_input(BenchmarkId::from_parameter(chunk), &chunk, |b, &chunk| {
            b.iter(|| black_box(accumulate_block_chunked(block, &refined, chunk)))
        });
    }
    g.finish();

    let mut g = c.benchmark_group("block size");
    g.sample_size(10);
    for n in [1024, 4096, 8192, 16384] {
        g.throughput(flops(n));
        let x = frames.slice(s![..n, ..]);
        g.bench_with_input(BenchmarkId::from_parameter(n), &n, |b, _| {
            b.iter(|| black_box(accumulate_block(x, &refined)))
        });
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
