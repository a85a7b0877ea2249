//! The GMM E-step kernel against an independent naive `f64` implementation,
//! closed forms, the determinism promise and its own invariants.
//!
//! `cargo test -p shardkit-algorithms --test gmm_kernel -- --nocapture`
//! prints the accuracy reached.

use ndarray::{array, Array1, Array2, ShapeBuilder};
use shardkit::Executor;
use shardkit_algorithms::__bench;
use shardkit_algorithms::gmm::{self, DiagGmm, GmmError, GmmStats, Prepared};
use shardkit_testkit::{mfcc_like, ubm_like, Rng};

/// The naive E-step in `f64`: plain loops over frames, components and
/// dimensions, `log w − ½Σ(log 2πσ² + (x − μ)²/σ²)`, log-sum-exp, posteriors.
struct Naive {
    stats: GmmStats,
    /// `Σ_t γ_tm |x_td|`: the scale against which errors in `first` are
    /// measured (`first` has cancellations when means straddle 0).
    first_scale: Array2<f64>,
    frame_ll: Vec<f64>,
    post: Array2<f64>,
}

fn naive(frames: &Array2<f32>, gmm: &DiagGmm) -> Naive {
    let (n, d) = frames.dim();
    let m = gmm.n_components();
    let (w, mu, var) = (gmm.weights(), gmm.means(), gmm.variances());
    let mut stats = GmmStats::zeros(m, d);
    let mut first_scale = Array2::zeros((m, d));
    let mut post = Array2::zeros((n, m));
    let mut frame_ll = Vec::with_capacity(n);
    let mut lp = vec![0.0; m];
    for t in 0..n {
        let x: Vec<f64> = frames.row(t).iter().map(|&v| f64::from(v)).collect();
        for i in 0..m {
            let mut q = 0.0;
            for j in 0..d {
                let dx = x[j] - mu[[i, j]];
                q += (2.0 * std::f64::consts::PI * var[[i, j]]).ln() + dx * dx / var[[i, j]];
            }
            lp[i] = w[i].ln() - 0.5 * q;
        }
        let max = lp.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
        let lse = max + lp.iter().map(|l| (l - max).exp()).sum::<f64>().ln();
        frame_ll.push(lse);
        stats.log_likelihood += lse;
        for i in 0..m {
            let g = (lp[i] - lse).exp();
            post[[t, i]] = g;
            stats.zero[i] += g;
            for j in 0..d {
                stats.first[[i, j]] += g * x[j];
                stats.second[[i, j]] += g * x[j] * x[j];
                first_scale[[i, j]] += g * x[j].abs();
            }
        }
    }
    stats.frames = n as u64;
    Naive {
        stats,
        first_scale,
        frame_ll,
        post,
    }
}

/// Relative errors of statistics against the naive reference.
#[derive(Debug)]
struct Errors {
    /// max_m |Δn_m| / n_m over components with n_m ≥ 1e-3 (per element).
    zero: f64,
    /// max |ΔF| / Σγ|x| (per element).
    first: f64,
    /// max |ΔS| / S (per element; S > 0).
    second: f64,
    /// |ΔΣ log p| / |Σ log p|.
    log_lik: f64,
    /// For information (not in `max`): the M-step's variances
    /// `S/n − (F/n)²`, max relative error over components with n ≥ 10.
    variance: f64,
}

impl Errors {
    fn max(&self) -> f64 {
        self.zero.max(self.first).max(self.second).max(self.log_lik)
    }
}

fn errors(got: &GmmStats, want: &Naive) -> Errors {
    let w = &want.stats;
    assert_eq!(got.frames, w.frames);
    let rel = |a: f64, b: f64, scale: f64| (a - b).abs() / scale;
    let mut e = Errors {
        zero: 0.0,
        first: 0.0,
        second: 0.0,
        log_lik: rel(got.log_likelihood, w.log_likelihood, w.log_likelihood.abs()),
        variance: 0.0,
    };
    let var = |s: &GmmStats, i: usize, j: usize| {
        let n = s.zero[i];
        s.second[[i, j]] / n - (s.first[[i, j]] / n).powi(2)
    };
    for (i, (&g, &r)) in got.zero.iter().zip(&w.zero).enumerate() {
        if r >= 1e-3 {
            e.zero = e.zero.max(rel(g, r, r));
            for j in 0..w.first.ncols() {
                let f = rel(got.first[[i, j]], w.first[[i, j]], want.first_scale[[i, j]]);
                let s = rel(got.second[[i, j]], w.second[[i, j]], w.second[[i, j]]);
                e.first = e.first.max(f);
                e.second = e.second.max(s);
                if r >= 10.0 {
                    let (a, b) = (var(got, i, j), var(w, i, j));
                    e.variance = e.variance.max(rel(a, b, b));
                }
            }
        }
    }
    e
}

