//! Determinism: a `#[parallelize]` call returns the same bits on the serial
//! executor and on pools of 1, 2, 3 and 7 threads, and those bits are the
//! documented contract — the left fold, in block order, of the block results
//! of the plan cut from the data alone.
//!
//! Every property is a plain function returning `Result<(), TestCaseError>`,
//! run by proptest on random inputs and by `fixed_lengths` on the lengths that
//! matter (0, 1, 2, fewer items than threads, exactly and more than
//! `DEFAULT_BLOCKS`).

mod common;

use std::fmt::Debug;
use std::ops::Range;

use common::executors;
use ndarray::{s, Array1, Array2, ArrayView2, Axis};
use proptest::prelude::*;
use proptest::test_runner::TestCaseError;
use shardkit::{parallelize, Executor, Plan, Reduce, DEFAULT_BLOCKS};

// ---------------------------------------------------------------------------
// Executors and comparison
// ---------------------------------------------------------------------------

/// Runs `call` on every executor (the serial reference first, then pools
/// of 1, 2, 3 and 7 threads) and fails unless `key` of every result
/// equals `key` of the serial result, which it returns.
fn same_on_every_executor<R, K>(
    call: impl Fn() -> R,
    key: impl Fn(&R) -> K,
) -> Result<R, TestCaseError>
where
    K: PartialEq + Debug,
{
    let (_, serial) = &executors()[0];
    let reference = serial.install(&call);
    let want = key(&reference);
    for (name, exec) in &executors()[1..] {
        let got = key(&exec.install(&call));
        prop_assert_eq!(&got, &want, "{} disagrees with the serial executor", name);
    }
    Ok(reference)
}

/// The documented contract: the block results of `plan`, folded left to
/// right, the first block's result being the fold's start.
fn block_fold<T>(plan: &Plan, part: impl Fn(Range<usize>) -> T, merge: impl Fn(T, T) -> T) -> T {
    let mut acc = None;
    for range in plan.ranges() {
        let value = part(range);
        acc = Some(match acc {
            None => value,
            Some(acc) => merge(acc, value),
        });
    }
    acc.expect("a plan has at least one block")
}

/// The contract of `sum` for floats: the *exact* sum of the block results,
/// rounded once (the runtime adds them as fixed-point integers), a zero
/// total being `+0.0`. Computed independently with Shewchuk's algorithm
/// (Python's `math.fsum`), which is correctly rounded.
fn exact_sum(parts: impl IntoIterator<Item = f64>) -> f64 {
    fsum(parts) + 0.0
}

fn fsum(parts: impl IntoIterator<Item = f64>) -> f64 {
    let mut partials: Vec<f64> = Vec::new();
    for mut x in parts {
        let mut i = 0;
        for j in 0..partials.len() {
            let mut y = partials[j];
            if x.abs() < y.abs() {
                std::mem::swap(&mut x, &mut y);
            }
            let hi = x + y;
            let lo = y - (hi - x);
            if lo != 0.0 {
                partials[i] = lo;
                i += 1;
            }
            x = hi;
        }
        partials.truncate(i);
        partials.push(x);
    }
    let mut n = partials.len();
    if n == 0 {
        return 0.0;
    }
    n -= 1;
    let mut hi = partials[n];
    let mut lo = 0.0;
    while n > 0 {
        let x = hi;
        let y = partials[n - 1];
        n -= 1;
        hi = x + y;
        let yr = hi - x;
        lo = y - yr;
        if lo != 0.0 {
            break;
        }
    }
    if n > 0 && ((lo < 0.0 && partials[n - 1] < 0.0) || (lo > 0.0 && partials[n - 1] > 0.0)) {
        let y = lo * 2.0;
        let x = hi + y;
        if y == x - hi {
            hi = x;
        }
    }
    hi
}

/// The exact sum of `part` over the blocks of `plan`.
fn exact_fold(plan: &Plan, part: impl Fn(Range<usize>) -> f64) -> f64 {
    exact_sum(plan.ranges().map(part))
}

/// The contract of `min` / `max` for floats: NaN loses to every number and
/// `-0.0 < +0.0`, whatever the grouping.
fn total_min(parts: impl IntoIterator<Item = f64>) -> f64 {
    parts
        .into_iter()
        .filter(|x| !x.is_nan())
        .min_by(f64::total_cmp)
        .unwrap_or(f64::NAN)
}

