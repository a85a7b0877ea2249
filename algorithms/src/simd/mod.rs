//! The vectorised kernels of the algorithms, and the one place that
//! chooses which instruction set they run with.
//!
//! # Levels
//!
//! - [`Level::Portable`]: the build target's baseline (SSE2 on x86-64; any
//!   other architecture), no fused multiply-add;
//! - [`Level::Avx2`]: AVX2 with FMA (and `popcnt`);
//! - [`Level::Avx512`]: AVX-512 F, BW, DQ and VL on top of the AVX2 level.
//!
//! The level is detected once per process, on the first kernel call, and
//! cached (one relaxed atomic load per call after that). The environment
//! variable **`SHARDKIT_SIMD`** lowers it, to compare the paths on one
//! machine: `SHARDKIT_SIMD=portable`, `=avx2` or `=avx512` (never above
//! what the CPU has; an unknown value is ignored with a warning on
//! standard error; an empty one is no value). It is read once, with the
//! detection.
//!
//! # One body, several compilations
//!
//! Most kernels are one generic `#[inline(always)]` body, written with
//! independent accumulator lanes (16 `f32` lanes: one AVX-512 register or
//! two AVX2 ones) so that LLVM vectorises it without reassociating floating
//! point, compiled once per level by [`dispatch!`](crate::simd::dispatch):
//! as is, inside `#[target_feature(enable = "avx2,fma,popcnt")]`, and
//! inside the AVX-512 features. The few kernels that LLVM does not
//! vectorise well (selection masks, the `f32` exponential with its
//! threshold split, the pruned E-step's dot products, the TV batches' dot
//! products) have explicit intrinsics per level.
//!
//! # Bits
//!
//! The portable level differs from the others in its last bits (no FMA).
//! The AVX-512 variants do the same operations, element by element and
//! lane by lane, as the AVX2 ones (an AVX-512 register holds the 16 `f32`
//! lanes, or the 8 `f64` lanes of a TV batch, that two AVX2 registers
//! hold; the lanes are combined in the same tree), so **AVX-512 and AVX2
//! give the same bits** in every kernel here; the unit tests check it.
//! Every level gives the same bits on any number of threads and ranks of
//! one machine.
//!
//! # Measured
//!
//! On a 2-core Xeon of the Sapphire Rapids class (AVX-512 with two FMA
//! units), interleaved runs of the examples with `SHARDKIT_SIMD=avx2` and
//! without (`measure_gmm_estep --threads 1`, `measure_tv --threads 1`,
//! `measure_kmeans --threads 1`), on a shared, noisy machine: the GMM
//! E-step's best runs about 5 % faster with the AVX-512 kernels (its two
//! GEMMs, faer's own AVX-512 kernels on every level, are about three
//! quarters of its time), a total-variability iteration about 11 % faster
//! (the batches' 8-lane entries in one register). The k-means kernels ran no
//! faster compiled for AVX-512, so that level runs their AVX2 code.
//!
//! # Why hand-rolled dispatch
//!
//! `pulp` (already in the tree through faer) dispatches to its own SIMD
//! types, whose AVX-512 level (`x86-v4`) is a cargo feature, and its
//! operations are not the ones the kernels are written in (16 accumulator
//! lanes, the same per-element arithmetic on every level): porting the
//! bodies to it would risk their bits for nothing. `multiversion` generates
//! the same clones and a cached dispatch as the [`dispatch!`] macro here,
//! through a proc-macro dependency, and it has no way to force a lower
//! level at run time. The macro is about 40 lines; the detection is one
//! cached `is_x86_feature_detected!` per feature.

#![deny(unsafe_op_in_unsafe_fn)]

pub(crate) mod batch;
pub(crate) mod convert;
pub(crate) mod cross;
pub(crate) mod exp;
pub(crate) mod kmeans;
pub(crate) mod pruned;
pub(crate) mod rows;
pub(crate) mod select;
pub(crate) mod tiles;

use std::sync::atomic::{AtomicU8, Ordering};