/// The MFCC-like case of the accuracy requirement: D = 60 (c0 around 50),
/// M = 64 components sharing 16 clusters, 3000 frames.
fn mfcc_case() -> (Array2<f32>, DiagGmm) {
    let frames = mfcc_like(3000, 60, 16, 7);
    let gmm = ubm_like(&frames, 64, 8);
    (frames, gmm)
}

#[test]
fn f32_refined_matches_naive_f64_to_1e6() {
    let (frames, gmm) = mfcc_case();
    let want = naive(&frames, &gmm);
    let got = gmm::accumulate(frames.view(), &gmm.prepare());
    let e = errors(&got, &want);
    println!(
        "f32, refined (margin {} nats): {e:?}",
        gmm::DEFAULT_REFINE_MARGIN
    );
    assert!(e.max() <= 1e-6, "{e:?}");
}

#[test]
fn f64_path_matches_naive_f64() {
    let (frames, gmm) = mfcc_case();
    let want = naive(&frames, &gmm);
    let x64 = frames.mapv(f64::from);
    let got = gmm::accumulate(x64.view(), &gmm.prepare_f64());
    let e = errors(&got, &want);
    println!("f64: {e:?}");
    assert!(e.max() <= 1e-10, "{e:?}");
}

/// Without refinement the `f32` log-densities' errors (about 1e-5 absolute
/// for values near −100) reach the posteriors; without centring, the
/// expanded square loses most digits to cancellation (c0 around 50).
#[test]
fn f32_without_refinement_or_centring_is_worse() {
    let (frames, gmm) = mfcc_case();
    let want = naive(&frames, &gmm);
    let plain = gmm.prepare().with_refine_margin(None);
    let e_plain = errors(&gmm::accumulate(frames.view(), &plain), &want);
    let zeros = Array1::zeros(gmm.dim());
    let uncentred = Prepared::<f32>::with_offset(&gmm, zeros.view()).with_refine_margin(None);
    let e_uncentred = errors(&gmm::accumulate(frames.view(), &uncentred), &want);
    println!("f32, centred, not refined: {e_plain:?}");
    println!("f32, not centred, not refined: {e_uncentred:?}");
    assert!(e_plain.max() < 1e-3, "{e_plain:?}");
    assert!(e_uncentred.max() > e_plain.max());
}

#[test]
fn frame_log_likelihoods_and_posteriors_match_naive() {
    let (frames, gmm) = mfcc_case();
    let want = naive(&frames, &gmm);
    let prepared = gmm.prepare();
    let ll = gmm::frame_log_likelihood(frames.view(), &prepared);
    let worst_ll = ll
        .iter()
        .zip(&want.frame_ll)
        .map(|(a, b)| (a - b).abs() / b.abs())
        .fold(0.0, f64::max);
    let post = gmm::posteriors(frames.view(), &prepared);
    let worst_post = post
        .iter()
        .zip(&want.post)
        .map(|(&a, &b)| (f64::from(a) - b).abs())
        .fold(0.0, f64::max);
    let mean = gmm::mean_log_likelihood(frames.view(), &prepared);
    let want_mean = want.stats.log_likelihood / frames.nrows() as f64;
    println!("frame log-likelihood: max rel err {worst_ll:.2e}; posteriors: max abs err {worst_post:.2e}");
    assert!(worst_ll <= 1e-9, "{worst_ll}");
    assert!(worst_post <= 1e-6, "{worst_post}");
    assert!((mean - want_mean).abs() <= 1e-9 * want_mean.abs());
}

#[test]
fn same_bits_on_one_two_and_three_threads() {
    // Four blocks of BLOCK_FRAMES (the last one short).
    let frames = mfcc_like(3 * gmm::BLOCK_FRAMES + 123, 20, 8, 11);
    let gmm = ubm_like(&frames, 16, 12);
    let prepared = gmm.prepare();
    let on = |n: usize| {
        Executor::threads(n)
            .expect("a pool")
            .install(|| gmm::accumulate(frames.view(), &prepared))
    };
    let one = on(1);
    let serial = Executor::serial().install(|| gmm::accumulate(frames.view(), &prepared));
    for other in [on(2), on(3), serial] {
        assert_eq!(other.log_likelihood.to_bits(), one.log_likelihood.to_bits());
        for (a, b) in [(&one.first, &other.first), (&one.second, &other.second)] {
            assert!(a.iter().zip(b).all(|(x, y)| x.to_bits() == y.to_bits()));
        }
        assert!(one
            .zero
            .iter()
            .zip(&other.zero)
            .all(|(x, y)| x.to_bits() == y.to_bits()));
        assert_eq!(other.frames, one.frames);
    }
}