fn total_max(parts: impl IntoIterator<Item = f64>) -> f64 {
    parts
        .into_iter()
        .filter(|x| !x.is_nan())
        .max_by(f64::total_cmp)
        .unwrap_or(f64::NAN)
}

#[test]
fn exact_sum_is_correctly_rounded() {
    assert_eq!(exact_sum([0.1, 0.2, 0.3]), 0.6);
    assert_eq!(exact_sum([1e16, 1.0, -1e16]), 1.0);
    assert_eq!(
        exact_sum([2f64.powi(53), 1.0, 2f64.powi(-60)]),
        2f64.powi(53) + 2.0
    );
    assert_eq!(exact_sum([]), 0.0);
}

fn bits64(xs: &[f64]) -> Vec<u64> {
    xs.iter().map(|x| x.to_bits()).collect()
}

// ---------------------------------------------------------------------------
// Strategies
// ---------------------------------------------------------------------------

/// Empty, one, two, fewer items than threads, a few hundred, and more than
/// `DEFAULT_BLOCKS` (so that blocks hold more than one item).
fn lengths() -> impl Strategy<Value = usize> + Clone {
    prop_oneof![
        3 => 0usize..=8,
        1 => 9usize..DEFAULT_BLOCKS,
        2 => DEFAULT_BLOCKS..700,
    ]
}

/// Finite values from 2^-40 to 2^40 in magnitude, both signs: their sum
/// depends on the order of the additions.
fn spread_f64() -> impl Strategy<Value = f64> + Clone {
    // Magnitudes in [2^-41, 2^40]: the exact sum keeps bits down to 2^-108
    // (see the runtime's `exact` module), and the f32 squares that
    // `Summary` sums (down to 2^-82, last bit 2^-105) must keep all theirs
    // for the fixed-point result to equal the correctly rounded one. (A
    // mantissa near 0 once gave a square of 7.4e-27, whose last bits the
    // exact sum rightly drops.)
    (0.5f64..1.0, any::<bool>(), -40i32..=40)
        .prop_map(|(m, negative, e)| if negative { -m } else { m } * 2f64.powi(e))
}

fn spread_f32() -> impl Strategy<Value = f32> + Clone {
    (-1.0f32..1.0, -20i32..=20).prop_map(|(m, e)| m * 2f32.powi(e))
}

/// Like `spread_f64`, plus the values on which `min` and `max` are touchy:
/// signed zeros, infinities and NaN.
fn touchy_f64() -> impl Strategy<Value = f64> + Clone {
    prop_oneof![
        8 => spread_f64(),
        1 => Just(0.0),
        1 => Just(-0.0),
        1 => Just(f64::NAN),
        1 => Just(f64::INFINITY),
        1 => Just(f64::NEG_INFINITY),
    ]
}

fn vec_of<S: Strategy + Clone>(item: S) -> impl Strategy<Value = Vec<S::Value>>
where
    S::Value: Debug,
{
    lengths().prop_flat_map(move |n| proptest::collection::vec(item.clone(), n))
}

/// A deterministic spread of magnitudes for the fixed-length test.
fn fixed_f64(len: usize) -> Vec<f64> {
    let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
    (0..len)
        .map(|_| {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let mantissa = ((state >> 11) as f64 / (1u64 << 53) as f64) * 2.0 - 1.0;
            let exponent = ((state >> 3) % 81) as i32 - 40;
            mantissa * 2f64.powi(exponent)
        })
        .collect()
}

// ---------------------------------------------------------------------------
// `sum` over floats and integers
// ---------------------------------------------------------------------------

#[parallelize(split = "xs", reduce = "sum")]
fn sum_f64(xs: &[f64]) -> f64 {
    xs.iter().sum()
}

#[parallelize(split = "xs", reduce = "sum")]
fn sum_f32(xs: &[f32]) -> f32 {
    xs.iter().sum()
}

#[parallelize(split = "xs", reduce = "sum")]
fn sum_i64(xs: &[i64]) -> i64 {
    xs.iter().sum()
}

fn check_sum_f64(xs: &[f64]) -> Result<(), TestCaseError> {
    let got = same_on_every_executor(|| sum_f64(xs), |r| r.to_bits())?;
    let want = exact_fold(&Plan::even(xs.len(), None), |r| xs[r].iter().sum::<f64>());
    prop_assert_eq!(got.to_bits(), want.to_bits(), "{} != {}", got, want);
    Ok(())
}