/// Asks the CPU to bring the cache line of `p` into L1: a hint, which
/// never faults whatever the address (nothing on other targets).
#[inline(always)]
pub(crate) fn prefetch(p: *const f64) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: a prefetch is a hint; it does not dereference the pointer.
    unsafe {
        std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T0 }>(p.cast());
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = p;
}

/// An instruction-set level of the kernels (see the module docs), in
/// increasing order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Level {
    /// Baseline instructions, no FMA.
    Portable = 0,
    /// AVX2 with FMA.
    Avx2 = 1,
    /// AVX-512 F/BW/DQ/VL with the AVX2 level.
    Avx512 = 2,
}

impl Level {
    /// The value of `SHARDKIT_SIMD` that selects this level.
    pub fn name(self) -> &'static str {
        match self {
            Level::Portable => "portable",
            Level::Avx2 => "avx2",
            Level::Avx512 => "avx512",
        }
    }

    fn from_u8(v: u8) -> Level {
        match v {
            2 => Level::Avx512,
            1 => Level::Avx2,
            _ => Level::Portable,
        }
    }
}

/// The environment variable that lowers the level.
pub const ENV: &str = "SHARDKIT_SIMD";

/// The level in use, `UNKNOWN` until the first call.
static LEVEL: AtomicU8 = AtomicU8::new(UNKNOWN);
const UNKNOWN: u8 = u8::MAX;

#[cfg(test)]
thread_local! {
    /// A level forced on this thread by [`at`] (tests only).
    static FORCED: std::cell::Cell<Option<Level>> = const { std::cell::Cell::new(None) };
}

/// The level the kernels run at: the CPU's, lowered by `SHARDKIT_SIMD`.
#[inline]
pub fn level() -> Level {
    #[cfg(test)]
    if let Some(forced) = FORCED.with(|f| f.get()) {
        return forced;
    }
    match LEVEL.load(Ordering::Relaxed) {
        UNKNOWN => init(),
        v => Level::from_u8(v),
    }
}

#[cold]
fn init() -> Level {
    let cpu = detected();
    let level = match std::env::var(ENV) {
        Ok(v) if v.trim().is_empty() => cpu,
        Ok(v) => match parse(&v) {
            Some(asked) => asked.min(cpu),
            None => {
                eprintln!(
                    "{ENV}={v:?} is not one of portable, avx2, avx512: using {}",
                    cpu.name()
                );
                cpu
            }
        },
        Err(_) => cpu,
    };
    LEVEL.store(level as u8, Ordering::Relaxed);
    level
}

fn parse(v: &str) -> Option<Level> {
    [Level::Portable, Level::Avx2, Level::Avx512]
        .into_iter()
        .find(|l| v.trim().eq_ignore_ascii_case(l.name()))
}

