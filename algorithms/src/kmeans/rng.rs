//! Seeded randomness with bits fixed by this file alone (no dependency's
//! version can change a fitted model).
//!
//! [`Rng`] is SplitMix64 (Steele, Lea and Flood, "Fast splittable
//! pseudorandom number generators", OOPSLA 2014): a 64-bit counter stepped
//! by the golden-ratio increment and passed through a bijective mixer.
//! [`point_uniform`] applies the same mixer to (seed, stream, point index),
//! so the draws made for a point do not depend on which thread or rank
//! visits it, nor in which order.

const GOLDEN: u64 = 0x9e37_79b9_7f4a_7c15;

/// SplitMix64's finaliser: a bijection of `u64` whose output bits each
/// depend on every input bit.
#[inline]
fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// A sequential generator for the draws made on the calling thread.
#[derive(Clone, Debug)]
pub(crate) struct Rng {
    state: u64,
}

impl Rng {
    /// A generator for `stream` (e.g. one per initialisation method) of `seed`.
    pub(crate) fn new(seed: u64, stream: u64) -> Self {
        Self {
            state: mix(seed ^ mix(stream.wrapping_add(GOLDEN))),
        }
    }

    pub(crate) fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(GOLDEN);
        mix(self.state)
    }

    /// Uniform in `[0, 1)`, with 53 random bits.
    pub(crate) fn uniform(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    /// A standard normal draw (Box–Muller, cosine branch).
    pub(crate) fn normal(&mut self) -> f64 {
        let u = 1.0 - self.uniform(); // in (0, 1]
        let v = self.uniform();
        (-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()
    }

    /// Uniform in `0..n` (`n > 0`), by the high half of a 128-bit product
    /// (bias below 2⁻⁶⁴·n, immaterial here).
    pub(crate) fn below(&mut self, n: usize) -> usize {
        ((u128::from(self.next_u64()) * n as u128) >> 64) as usize
    }
}

/// A uniform number in `(0, 1]` for point `index` in `stream` of `seed`:
/// the same for a point wherever and whenever it is drawn.
#[inline]
pub(crate) fn point_uniform(seed: u64, stream: u64, index: u64) -> f64 {
    let z =
        mix(mix(seed ^ mix(stream.wrapping_add(GOLDEN))).wrapping_add(index.wrapping_mul(GOLDEN)));
    ((z >> 11) + 1) as f64 * (1.0 / (1u64 << 53) as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uniform_ranges_and_spread() {
        let mut r = Rng::new(7, 1);
        let draws: Vec<f64> = (0..10_000).map(|_| r.uniform()).collect();
        assert!(draws.iter().all(|&u| (0.0..1.0).contains(&u)));
        let mean = draws.iter().sum::<f64>() / draws.len() as f64;
        assert!((mean - 0.5).abs() < 0.02, "{mean}");
        assert!((0..1000).all(|_| r.below(3) < 3));
        let p: Vec<f64> = (0..10_000).map(|i| point_uniform(3, 4, i)).collect();
        assert!(p.iter().all(|&u| u > 0.0 && u <= 1.0));
        let mean = p.iter().sum::<f64>() / p.len() as f64;
        assert!((mean - 0.5).abs() < 0.02, "{mean}");
    }

    #[test]
    fn streams_and_seeds_differ() {
        assert_ne!(Rng::new(1, 0).next_u64(), Rng::new(2, 0).next_u64());
        assert_ne!(Rng::new(1, 0).next_u64(), Rng::new(1, 1).next_u64());
        assert_ne!(point_uniform(1, 0, 5), point_uniform(1, 1, 5));
        assert_eq!(point_uniform(1, 0, 5), point_uniform(1, 0, 5));
    }
}