fn check_sum_f32(xs: &[f32]) -> Result<(), TestCaseError> {
    let got = same_on_every_executor(|| sum_f32(xs), |r| r.to_bits())?;
    // Exact in f64, then rounded to f32.
    let want = exact_fold(&Plan::even(xs.len(), None), |r| {
        f64::from(xs[r].iter().sum::<f32>())
    }) as f32;
    prop_assert_eq!(got.to_bits(), want.to_bits(), "{} != {}", got, want);
    Ok(())
}

fn check_sum_i64(xs: &[i64]) -> Result<(), TestCaseError> {
    let got = same_on_every_executor(|| sum_i64(xs), |r| *r)?;
    prop_assert_eq!(got, xs.iter().sum::<i64>());
    Ok(())
}

// ---------------------------------------------------------------------------
// `concat`, `min`, `max`
// ---------------------------------------------------------------------------

#[parallelize(split = "xs", reduce = "concat")]
fn doubled(xs: &[u32]) -> Vec<u64> {
    xs.iter().map(|&x| u64::from(x) * 2).collect()
}

/// What each shard saw: exposes the plan itself.
#[parallelize(split = "xs", reduce = "concat")]
fn shard_sizes(xs: &[f64]) -> Vec<usize> {
    vec![xs.len()]
}

#[parallelize(split = "xs", reduce = "min")]
fn min_f64(xs: &[f64]) -> f64 {
    xs.iter().copied().fold(f64::INFINITY, f64::min)
}

#[parallelize(split = "xs", reduce = "max")]
fn max_f64(xs: &[f64]) -> f64 {
    xs.iter().copied().fold(f64::NEG_INFINITY, f64::max)
}

/// `Option` results: an empty shard has no minimum.
#[parallelize(split = "xs", reduce = "min")]
fn min_i32(xs: &[i32]) -> Option<i32> {
    xs.iter().copied().min()
}

#[parallelize(split = "xs", reduce = "max")]
fn max_i32(xs: &[i32]) -> Option<i32> {
    xs.iter().copied().max()
}

fn check_concat(xs: &[u32]) -> Result<(), TestCaseError> {
    let got = same_on_every_executor(|| doubled(xs), Clone::clone)?;
    let want: Vec<u64> = xs.iter().map(|&x| u64::from(x) * 2).collect();
    prop_assert_eq!(got, want);
    Ok(())
}

fn check_default_plan(xs: &[f64]) -> Result<(), TestCaseError> {
    let got = same_on_every_executor(|| shard_sizes(xs), Clone::clone)?;
    let want: Vec<usize> = Plan::even(xs.len(), None).sizes().collect();
    prop_assert_eq!(got.len(), xs.len().clamp(1, DEFAULT_BLOCKS));
    prop_assert_eq!(got, want);
    Ok(())
}

fn check_min_max_f64(xs: &[f64]) -> Result<(), TestCaseError> {
    let plan = Plan::even(xs.len(), None);
    let min = same_on_every_executor(|| min_f64(xs), |r| r.to_bits())?;
    let want = total_min(
        plan.ranges()
            .map(|r| xs[r].iter().copied().fold(f64::INFINITY, f64::min)),
    );
    prop_assert_eq!(min.to_bits(), want.to_bits(), "min {} != {}", min, want);

    let max = same_on_every_executor(|| max_f64(xs), |r| r.to_bits())?;
    let want = total_max(
        plan.ranges()
            .map(|r| xs[r].iter().copied().fold(f64::NEG_INFINITY, f64::max)),
    );
    prop_assert_eq!(max.to_bits(), want.to_bits(), "max {} != {}", max, want);

    // And the values are right (NaN loses; 0.0 == -0.0 here).
    let numbers = xs.iter().copied().filter(|x| !x.is_nan());
    let lowest = numbers
        .clone()
        .min_by(f64::total_cmp)
        .unwrap_or(f64::INFINITY);
    let highest = numbers.max_by(f64::total_cmp).unwrap_or(f64::NEG_INFINITY);
    prop_assert_eq!(min, lowest);
    prop_assert_eq!(max, highest);
    Ok(())
}

