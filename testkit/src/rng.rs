//! Seeded generators: [`Rng`] (splitmix64, the generators of the GMM data,
//! the speech corpus and the measurement programs) and [`XorShift`] (the UBM
//! tests' draws and [`sample_gmm`](crate::gmm::sample_gmm)).

/// splitmix64: a tiny, seeded, well-mixed generator.
///
/// ```
/// use shardkit_testkit::Rng;
///
/// let (mut a, mut b) = (Rng::new(7), Rng::new(7));
/// assert_eq!(a.next_u64(), b.next_u64());
/// assert!((0.0..1.0).contains(&a.uniform()));
/// ```
pub struct Rng(u64);

impl Rng {
    /// The generator whose state starts at `seed` (any value, 0 included).
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    pub fn uniform(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Uniform in `[lo, hi)`.
    pub fn range(&mut self, lo: f64, hi: f64) -> f64 {
        lo + (hi - lo) * self.uniform()
    }

    /// Uniform in `0..n`.
    pub fn below(&mut self, n: usize) -> usize {
        (self.uniform() * n as f64) as usize
    }

    /// Standard normal (Box-Muller).
    pub fn normal(&mut self) -> f64 {
        let u = 1.0 - self.uniform();
        let v = self.uniform();
        (-2.0 * u.ln()).sqrt() * (2.0 * std::f64::consts::PI * v).cos()
    }
}

/// A small seeded generator (xorshift) with normal deviates (Box-Muller):
/// the UBM tests' draws.
///
/// ```
/// use shardkit_testkit::XorShift;
///
/// let mut rng = XorShift(1);
/// let u = rng.uniform();
/// assert!(u > 0.0 && u < 1.0);
/// ```
pub struct XorShift(
    /// The state: any value but 0 (which stays 0).
    pub u64,
);

impl XorShift {
    /// Uniform in (0, 1): never exactly 0 or 1.
    pub fn uniform(&mut self) -> f64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        ((self.0 >> 11) as f64 + 0.5) / (1u64 << 53) as f64
    }

    /// Standard normal (Box-Muller).
    pub fn normal(&mut self) -> f64 {
        let (u, v) = (self.uniform(), self.uniform());
        (-2.0 * u.ln()).sqrt() * (2.0 * std::f64::consts::PI * v).cos()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The first draws are pinned: every test, example and measurement
    /// that uses these generators depends on them.
    #[test]
    fn the_streams_are_pinned() {
        let mut rng = Rng::new(0);
        assert_eq!(rng.next_u64(), 0xe220_a839_7b1d_cdaf);
        assert_eq!(rng.next_u64(), 0x6e78_9e6a_a1b9_65f4);
        let mut xs = XorShift(1);
        xs.uniform();
        assert_eq!(xs.0, 0x0000_0000_4082_2041);
    }

    #[test]
    fn draws_stay_in_their_ranges() {
        let mut rng = Rng::new(3);
        for _ in 0..10_000 {
            let u = rng.uniform();
            assert!((0.0..1.0).contains(&u));
            assert!((2.0..5.0).contains(&rng.range(2.0, 5.0)));
            assert!(rng.below(7) < 7);
            assert!(rng.normal().is_finite());
        }
        let mut xs = XorShift(9);
        for _ in 0..10_000 {
            let u = xs.uniform();
            assert!(u > 0.0 && u < 1.0);
            assert!(xs.normal().is_finite());
        }
    }
}