#[test]
fn one_component_is_the_closed_form() {
    let frames = mfcc_like(2000, 12, 4, 21);
    let x = frames.mapv(f64::from);
    let mean = x.mean_axis(ndarray::Axis(0)).unwrap();
    let var = x.var_axis(ndarray::Axis(0), 0.0);
    let gmm = DiagGmm::new(
        array![1.0],
        mean.clone().insert_axis(ndarray::Axis(0)),
        var.clone().insert_axis(ndarray::Axis(0)),
    )
    .unwrap();
    let n = x.nrows() as f64;
    let sum = x.sum_axis(ndarray::Axis(0));
    let sum_sq = x.mapv(|v| v * v).sum_axis(ndarray::Axis(0));
    // log N(x; μ, σ²) summed over frames, with σ² the ML variance:
    // −½ N Σ_d (log 2πσ²_d + 1).
    let ll: f64 = -0.5
        * n
        * var
            .iter()
            .map(|v| (2.0 * std::f64::consts::PI * v).ln() + 1.0)
            .sum::<f64>();
    for (what, got) in [
        ("f32", gmm::accumulate(frames.view(), &gmm.prepare())),
        ("f64", gmm::accumulate(x.view(), &gmm.prepare_f64())),
    ] {
        let tol = if what == "f32" { 1e-6 } else { 1e-12 };
        assert!(
            (got.zero[0] - n).abs() <= tol * n,
            "{what}: n = {}",
            got.zero[0]
        );
        for j in 0..x.ncols() {
            let scale = x.column(j).iter().map(|v| v.abs()).sum::<f64>();
            assert!(
                (got.first[[0, j]] - sum[j]).abs() <= tol * scale,
                "{what}: F[{j}]"
            );
            assert!(
                (got.second[[0, j]] - sum_sq[j]).abs() <= tol * sum_sq[j],
                "{what}: S[{j}]"
            );
        }
        assert!(
            (got.log_likelihood - ll).abs() <= tol * ll.abs(),
            "{what}: ll {} vs {ll}",
            got.log_likelihood
        );
    }
}

#[test]
fn posteriors_sum_to_one_and_top_n_agrees_with_dense() {
    let frames = mfcc_like(700, 24, 6, 31);
    let gmm = ubm_like(&frames, 40, 32);
    let prepared = gmm.prepare();
    let post = gmm::posteriors(frames.view(), &prepared);
    assert_eq!(post.dim(), (700, 40));
    for row in post.rows() {
        let s: f64 = row.iter().map(|&v| f64::from(v)).sum();
        assert!((s - 1.0).abs() < 1e-6, "a row sums to {s}");
        assert!(row.iter().all(|&v| (0.0..=1.0).contains(&v)));
    }
    let top = gmm::top_posteriors(frames.view(), &prepared, 5);
    assert_eq!(top.indices.dim(), (700, 5));
    for t in 0..700 {
        let row = post.row(t);
        let idx = top.indices.row(t);
        let val = top.values.row(t);
        for k in 0..5 {
            assert_eq!(val[k], row[idx[k] as usize], "frame {t}, rank {k}");
            if k > 0 {
                assert!(val[k - 1] >= val[k], "frame {t}: not decreasing");
            }
        }
        let kth = val[4];
        for (i, &v) in row.iter().enumerate() {
            if !idx.iter().any(|&j| j as usize == i) {
                assert!(
                    v <= kth,
                    "frame {t}: component {i} ({v}) beats the 5th ({kth})"
                );
            }
        }
    }
    let all = gmm::top_posteriors(frames.view(), &prepared, 1000);
    assert_eq!(all.indices.dim(), (700, 40));
}

/// The polynomial `exp` against `f64::exp` over the range a log-sum-exp
/// uses, `[−87, 0]`, and up to 88: at most 2 ulp (2.4e-7) relative.
#[test]
fn exp_kernel_accuracy() {
    let mut rng = Rng::new(41);
    let mut xs: Vec<f32> = (0..1_000_000)
        .map(|i| -87.0 + 87.0 * i as f32 / 1_000_000.0)
        .collect();
    xs.extend((0..200_000).map(|_| (-87.0 + 175.0 * rng.uniform()) as f32));
    xs.extend((0..10_000).map(|i| -(i as f32) * 1e-6));
    let mut ys = xs.clone();
    __bench::exp_in_place(&mut ys);
    let mut worst = (0.0f64, 0.0f32);
    for (&x, &y) in xs.iter().zip(&ys) {
        let want = f64::from(x).exp();
        let rel = (f64::from(y) - want).abs() / want;
        if rel > worst.0 {
            worst = (rel, x);
        }
    }
    println!("exp: max relative error {:.3e} at x = {}", worst.0, worst.1);
    assert!(
        worst.0 <= 2.4e-7,
        "max relative error {:.3e} at {}",
        worst.0,
        worst.1
    );
    let mut edges = [-87.01f32, -200.0, f32::NEG_INFINITY];
    __bench::exp_in_place(&mut edges);
    assert_eq!(edges, [0.0; 3]);
}