fn check_min_max_i32(xs: &[i32]) -> Result<(), TestCaseError> {
    let min = same_on_every_executor(|| min_i32(xs), |r| *r)?;
    let max = same_on_every_executor(|| max_i32(xs), |r| *r)?;
    prop_assert_eq!(min, xs.iter().copied().min());
    prop_assert_eq!(max, xs.iter().copied().max());
    Ok(())
}

// ---------------------------------------------------------------------------
// `reduce = path`: associative, non-commutative merges
// ---------------------------------------------------------------------------

type Mat = [[u64; 2]; 2];
const IDENTITY: Mat = [[1, 0], [0, 1]];

/// 2x2 matrix product over the integers mod 2^64: exactly associative, not
/// commutative.
fn mat_mul(a: Mat, b: Mat) -> Mat {
    let mut c = [[0u64; 2]; 2];
    for (i, row) in c.iter_mut().enumerate() {
        for (j, cell) in row.iter_mut().enumerate() {
            *cell = a[i][0]
                .wrapping_mul(b[0][j])
                .wrapping_add(a[i][1].wrapping_mul(b[1][j]));
        }
    }
    c
}

#[parallelize(split = "ms", reduce = mat_mul)]
fn product(ms: &[Mat]) -> Mat {
    ms.iter().copied().fold(IDENTITY, mat_mul)
}

type FMat = [[f64; 2]; 2];

/// 2x2 matrix product over floats: associative only up to rounding, so the
/// bits depend on the order of the merges.
fn fmat_mul(a: FMat, b: FMat) -> FMat {
    let mut c = [[0.0; 2]; 2];
    for (i, row) in c.iter_mut().enumerate() {
        for (j, cell) in row.iter_mut().enumerate() {
            *cell = a[i][0] * b[0][j] + a[i][1] * b[1][j];
        }
    }
    c
}

#[parallelize(split = "ms", reduce = fmat_mul)]
fn fproduct(ms: &[FMat]) -> FMat {
    ms.iter().copied().fold([[1.0, 0.0], [0.0, 1.0]], fmat_mul)
}

fn join(mut a: String, b: String) -> String {
    a.push_str(&b);
    a
}

#[parallelize(split = "letters", reduce = join)]
fn spell(letters: &[char]) -> String {
    letters.iter().collect()
}

fn check_product(ms: &[Mat]) -> Result<(), TestCaseError> {
    let got = same_on_every_executor(|| product(ms), |m| *m)?;
    prop_assert_eq!(got, ms.iter().copied().fold(IDENTITY, mat_mul));
    Ok(())
}

fn check_fproduct(ms: &[FMat]) -> Result<(), TestCaseError> {
    let key = |m: &FMat| m.map(|row| row.map(f64::to_bits));
    let got = same_on_every_executor(|| fproduct(ms), key)?;
    let want = block_fold(
        &Plan::even(ms.len(), None),
        |r| {
            ms[r]
                .iter()
                .copied()
                .fold([[1.0, 0.0], [0.0, 1.0]], fmat_mul)
        },
        fmat_mul,
    );
    prop_assert_eq!(key(&got), key(&want));
    Ok(())
}

fn check_spell(letters: &[char]) -> Result<(), TestCaseError> {
    let got = same_on_every_executor(|| spell(letters), Clone::clone)?;
    prop_assert_eq!(got, letters.iter().collect::<String>());
    Ok(())
}

// ---------------------------------------------------------------------------
// `#[derive(Reduce)]`
// ---------------------------------------------------------------------------

#[derive(Reduce, Debug, Clone, PartialEq)]
struct Summary {
    count: u64,
    total: f64,
    squares: f32,
    /// Element-wise sum: how many values fall in each of 4 magnitude bands.
    bands: Vec<u32>,
    #[reduce(min)]
    lowest: f64,
    #[reduce(max)]
    highest: f64,
}

impl Summary {
    fn of(xs: &[f64]) -> Summary {
        let mut bands = vec![0u32; 4];
        for x in xs {
            bands[(x.abs().log2().clamp(-40.0, 39.0) as i32 + 40) as usize / 20] += 1;
        }
        Summary {
            count: xs.len() as u64,
            total: xs.iter().sum(),
            squares: xs.iter().map(|&x| (x * x) as f32).sum(),
            bands,
            lowest: xs.iter().copied().fold(f64::INFINITY, f64::min),
            highest: xs.iter().copied().fold(f64::NEG_INFINITY, f64::max),
        }
    }