/// The highest level this CPU runs (the environment aside).
pub fn detected() -> Level {
    #[cfg(target_arch = "x86_64")]
    {
        let avx2 = is_x86_feature_detected!("avx2")
            && is_x86_feature_detected!("fma")
            && is_x86_feature_detected!("popcnt");
        let avx512 = is_x86_feature_detected!("avx512f")
            && is_x86_feature_detected!("avx512bw")
            && is_x86_feature_detected!("avx512dq")
            && is_x86_feature_detected!("avx512vl");
        if avx2 && avx512 {
            Level::Avx512
        } else if avx2 {
            Level::Avx2
        } else {
            Level::Portable
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        Level::Portable
    }
}

/// Runs `f` with the kernels of this thread forced to `level` (at most
/// the detected one), for the tests that compare the variants.
#[cfg(test)]
pub(crate) fn at<R>(level: Level, f: impl FnOnce() -> R) -> R {
    assert!(level <= detected(), "{level:?} is above this CPU");
    let old = FORCED.with(|c| c.replace(Some(level)));
    let out = f();
    FORCED.with(|c| c.set(old));
    out
}

/// The levels this CPU runs, lowest first (for the tests).
#[cfg(test)]
pub(crate) fn levels() -> Vec<Level> {
    [Level::Portable, Level::Avx2, Level::Avx512]
        .into_iter()
        .filter(|&l| l <= detected())
        .collect()
}

/// Defines a kernel compiled once per level and dispatched on [`level`]:
///
/// ```ignore
/// dispatch! {
///     /// Docs.
///     pub(crate) fn name(a: &[f32], b: f32) -> f32 {
///         portable => body::<false>(a, b),
///         avx2 => body::<true>(a, b),
///         avx512 => body::<true>(a, b),
///     }
/// }
/// ```
///
/// Each arm is the body of a function of the same signature compiled with
/// that level's target features (so `#[inline(always)]` bodies and the
/// level's intrinsics inline into it); on other architectures only the
/// portable arm exists. `avx512 => avx2` runs the AVX2 compile on the
/// AVX-512 level too, for kernels that AVX-512 does not speed up.
macro_rules! dispatch {
    (
        $(#[$attr:meta])*
        $vis:vis fn $name:ident($($arg:ident: $ty:ty),* $(,)?) $(-> $ret:ty)? {
            portable => $portable:expr,
            avx2 => $avx2:expr,
            avx512 => $($avx512:tt)+
        }
    ) => {
        $(#[$attr])*
        $vis fn $name($($arg: $ty),*) $(-> $ret)? {
            #[cfg(target_arch = "x86_64")]
            {
                #[target_feature(enable = "avx2,fma,popcnt")]
                fn avx2($($arg: $ty),*) $(-> $ret)? {
                    $avx2
                }
                match $crate::simd::level() {
                    $crate::simd::Level::Avx512 => {
                        return $crate::simd::dispatch!(@avx512 ($($arg: $ty),*) ($($ret)?) $($avx512)+);
                    }
                    // SAFETY: `level()` is at most the detected level, so
                    // the CPU has these features.
                    $crate::simd::Level::Avx2 => return unsafe { avx2($($arg),*) },
                    $crate::simd::Level::Portable => {}
                }
            }
            $portable
        }
    };
    // `avx512 => avx2`: a kernel whose AVX-512 compile measured no faster
    // than its AVX2 one runs the AVX2 code on the AVX-512 level too.
    (@avx512 ($($arg:ident: $ty:ty),*) ($($ret:ty)?) avx2 $(,)?) => {
        // SAFETY: the AVX-512 level includes the AVX2 one.
        unsafe { avx2($($arg),*) }
    };
    (@avx512 ($($arg:ident: $ty:ty),*) ($($ret:ty)?) $avx512:expr $(,)?) => {{
        #[target_feature(enable = "avx512f,avx512bw,avx512dq,avx512vl,avx2,fma,popcnt")]
        fn avx512($($arg: $ty),*) $(-> $ret)? {
            $avx512
        }
        // SAFETY: `level()` is at most the detected level, so the CPU has
        // these features.
        unsafe { avx512($($arg),*) }
    }};
}
pub(crate) use dispatch;

/// `a·b + c`, fused when `FMA` (the caller is compiled with FMA).
#[inline(always)]
pub(crate) fn madd<const FMA: bool>(a: f32, b: f32, c: f32) -> f32 {
    if FMA {
        a.mul_add(b, c)
    } else {
        a * b + c
    }
}

/// `a·b + c` in `f64`, fused when `FMA`.
#[inline(always)]
pub(crate) fn madd64<const FMA: bool>(a: f64, b: f64, c: f64) -> f64 {
    if FMA {
        a.mul_add(b, c)
    } else {
        a * b + c
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_parse_back_and_forcing_is_per_thread() {
        for l in [Level::Portable, Level::Avx2, Level::Avx512] {
            assert_eq!(parse(l.name()), Some(l));
            assert_eq!(parse(&l.name().to_uppercase()), Some(l));
        }
        assert_eq!(parse("sse"), None);
        let top = level();
        at(Level::Portable, || {
            assert_eq!(level(), Level::Portable);
            std::thread::spawn(move || assert_eq!(level(), top))
                .join()
                .unwrap();
        });
        assert_eq!(level(), top);
        assert!(levels().contains(&Level::Portable));
    }
}