#[test]
fn no_frames_give_zero_statistics() {
    let gmm = ubm_like(&mfcc_like(50, 6, 2, 51), 3, 52);
    let none = Array2::<f32>::zeros((0, 6));
    let stats = gmm::accumulate(none.view(), &gmm.prepare());
    assert_eq!(stats, GmmStats::zeros(3, 6));
    assert_eq!(gmm::posteriors(none.view(), &gmm.prepare()).dim(), (0, 3));
    assert_eq!(
        gmm::top_posteriors(none.view(), &gmm.prepare(), 2)
            .values
            .dim(),
        (0, 2)
    );
    assert_eq!(
        gmm::frame_log_likelihood(none.view(), &gmm.prepare()).len(),
        0
    );
}

#[test]
#[should_panic(expected = "frames have 5 columns but the model has 6 dimensions")]
fn wrong_width_panics() {
    let gmm = ubm_like(&mfcc_like(50, 6, 2, 61), 3, 62);
    gmm::accumulate(Array2::<f32>::zeros((4, 5)).view(), &gmm.prepare());
}

#[test]
fn model_validation_names_the_problem() {
    let ok = || {
        (
            array![0.5, 0.5],
            Array2::zeros((2, 3)),
            Array2::ones((2, 3)),
        )
    };
    let check = |(w, m, v): (Array1<f64>, Array2<f64>, Array2<f64>), want: GmmError| {
        assert_eq!(DiagGmm::new(w, m, v).unwrap_err(), want);
    };
    let (w, m, v) = ok();
    assert!(DiagGmm::new(w, m, v).is_ok());
    check(
        (array![], Array2::zeros((0, 3)), Array2::ones((0, 3))),
        GmmError::NoComponents,
    );
    let (w, _, v) = ok();
    check(
        (w, Array2::zeros((3, 3)), v),
        GmmError::MeansRows {
            expected: 2,
            found: 3,
        },
    );
    let (w, _, _) = ok();
    check(
        (w, Array2::zeros((2, 0)), Array2::ones((2, 0))),
        GmmError::NoDimensions,
    );
    let (w, m, _) = ok();
    check(
        (w, m, Array2::ones((2, 4))),
        GmmError::VariancesShape {
            expected: (2, 3),
            found: (2, 4),
        },
    );
    let (_, m, v) = ok();
    check(
        (array![1.5, -0.5], m, v),
        GmmError::BadWeight {
            component: 1,
            value: -0.5,
        },
    );
    let (_, m, v) = ok();
    check((array![0.5, 0.6], m, v), GmmError::WeightsSum { sum: 1.1 });
    let (w, mut m, v) = ok();
    m[[1, 2]] = f64::NAN;
    assert!(matches!(
        DiagGmm::new(w, m, v),
        Err(GmmError::BadMean {
            component: 1,
            dim: 2,
            ..
        })
    ));
    let (w, m, mut v) = ok();
    v[[0, 1]] = 0.0;
    check(
        (w, m, v),
        GmmError::BadVariance {
            component: 0,
            dim: 1,
            value: 0.0,
        },
    );
    let msg = GmmError::WeightsSum { sum: 1.1 }.to_string();
    assert!(
        msg.contains("1.1") && msg.contains("divide them by their sum"),
        "{msg}"
    );
}

#[test]
fn any_memory_layout_gives_the_same_bits() {
    let frames = mfcc_like(600, 10, 4, 71);
    let gmm = ubm_like(&frames, 8, 72);
    let prepared = gmm.prepare();
    let want = gmm::accumulate(frames.view(), &prepared);
    // Column-major, and every other row of a taller array.
    let mut fortran = Array2::zeros(frames.raw_dim().f());
    fortran.assign(&frames);
    let mut tall = Array2::zeros((1200, 10));
    tall.slice_mut(ndarray::s![..;2, ..]).assign(&frames);
    for view in [fortran.view(), tall.slice(ndarray::s![..;2, ..])] {
        assert!(view.as_slice().is_none());
        assert_eq!(gmm::accumulate(view, &prepared), want);
    }
}

#[test]
#[should_panic(expected = "check the input for NaN, infinite or huge values")]
fn a_nan_frame_panics_naming_the_input() {
    let mut frames = mfcc_like(100, 6, 2, 81);
    let gmm = ubm_like(&frames, 3, 82);
    frames[[42, 3]] = f32::NAN;
    gmm::accumulate(frames.view(), &gmm.prepare());
}