    /// Every bit of the summary.
    fn key(&self) -> (u64, u64, u32, Vec<u32>, u64, u64) {
        (
            self.count,
            self.total.to_bits(),
            self.squares.to_bits(),
            self.bands.clone(),
            self.lowest.to_bits(),
            self.highest.to_bits(),
        )
    }
}

#[parallelize(split = "xs", reduce = "sum")]
fn summarize(xs: &[f64]) -> Summary {
    Summary::of(xs)
}

fn check_derived(xs: &[f64]) -> Result<(), TestCaseError> {
    let got = same_on_every_executor(|| summarize(xs), Summary::key)?;
    // The combination written out field by field, without the derived
    // merge: integers add, floats add exactly, extremes by total order.
    let parts: Vec<Summary> = Plan::even(xs.len(), None)
        .ranges()
        .map(|r| Summary::of(&xs[r]))
        .collect();
    let want = Summary {
        count: parts.iter().map(|p| p.count).sum(),
        total: exact_sum(parts.iter().map(|p| p.total)),
        squares: exact_sum(parts.iter().map(|p| f64::from(p.squares))) as f32,
        bands: (0..parts[0].bands.len())
            .map(|i| parts.iter().map(|p| p.bands[i]).sum())
            .collect(),
        lowest: total_min(parts.iter().map(|p| p.lowest)),
        highest: total_max(parts.iter().map(|p| p.highest)),
    };
    prop_assert_eq!(got.key(), want.key());
    prop_assert_eq!(got.count, xs.len() as u64);
    prop_assert_eq!(got.bands.iter().sum::<u32>() as usize, xs.len());
    Ok(())
}

// ---------------------------------------------------------------------------
// ndarray: `ArrayView2` in, `Array1<f64>` summed out
// ---------------------------------------------------------------------------

#[parallelize(split = "rows", reduce = "sum")]
fn column_sums(rows: ArrayView2<f64>) -> Array1<f64> {
    rows.sum_axis(Axis(0))
}

fn check_column_sums(a: &Array2<f64>) -> Result<(), TestCaseError> {
    let got = same_on_every_executor(|| column_sums(a.view()), |r| bits64(&r.to_vec()))?;
    let plan = Plan::even(a.nrows(), None);
    let parts: Vec<Array1<f64>> = plan
        .ranges()
        .map(|r| a.slice(s![r, ..]).sum_axis(Axis(0)))
        .collect();
    let want: Array1<f64> = (0..a.ncols())
        .map(|j| exact_sum(parts.iter().map(|p| p[j])))
        .collect();
    prop_assert_eq!(got.len(), a.ncols());
    prop_assert_eq!(bits64(&got.to_vec()), bits64(&want.to_vec()));
    Ok(())
}

// ---------------------------------------------------------------------------
// `weights = ...` and `block_size = ...`
// ---------------------------------------------------------------------------

/// Heavier for larger magnitudes: from 1 (tiny or zero) to 121 (2^60).
fn magnitude(x: &f64) -> u64 {
    (x.abs().log2().clamp(-60.0, 60.0) + 61.0) as u64
}

#[parallelize(split = "xs", reduce = "sum", weights = magnitude)]
fn weighted_sum(xs: &[f64]) -> f64 {
    xs.iter().sum()
}

#[parallelize(split = "xs", reduce = "concat", weights = magnitude)]
fn weighted_sizes(xs: &[f64]) -> Vec<usize> {
    vec![xs.len()]
}

#[parallelize(split = "xs", reduce = "sum", block_size = size)]
fn sum_in_blocks(xs: &[f64], size: usize) -> f64 {
    xs.iter().sum()
}

#[parallelize(split = "xs", reduce = "concat", block_size = size)]
fn sizes_in_blocks(xs: &[f64], size: usize) -> Vec<usize> {
    vec![xs.len()]
}

fn check_weights(xs: &[f64]) -> Result<(), TestCaseError> {
    let weights: Vec<u64> = xs.iter().map(magnitude).collect();
    let plan = Plan::weighted(&weights);
    let sizes = same_on_every_executor(|| weighted_sizes(xs), Clone::clone)?;
    prop_assert_eq!(sizes, plan.sizes().collect::<Vec<_>>());
    let got = same_on_every_executor(|| weighted_sum(xs), |r| r.to_bits())?;
    let want = exact_fold(&plan, |r| xs[r].iter().sum::<f64>());
    prop_assert_eq!(got.to_bits(), want.to_bits(), "{} != {}", got, want);
    Ok(())
}

