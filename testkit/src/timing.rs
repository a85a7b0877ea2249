//! Timing helpers of the measurement programs (`algorithms/benches/measure_*`):
//! best-of-N timing and faer's GEMM peak, the yardstick the kernels are
//! reported against.

use std::time::{Duration, Instant};

use faer::linalg::matmul::matmul;
use faer::traits::ComplexField;
use faer::{Accum, Mat, Par};

/// Best and worst of `reps` timed runs after one untimed run, and the last
/// result.
///
/// ```
/// let (best, worst, last) = shardkit_testkit::timing::time(3, || 6 * 7);
/// assert!(best <= worst);
/// assert_eq!(last, 42);
/// ```
pub fn time<R>(reps: usize, mut f: impl FnMut() -> R) -> (Duration, Duration, R) {
    let mut last = f();
    let (mut best, mut worst) = (Duration::MAX, Duration::ZERO);
    for _ in 0..reps {
        let start = Instant::now();
        last = f();
        let t = start.elapsed();
        best = best.min(t);
        worst = worst.max(t);
    }
    (best, worst, last)
}

/// How much slower the worst run was than the best, in percent.
pub fn spread(best: Duration, worst: Duration) -> f64 {
    100.0 * (worst.as_secs_f64() / best.as_secs_f64() - 1.0)
}

/// A GEMM rate in GFLOP/s and its spread in percent.
pub type Rate = (f64, f64);

/// faer's GEMM rate on `n×n×n` products of `T` (f32 or f64): one product
/// with `Par::rayon(threads)` (`Par::Seq` for one thread), and `threads`
/// products at once, each `Par::Seq` on its own thread (how shardkit's
/// blocks use the cores). The larger of the two is the machine's peak.
pub fn gemm_peak<T>(n: usize, threads: usize, reps: usize) -> (Rate, Rate)
where
    T: ComplexField + Copy + From<f32> + Send + Sync,
{
    let operands = |seed: usize| {
        let a = Mat::<T>::from_fn(n, n, |i, j| {
            T::from(((i * 7 + j * 3 + seed) % 17) as f32 * 0.1 - 0.8)
        });
        let b = Mat::<T>::from_fn(n, n, |i, j| {
            T::from(((i * 5 + j * 11 + seed) % 13) as f32 * 0.1 - 0.6)
        });
        (a, b, Mat::<T>::zeros(n, n))
    };
    let flops = 2.0 * (n as f64).powi(3);
    let par = if threads == 1 {
        Par::Seq
    } else {
        Par::rayon(threads)
    };
    let one_alpha = T::from(1.0);
    let (a, b, mut c) = operands(0);
    let (best, worst, ()) = time(reps, || {
        matmul(
            c.as_mut(),
            Accum::Replace,
            a.as_ref(),
            b.as_ref(),
            one_alpha,
            par,
        )
    });
    let one = (flops / best.as_secs_f64() / 1e9, spread(best, worst));
    let mut sets: Vec<_> = (0..threads).map(operands).collect();
    let (best, worst, ()) = time(reps, || {
        std::thread::scope(|scope| {
            for (a, b, c) in sets.iter_mut() {
                scope.spawn(move || {
                    matmul(
                        c.as_mut(),
                        Accum::Replace,
                        a.as_ref(),
                        b.as_ref(),
                        one_alpha,
                        Par::Seq,
                    )
                });
            }
        })
    });
    let each = (
        threads as f64 * flops / best.as_secs_f64() / 1e9,
        spread(best, worst),
    );
    (one, each)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spread_is_the_worst_over_the_best() {
        let s = spread(Duration::from_millis(100), Duration::from_millis(150));
        assert!((s - 50.0).abs() < 1e-9);
    }

    #[test]
    fn a_small_peak_is_positive() {
        let ((one, _), (each, _)) = gemm_peak::<f32>(64, 2, 1);
        assert!(one > 0.0 && each > 0.0);
    }
}
