//! f32 GEMM: faer (`Par::Seq`) against ndarray's `general_mat_mul`
//! (matrixmultiply), on the GMM E-step's shapes and on a large square
//! product (the crate's peak).
//!
//! ```text
//! cargo bench -p shardkit-algorithms --bench gemm              # everything
//! cargo bench -p shardkit-algorithms --bench gemm -- square    # peaks only
//! ```
//!
//! Throughput is reported in elements per second where one element is one
//! flop (`2·m·n·k` per product): read `Gelem/s` as GFLOP/s.
//!
//! Shapes, with `B` frames per inner block, `D = 60`, `M = 512`:
//! - `loglik`: `(B×2D)·(2D×M)`, the log-densities `[y², y]·[−½/σ², ν/σ²]ᵀ`
//!   (left operand row-major, right operand row-major, result row-major);
//! - `stats`: `(M×B)·(B×2D)`, the statistics `γᵀ·[y², y]` (left operand the
//!   transpose of the row-major `B×M` posteriors).
//! - `square`: `n×n` times `n×n`, row-major, with `n = 1024` and `2048` on one
//!   thread and `2048` on two threads (faer `Par::rayon(2)`; ndarray has no
//!   threads without BLAS).

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use faer::linalg::matmul::matmul;
use faer::{Accum, MatMut, MatRef, Par};
use ndarray::linalg::general_mat_mul;
use ndarray::{Array2, ArrayView2, ArrayViewMut2};

const D: usize = 60;
const M: usize = 512;
const BLOCKS: [usize; 4] = [256, 512, 1024, 2048];

/// Deterministic entries in [-1, 1): splitmix64.
fn filled(rows: usize, cols: usize, seed: u64) -> Array2<f32> {
    let mut s = seed;
    Array2::from_shape_simple_fn((rows, cols), || {
        s = s.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = s;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^= z >> 31;
        ((z >> 40) as f32 / (1u64 << 23) as f32) - 1.0
    })
}

/// An ndarray view as a faer view (any strides).
fn fr<'a>(a: &'a ArrayView2<'a, f32>) -> MatRef<'a, f32> {
    let s = a.strides();
    // SAFETY: the view's pointer, shape and strides describe valid elements
    // for the lifetime of `a`.
    unsafe { MatRef::from_raw_parts(a.as_ptr(), a.nrows(), a.ncols(), s[0], s[1]) }
}

fn fm<'a>(a: &'a mut ArrayViewMut2<'a, f32>) -> MatMut<'a, f32> {
    let (r, c) = a.dim();
    let s = a.strides().to_vec();
    // SAFETY: as `fr`, and the view is borrowed mutably.
    unsafe { MatMut::from_raw_parts_mut(a.as_mut_ptr(), r, c, s[0], s[1]) }
}

fn faer_gemm(c: &mut Array2<f32>, a: ArrayView2<f32>, b: ArrayView2<f32>, par: Par) {
    let mut cv = c.view_mut();
    matmul(fm(&mut cv), Accum::Replace, fr(&a), fr(&b), 1.0, par);
}

fn nd_gemm(c: &mut Array2<f32>, a: ArrayView2<f32>, b: ArrayView2<f32>) {
    general_mat_mul(1.0, &a, &b, 0.0, c);
}

fn shapes(c: &mut Criterion) {
    for &b in &BLOCKS {
        // (B×2D)·(2D×M)
        let x = filled(b, 2 * D, 1);
        let w = filled(2 * D, M, 2);
        let mut out = Array2::zeros((b, M));
        let mut g = c.benchmark_group(format!("loglik B={b}"));
        g.throughput(Throughput::Elements((2 * b * 2 * D * M) as u64));
        g.sample_size(30);
        g.bench_function("faer", |bench| {
            bench.iter(|| faer_gemm(&mut out, x.view(), w.view(), Par::Seq))
        });
        g.bench_function("ndarray", |bench| {
            bench.iter(|| nd_gemm(&mut out, x.view(), w.view()))
        });
        g.finish();

        // (M×B)·(B×2D), the left operand the transpose of B×M.
        let gamma = filled(b, M, 3);
        let mut stats = Array2::zeros((M, 2 * D));
        let mut g = c.benchmark_group(format!("stats B={b}"));
        g.throughput(Throughput::Elements((2 * b * 2 * D * M) as u64));
        g.sample_size(30);
        g.bench_function("faer", |bench| {
            bench.iter(|| faer_gemm(&mut stats, gamma.t(), x.view(), Par::Seq))
        });
        g.bench_function("ndarray", |bench| {
            bench.iter(|| nd_gemm(&mut stats, gamma.t(), x.view()))
        });
        g.finish();
    }
    black_box(());
}

fn square(c: &mut Criterion) {
    let mut g = c.benchmark_group("square");
    g.sample_size(10);
    for &(n, threads) in &[(1024usize, 1usize), (2048, 1), (2048, 2)] {
        let a = filled(n, n, 4);
        let b = filled(n, n, 5);
        let mut out = Array2::zeros((n, n));
        g.throughput(Throughput::Elements(2 * (n as u64).pow(3)));
        let par = if threads == 1 {
            Par::Seq
        } else {
            Par::rayon(threads)
        };
        g.bench_function(BenchmarkId::new(format!("faer {threads}t"), n), |bench| {
            bench.iter(|| faer_gemm(&mut out, a.view(), b.view(), par))
        });
        if threads == 1 {
            g.bench_function(BenchmarkId::new("ndarray 1t", n), |bench| {
                bench.iter(|| nd_gemm(&mut out, a.view(), b.view()))
            });
        }
    }
    g.finish();
}

criterion_group!(benches, shapes, square);
criterion_main!(benches);