fn check_block_size(xs: &[f64], size: usize) -> Result<(), TestCaseError> {
    let plan = Plan::even(xs.len(), Some(size));
    let sizes = same_on_every_executor(|| sizes_in_blocks(xs, size), Clone::clone)?;
    prop_assert_eq!(sizes, plan.sizes().collect::<Vec<_>>());
    let got = same_on_every_executor(|| sum_in_blocks(xs, size), |r| r.to_bits())?;
    let want = exact_fold(&plan, |r| xs[r].iter().sum::<f64>());
    prop_assert_eq!(got.to_bits(), want.to_bits(), "{} != {}", got, want);
    Ok(())
}

// ---------------------------------------------------------------------------
// The properties
// ---------------------------------------------------------------------------

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn sum_of_f64_is_the_exact_sum_of_block_results(xs in vec_of(spread_f64())) {
        check_sum_f64(&xs)?;
    }

    #[test]
    fn sum_of_f32_is_the_exact_sum_of_block_results(xs in vec_of(spread_f32())) {
        check_sum_f32(&xs)?;
    }

    #[test]
    fn sum_of_integers_is_the_plain_sum(
        xs in vec_of(-1_000_000_000_000i64..1_000_000_000_000)
    ) {
        check_sum_i64(&xs)?;
    }

    #[test]
    fn concat_keeps_input_order(xs in vec_of(any::<u32>())) {
        check_concat(&xs)?;
    }

    #[test]
    fn shards_follow_the_even_plan(xs in vec_of(Just(0.0f64))) {
        check_default_plan(&xs)?;
    }

    #[test]
    fn min_and_max_of_floats(xs in vec_of(touchy_f64())) {
        check_min_max_f64(&xs)?;
    }

    #[test]
    fn min_and_max_of_optional_integers(xs in vec_of(any::<i32>())) {
        check_min_max_i32(&xs)?;
    }

    #[test]
    fn merge_fn_integer_matrix_product(ms in vec_of(any::<[[u64; 2]; 2]>())) {
        check_product(&ms)?;
    }

    #[test]
    fn merge_fn_float_matrix_product(
        ms in vec_of([[spread_f64(), spread_f64()], [spread_f64(), spread_f64()]]
            .prop_map(|m: FMat| m.map(|row| row.map(|x| x.clamp(-2.0, 2.0)))))
    ) {
        check_fproduct(&ms)?;
    }

    #[test]
    fn merge_fn_string_concatenation(letters in vec_of(any::<char>())) {
        check_spell(&letters)?;
    }

    #[test]
    fn derived_reduce_struct(xs in vec_of(spread_f64())) {
        check_derived(&xs)?;
    }

    #[test]
    fn ndarray_column_sums(
        a in (lengths(), 1usize..4).prop_flat_map(|(rows, cols)| {
            proptest::collection::vec(spread_f64(), rows * cols).prop_map(move |v| {
                Array2::from_shape_vec((rows, cols), v).expect("rows * cols values")
            })
        })
    ) {
        check_column_sums(&a)?;
    }

    #[test]
    fn weights_cut_blocks_of_equal_weight(xs in vec_of(spread_f64())) {
        check_weights(&xs)?;
    }

    #[test]
    fn block_size_cuts_fixed_blocks(xs in vec_of(spread_f64()), size in 1usize..40) {
        check_block_size(&xs, size)?;
    }
}

