//! The shapes the attribute accepts: methods taking `&self`, generic
//! functions, derived accumulators of tuple and generic structs, `crate =
//! "..."` for a re-export of shardkit, and `mut` split bindings.

mod common;

use common::{executors, threads};
use shardkit::parallelize;

// ---------------------------------------------------------------------------
// Methods and generics
// ---------------------------------------------------------------------------

struct Scaler {
    factor: f64,
    offsets: Vec<f64>,
}

impl Scaler {
    #[parallelize(split = "xs", reduce = "sum")]
    fn scaled_sum(&self, xs: &[f64]) -> f64 {
        xs.iter().map(|x| x * self.factor + self.offsets[0]).sum()
    }

    #[parallelize(split = "xs", reduce = "concat")]
    fn scaled(&self, xs: &[f64], extra: f64) -> Vec<f64> {
        xs.iter().map(|x| x * self.factor + extra).collect()
    }
}

#[test]
fn method_taking_self_by_reference() {
    let s = Scaler {
        factor: 2.0,
        offsets: vec![1.0],
    };
    let xs: Vec<f64> = (0..300).map(f64::from).collect();
    for (name, exec) in executors() {
        exec.install(|| {
            assert_eq!(s.scaled_sum(&xs), 300.0 * 299.0 + 300.0, "{name}");
            let want: Vec<f64> = xs.iter().map(|x| x * 2.0 + 0.5).collect();
            assert_eq!(s.scaled(&xs, 0.5), want, "{name}");
        });
    }
}

#[parallelize(split = "xs", reduce = "sum")]
fn total_as_f64<T: Copy + Into<f64> + Sync>(xs: &[T]) -> f64 {
    xs.iter().map(|&x| x.into()).sum()
}

#[test]
fn generic_function() {
    let bytes: Vec<u8> = (0..=255).collect();
    let halves: Vec<f32> = (0..400).map(|i| i as f32 * 0.5).collect();
    let negatives: Vec<i32> = (-300..0).collect();
    for (name, exec) in executors() {
        exec.install(|| {
            assert_eq!(total_as_f64(&bytes), 32640.0, "{name}");
            assert_eq!(total_as_f64(&halves), 39900.0, "{name}");
            assert_eq!(total_as_f64(&negatives), -45150.0, "{name}");
            assert_eq!(total_as_f64::<u8>(&[]), 0.0, "{name}");
        });
    }
}

// ---------------------------------------------------------------------------
// `#[derive(Reduce)]` shapes, `crate = ...`, `mut` split bindings
// ---------------------------------------------------------------------------

#[derive(shardkit::Reduce, Debug, PartialEq)]
struct CountAndPeak(u64, #[reduce(max)] Option<i64>);

#[derive(shardkit::Reduce, Debug, PartialEq)]
struct Span<T> {
    #[reduce(min)]
    low: T,
    #[reduce(max)]
    high: T,
    #[reduce(sum)]
    total: T,
}

#[test]
fn derived_tuple_and_generic_structs() {
    #[parallelize(split = "xs", reduce = "sum")]
    fn count_and_peak(xs: &[i64]) -> CountAndPeak {
        CountAndPeak(xs.len() as u64, xs.iter().copied().max())
    }
    #[parallelize(split = "xs", reduce = "sum")]
    fn span(xs: &[i64]) -> Span<i64> {
        Span {
            low: xs.iter().copied().min().unwrap_or(i64::MAX),
            high: xs.iter().copied().max().unwrap_or(i64::MIN),
            total: xs.iter().sum(),
        }
    }
    let xs: Vec<i64> = (0..700).map(|i| (i * 37 % 101) - 50).collect();
    for (name, exec) in executors() {
        exec.install(|| {
            assert_eq!(count_and_peak(&xs), CountAndPeak(700, Some(50)), "{name}");
            assert_eq!(count_and_peak(&[]), CountAndPeak(0, None), "{name}");
            let want = Span {
                low: -50,
                high: 50,
                total: xs.iter().sum(),
            };
            assert_eq!(span(&xs), want, "{name}");
        });
    }
}

/// A crate that re-exports shardkit names it with `crate = "..."`.
mod reexport {
    // `pub`, as a library that re-exports shardkit would write it.
    #[allow(unreachable_pub)]
    pub use shardkit;
}

#[derive(reexport::shardkit::Reduce, Debug, PartialEq)]
#[reduce(crate = "crate::reexport::shardkit")]
struct Tally {
    n: usize,
}

#[reexport::shardkit::parallelize(
    split = "xs",
    reduce = "sum",
    crate = "crate::reexport::shardkit"
)]
fn tally(xs: &[u8]) -> Tally {
    Tally { n: xs.len() }
}

#[test]
fn crate_key_names_a_reexport() {
    assert_eq!(threads(3).install(|| tally(&[0; 321])), Tally { n: 321 });
}

#[test]
fn mut_split_binding_is_per_shard() {
    #[parallelize(split = "xs", reduce = "concat", block_size = 3)]
    fn sorted_blocks(mut xs: Vec<u32>) -> Vec<u32> {
        xs.sort_unstable();
        xs
    }
    let xs = vec![9, 2, 1, 6, 5, 4, 8, 7];
    for (name, exec) in executors() {
        assert_eq!(
            exec.install(|| sorted_blocks(xs.clone())),
            [1, 2, 9, 4, 5, 6, 7, 8],
            "{name}"
        );
    }
}