/// The lengths that matter, on deterministic data, for every property.
#[test]
fn fixed_lengths() -> Result<(), TestCaseError> {
    for len in [0, 1, 2, 3, 6, 7, 8, 255, 256, 257, 1000] {
        let xs = fixed_f64(len);
        check_sum_f64(&xs)?;
        check_sum_f32(&xs.iter().map(|&x| x as f32).collect::<Vec<_>>())?;
        check_sum_i64(&xs.iter().map(|&x| (x * 1e3) as i64).collect::<Vec<_>>())?;
        check_concat(&xs.iter().map(|x| x.to_bits() as u32).collect::<Vec<_>>())?;
        check_default_plan(&xs)?;
        check_min_max_f64(&xs)?;
        check_min_max_i32(&xs.iter().map(|&x| x as i32).collect::<Vec<_>>())?;
        let mats: Vec<Mat> = xs
            .iter()
            .map(|x| {
                let b = x.to_bits();
                [[b, b >> 7], [b >> 13, b.rotate_left(5)]]
            })
            .collect();
        check_product(&mats)?;
        let fmats: Vec<FMat> = xs
            .iter()
            .map(|&x| {
                let c = x.clamp(-2.0, 2.0);
                [[c, 0.5], [-0.25, 1.0 - c]]
            })
            .collect();
        check_fproduct(&fmats)?;
        check_spell(
            &xs.iter()
                .map(|x| char::from(b'a' + (x.to_bits() % 26) as u8))
                .collect::<Vec<_>>(),
        )?;
        check_derived(&xs)?;
        for cols in [1, 3] {
            let rows = len / cols;
            let a = Array2::from_shape_vec((rows, cols), xs[..rows * cols].to_vec())
                .expect("rows * cols values");
            check_column_sums(&a)?;
        }
        check_weights(&xs)?;
        for size in [1, 2, 7, 300] {
            check_block_size(&xs, size)?;
        }
    }
    Ok(())
}

/// The data above is sensitive to the order of additions: a plan cut for
/// the number of workers (one block per worker) would give other bits, so
/// the properties would catch it.
#[test]
fn the_data_makes_addition_order_matter() {
    let xs = fixed_f64(1000);
    let contract = sum_f64(&xs).to_bits();
    for workers in [1, 2, 3, 7] {
        let per_worker = exact_fold(
            &Plan::even(xs.len(), Some(xs.len().div_ceil(workers))),
            |r| xs[r].iter().sum::<f64>(),
        );
        assert_ne!(contract, per_worker.to_bits(), "{workers} blocks");
    }
}

/// The merge functions above are not commutative, so the properties would
/// catch blocks merged out of order.
#[test]
fn merge_order_is_observable() {
    let a: Mat = [[1, 2], [3, 4]];
    let b: Mat = [[0, 1], [1, 0]];
    assert_ne!(mat_mul(a, b), mat_mul(b, a));
    let ms = [a, b, a, a, b, b, a];
    let forward = Executor::threads(3).unwrap().install(|| product(&ms));
    let mut reversed = ms;
    reversed.reverse();
    assert_ne!(forward, reversed.iter().copied().fold(IDENTITY, mat_mul));
    assert_eq!(forward, ms.iter().copied().fold(IDENTITY, mat_mul));
}

/// `weights = shardkit::weights::file_size`: files that exist weigh their
/// size, missing ones 1, and the result is the same everywhere.
#[test]
fn file_size_weights() -> Result<(), TestCaseError> {
    #[parallelize(split = "paths", reduce = "concat", weights = shardkit::weights::file_size)]
    fn shards(paths: &[std::path::PathBuf]) -> Vec<Vec<String>> {
        vec![paths.iter().map(|p| p.display().to_string()).collect()]
    }

    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut paths: Vec<_> = (0..20).map(|i| root.join(format!("missing-{i}"))).collect();
    paths.insert(3, root.join("Cargo.toml"));
    paths.insert(10, root.join("tests/determinism.rs"));
    let weights: Vec<u64> = paths.iter().map(shardkit::weights::file_size).collect();
    assert!(weights[3] > 1 && weights[0] == 1 && weights[10] > 1000);
    let got = same_on_every_executor(|| shards(&paths), Clone::clone)?;
    let want: Vec<Vec<String>> = Plan::weighted(&weights)
        .ranges()
        .map(|r| paths[r].iter().map(|p| p.display().to_string()).collect())
        .collect();
    prop_assert_eq!(&got, &want);
    // Not one block per path, as an even plan would cut.
    prop_assert!(got.len() < paths.len(), "{:?}", got);
    Ok(())
}

/// `Plan::weighted`: "a block closes before an item that would take it past
/// `total / min(len, DEFAULT_BLOCKS)`, so no block is heavier than that
/// unless it is one heavy item on its own".
fn check_weighted_plan(weights: &[u64]) -> Result<(), TestCaseError> {
    let plan = Plan::weighted(weights);
    let total: u128 = weights.iter().map(|&w| u128::from(w)).sum();
    let target_blocks = weights.len().clamp(1, DEFAULT_BLOCKS) as u128;
    prop_assert_eq!(plan.len(), weights.len());
    let mut at = 0;
    for r in plan.ranges() {
        prop_assert_eq!(r.start, at);
        prop_assert!(r.end > r.start || weights.is_empty(), "{:?}", plan);
        at = r.end;
        let weight: u128 = weights[r.clone()].iter().map(|&w| u128::from(w)).sum();
        prop_assert!(
            weight * target_blocks <= total || r.len() == 1,
            "block {:?} weighs {} of {}",
            r,
            weight,
            total
        );
    }
    prop_assert_eq!(at, weights.len());
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn weighted_plans_keep_blocks_under_the_target(
        weights in vec_of(prop_oneof![20 => 1u64..100, 1 => 1u64..1_000_000_000])
    ) {
        check_weighted_plan(&weights)?;
    }
}

/// A very heavy item makes a block of its own, also through the attribute.
#[test]
fn a_heavy_item_makes_a_block_of_its_own() {
    let mut weights = vec![1u64; 999];
    weights.insert(500, 1_000_000);
    let plan = Plan::weighted(&weights);
    assert!(plan.ranges().any(|r| r == (500..501)), "{plan:?}");

    fn own(w: &u64) -> u64 {
        *w
    }
    #[parallelize(split = "ws", reduce = "concat", weights = own)]
    fn shards(ws: &[u64]) -> Vec<Vec<u64>> {
        vec![ws.to_vec()]
    }
    for (name, exec) in executors() {
        let got = exec.install(|| shards(&weights));
        assert!(
            got.contains(&vec![1_000_000]),
            "{name}: {} blocks",
            got.len()
        );
        assert_eq!(got.concat(), weights, "{name}");
    }
}

/// Zero-weight items before a heavy one do not join its block: the heavy
/// item is alone, as `Plan::weighted` documents.
#[test]
fn zero_weights_before_a_heavy_item() {
    check_weighted_plan(&[0, 100, 1, 1]).unwrap();
}

// ---------------------------------------------------------------------------
// ExactSum: the same sums as `reduce = "sum"`, for a caller's own loops
// ---------------------------------------------------------------------------

/// Each block's row of `rows` (a block per row), as `reduce = "sum"` adds
/// them.
#[parallelize(split = "rows", reduce = "sum", block_size = 1)]
fn row_total(rows: ArrayView2<'_, f64>) -> Array1<f64> {
    rows.row(0).to_owned()
}

proptest! {
    #[test]
    fn exact_sum_gives_the_bits_of_reduce_sum_in_any_order(
        rows in proptest::collection::vec(proptest::collection::vec(spread_f64(), 3), 1..40),
        split in 0usize..40,
    ) {
        let flat: Vec<f64> = rows.iter().flatten().copied().collect();
        let rows_array = Array2::from_shape_vec((rows.len(), 3), flat).unwrap();
        let want = same_on_every_executor(|| row_total(rows_array.view()), |r| bits64(r.as_slice().unwrap()))?;
        // Added backwards into two sums, then merged.
        let split = split.min(rows.len());
        let mut a = shardkit::ExactSum::new(3);
        let mut b = shardkit::ExactSum::new(3);
        for row in rows[..split].iter().rev() {
            a.add(row).unwrap();
        }
        for row in rows[split..].iter().rev() {
            b.add(row).unwrap();
        }
        b.merge(&a);
        prop_assert_eq!(bits64(&b.to_vec()), bits64(want.as_slice().unwrap()));
        let mut out = [0.0; 3];
        b.round_into(&mut out);
        prop_assert_eq!(bits64(&out), bits64(want.as_slice().unwrap()));
    }
}

#[test]
fn exact_sum_refuses_what_it_cannot_hold_and_keeps_its_sums() {
    let mut sum = shardkit::ExactSum::new(3);
    sum.add(&[1.0, 2.0, 3.0]).unwrap();
    let err = sum.add(&[5.0, f64::INFINITY, 1.0]).unwrap_err();
    assert_eq!((err.index, err.value), (1, f64::INFINITY));
    assert!(err.to_string().contains("element 1 is inf"), "{err}");
    let err = sum.add(&[0.0, 0.0, 2f64.powi(84)]).unwrap_err();
    assert_eq!(err.index, 2);
    // Nothing of the refused additions stayed.
    assert_eq!(sum.to_vec(), vec![1.0, 2.0, 3.0]);
    sum.add(&[0.0, 0.0, 2f64.powi(84).next_down()]).unwrap();
    assert_eq!(sum.len(), 3);
}
