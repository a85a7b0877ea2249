//! Partial results laid out as numbers, for exact, order-free combination.
//!
//! A `sum`, `min` or `max` result that can [`pack`](crate::Reduce::pack)
//! itself writes its structure (lengths, shapes) and its numbers into
//! [`Lanes`]. Sums are added as fixed-point integers (see `exact.rs`) and
//! minima and maxima compared as integer keys, so combining block results is
//! associative *and* commutative: the answer has the same bits whatever the
//! grouping — one thread, sixteen, or MPI ranks each with a pool. The exact
//! total is rounded to `f64` once, at the end.

use super::exact::{FixedVec, Unrepresentable};

/// How the numbers written under it combine.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LaneOp {
    /// Added (exactly).
    Sum,
    /// The smallest is kept.
    Min,
    /// The largest is kept.
    Max,
}

/// The numbers and structure of one partial result, written by
/// [`Reduce::pack`](crate::Reduce::pack).
#[derive(Debug)]
pub struct Lanes {
    op: LaneOp,
    shape: Vec<u64>,
    sum_f: Vec<f64>,
    sum_i: Vec<i128>,
    min: Vec<i128>,
    max: Vec<i128>,
}

impl Lanes {
    pub(crate) fn new(op: LaneOp) -> Lanes {
        Lanes {
            op,
            shape: Vec::new(),
            sum_f: Vec::new(),
            sum_i: Vec::new(),
            min: Vec::new(),
            max: Vec::new(),
        }
    }

    /// Records a length or a tag that must agree between partial results
    /// (a `Vec`'s length, an array's shape, whether an `Option` is `Some`).
    pub fn shape(&mut self, n: usize) {
        self.shape.push(n as u64);
    }

    /// Writes a floating-point number under the current operation.
    pub fn f64(&mut self, x: f64) {
        match self.op {
            LaneOp::Sum => self.sum_f.push(x),
            LaneOp::Min => self.min.push(float_key(x, LaneOp::Min)),
            LaneOp::Max => self.max.push(float_key(x, LaneOp::Max)),
        }
    }

    /// Writes many floating-point numbers under the current operation.
    pub fn f64s(&mut self, xs: impl IntoIterator<Item = f64>) {
        match self.op {
            LaneOp::Sum => self.sum_f.extend(xs),
            op => xs.into_iter().for_each(|x| self.push_key(float_key(x, op))),
        }
    }

    /// Writes an integer under the current operation.
    pub fn int(&mut self, x: i128) {
        match self.op {
            LaneOp::Sum => self.sum_i.push(x),
            LaneOp::Min => self.min.push(x),
            LaneOp::Max => self.max.push(x),
        }
    }

    fn push_key(&mut self, key: i128) {
        match self.op {
            LaneOp::Min => self.min.push(key),
            _ => self.max.push(key),
        }
    }

    /// Sets the operation of the numbers written next, returning the
    /// previous one (to restore it).
    pub fn set_op(&mut self, op: LaneOp) -> LaneOp {
        std::mem::replace(&mut self.op, op)
    }

    /// Writes what `f` writes under `op` (a `#[reduce(min)]` field, say).
    pub fn with_op<R>(&mut self, op: LaneOp, f: impl FnOnce(&mut Lanes) -> R) -> R {
        let outer = self.set_op(op);
        let r = f(self);
        self.set_op(outer);
        r
    }
}

/// Reads back what [`Lanes`] held, with the numbers combined; given to
/// [`Reduce::unpack`](crate::Reduce::unpack).
#[derive(Debug)]
pub struct Unlanes {
    op: LaneOp,
    shape: std::vec::IntoIter<u64>,
    sum_f: std::vec::IntoIter<f64>,
    sum_i: std::vec::IntoIter<i128>,
    min: std::vec::IntoIter<i128>,
    max: std::vec::IntoIter<i128>,
}

const SHORT: &str =
    "shardkit: `unpack` read more than `pack` wrote; the two must read and write the same lanes in the same order";

impl Unlanes {
    /// Reads a length or tag written by [`Lanes::shape`].
    pub fn shape(&mut self) -> usize {
        self.shape.next().expect(SHORT) as usize
    }

    /// Reads a floating-point number written by [`Lanes::f64`].
    pub fn f64(&mut self) -> f64 {
        match self.op {
            LaneOp::Sum => self.sum_f.next().expect(SHORT),
            LaneOp::Min => float_from_key(self.min.next().expect(SHORT), LaneOp::Min),
            LaneOp::Max => float_from_key(self.max.next().expect(SHORT), LaneOp::Max),
        }
    }

    /// Reads an integer written by [`Lanes::int`].
    pub fn int(&mut self) -> i128 {
        match self.op {
            LaneOp::Sum => self.sum_i.next().expect(SHORT),
            LaneOp::Min => self.min.next().expect(SHORT),
            LaneOp::Max => self.max.next().expect(SHORT),
        }
    }

    /// Sets the operation of the numbers read next, mirroring
    /// [`Lanes::set_op`].
    pub fn set_op(&mut self, op: LaneOp) -> LaneOp {
        std::mem::replace(&mut self.op, op)
    }

    /// Reads what `f` reads under `op`, mirroring [`Lanes::with_op`].
    pub fn with_op<R>(&mut self, op: LaneOp, f: impl FnOnce(&mut Unlanes) -> R) -> R {
        let outer = self.set_op(op);
        let r = f(self);
        self.set_op(outer);
        r
    }
}

/// An `f64` as an integer key whose order is the numbers' order, with
/// `-0.0 < +0.0` and NaN losing to every number (as `f64::min` / `f64::max`
/// do), so that the kept value does not depend on the order of comparison.
fn float_key(x: f64, op: LaneOp) -> i128 {
    if x.is_nan() {
        return match op {
            LaneOp::Min => i128::MAX,
            _ => i128::MIN,
        };
    }
    let bits = x.to_bits() as i64;
    // Negative floats order backwards in their bit patterns: flip them.
    let key = if bits < 0 { bits ^ i64::MAX } else { bits };
    i128::from(key)
}

fn float_from_key(key: i128, op: LaneOp) -> f64 {
    match (key, op) {
        (i128::MAX, LaneOp::Min) | (i128::MIN, LaneOp::Max) => f64::NAN,
        _ => {
            let key = key as i64;
            let bits = if key < 0 { key ^ i64::MAX } else { key };
            f64::from_bits(bits as u64)
        }
    }
}

/// A number in a partial result that the exact sum cannot hold.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct BadLane {
    /// Which summed floating-point lane (in `pack` order).
    pub(crate) lane: usize,
    pub(crate) value: f64,
}

/// The exact combination of any number of [`Lanes`] with the same shape.
#[derive(Clone, Debug)]
pub(crate) struct Exact {
    op: LaneOp,
    shape: Vec<u64>,
    sum_f: FixedVec,
    sum_i: FixedVec,
    min: Vec<i128>,
    max: Vec<i128>,
}

impl Exact {
    /// The combination of one partial result.
    pub(crate) fn from_lanes(lanes: Lanes) -> Result<Exact, BadLane> {
        let mut sum_f = FixedVec::new(lanes.sum_f.len());
        sum_f
            .add_f64_slice(&lanes.sum_f)
            .map_err(|(lane, Unrepresentable { value })| BadLane { lane, value })?;
        let mut sum_i = FixedVec::new(lanes.sum_i.len());
        for (i, &x) in lanes.sum_i.iter().enumerate() {
            sum_i.add_i128(i, x).map_err(|_| BadLane {
                lane: i,
                value: x as f64,
            })?;
        }
        Ok(Exact {
            op: lanes.op,
            shape: lanes.shape,
            sum_f,
            sum_i,
            min: lanes.min,
            max: lanes.max,
        })
    }

    /// How these lanes combine at the top level.
    #[cfg_attr(not(feature = "mpi"), allow(dead_code))]
    pub(crate) fn op(&self) -> LaneOp {
        self.op
    }

    /// The structure both sides must share, for error messages.
    pub(crate) fn shape(&self) -> &[u64] {
        &self.shape
    }

    /// Adds `other` in. The caller checks that the shapes agree.
    pub(crate) fn add(&mut self, other: &Exact) {
        debug_assert_eq!(self.shape, other.shape);
        self.sum_f.add_assign(&other.sum_f);
        self.sum_i.add_assign(&other.sum_i);
        for (a, &b) in self.min.iter_mut().zip(&other.min) {
            *a = (*a).min(b);
        }
        for (a, &b) in self.max.iter_mut().zip(&other.max) {
            *a = (*a).max(b);
        }
    }

    /// The structure of this result: its shape, then how many numbers of
    /// each kind it holds. Enough to build a neutral result of the same
    /// structure on an MPI rank that has none.
    #[cfg_attr(not(feature = "mpi"), allow(dead_code))]
    pub(crate) fn description(&self) -> Vec<u64> {
        let mut d = vec![
            self.sum_f.len() as u64,
            self.sum_i.len() as u64,
            self.min.len() as u64,
            self.max.len() as u64,
        ];
        d.extend_from_slice(&self.shape);
        d
    }

    /// A digest of [`Exact::description`], to compare across ranks.
    #[cfg_attr(not(feature = "mpi"), allow(dead_code))]
    pub(crate) fn digest(&self) -> u64 {
        self.description()
            .iter()
            .fold(0xcbf2_9ce4_8422_2325u64, |h, &x| {
                (h ^ x).wrapping_mul(0x0100_0000_01b3)
            })
    }

    /// The neutral result with the structure `description`: zero sums,
    /// minimum keys that lose to every number, maximum keys likewise.
    #[cfg_attr(not(feature = "mpi"), allow(dead_code))]
    pub(crate) fn neutral(op: LaneOp, description: &[u64]) -> Exact {
        let n = |i: usize| description[i] as usize;
        Exact {
            op,
            shape: description[4..].to_vec(),
            sum_f: FixedVec::new(n(0)),
            sum_i: FixedVec::new(n(1)),
            min: vec![i128::MAX; n(2)],
            max: vec![i128::MIN; n(3)],
        }
    }

    /// Whether `self` and `other` hold the same shape and numbers.
    pub(crate) fn same_as(&self, other: &Exact) -> bool {
        let bits = |v: &FixedVec| {
            v.to_f64_vec()
                .iter()
                .map(|x| x.to_bits())
                .collect::<Vec<_>>()
        };
        self.shape == other.shape
            && self.min == other.min
            && self.max == other.max
            && bits(&self.sum_f) == bits(&other.sum_f)
            && (0..self.sum_i.len()).all(|i| self.sum_i.get_i128(i) == other.sum_i.get_i128(i))
    }

    /// Reads the combined numbers back, each sum rounded once.
    pub(crate) fn unlanes(&self) -> Unlanes {
        let sum_i: Vec<i128> = (0..self.sum_i.len())
            .map(|i| {
                self.sum_i
                    .get_i128(i)
                    .expect("a sum of integers is an integer")
            })
            .collect();
        Unlanes {
            op: self.op,
            shape: self.shape.clone().into_iter(),
            sum_f: self.sum_f.to_f64_vec().into_iter(),
            sum_i: sum_i.into_iter(),
            min: self.min.clone().into_iter(),
            max: self.max.clone().into_iter(),
        }
    }

    /// How many 64-bit words travel in an MPI reduction of this result.
    #[cfg_attr(not(feature = "mpi"), allow(dead_code))]
    pub(crate) fn word_count(&self) -> usize {
        self.sum_f.words().len() + self.sum_i.words().len() + 2 * (self.min.len() + self.max.len())
    }

    /// The words of the sums (floating-point, then integer), normalised so
    /// that MPI's own `MPI_SUM` on int64 can add those of up to 2^30 ranks
    /// in place.
    #[cfg_attr(not(feature = "mpi"), allow(dead_code))]
    pub(crate) fn sum_words_mut(&mut self) -> [&mut [i64]; 2] {
        self.sum_f.normalize();
        self.sum_i.normalize();
        [self.sum_f.words_mut(), self.sum_i.words_mut()]
    }

    /// The minimum keys, then the maximum keys, as two words each (high,
    /// low), for an MPI reduction.
    #[cfg_attr(not(feature = "mpi"), allow(dead_code))]
    pub(crate) fn key_words(&self) -> (Vec<i64>, WordLayout) {
        let mut words = Vec::with_capacity(2 * (self.min.len() + self.max.len()));
        for &k in self.min.iter().chain(&self.max) {
            words.push((k >> 64) as i64);
            words.push(k as i64);
        }
        let layout = WordLayout {
            mins: 2 * self.min.len(),
            maxs: 2 * self.max.len(),
        };
        (words, layout)
    }

    /// Replaces the keys with reduced words from [`Exact::key_words`].
    #[cfg_attr(not(feature = "mpi"), allow(dead_code))]
    pub(crate) fn set_key_words(&mut self, words: &[i64]) {
        let mut keys = words
            .chunks_exact(2)
            .map(|w| (i128::from(w[0]) << 64) | i128::from(w[1] as u64));
        for k in self.min.iter_mut().chain(self.max.iter_mut()) {
            *k = keys.next().expect("a key per minimum and maximum");
        }
    }
}

/// Where the sections of the words of an MPI reduction are.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(not(feature = "mpi"), allow(dead_code))]
pub(crate) struct WordLayout {
    /// Words of minimum keys (pairs: high, low).
    pub(crate) mins: usize,
    /// Words of maximum keys (pairs: high, low).
    pub(crate) maxs: usize,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn float_keys_order_like_the_numbers() {
        let xs = [
            f64::NEG_INFINITY,
            -1e300,
            -1.0,
            -f64::MIN_POSITIVE,
            -0.0,
            0.0,
            5e-324,
            1.0,
            2.5,
            f64::INFINITY,
        ];
        for w in xs.windows(2) {
            assert!(
                float_key(w[0], LaneOp::Min) < float_key(w[1], LaneOp::Min),
                "{w:?}"
            );
        }
        for &x in &xs {
            for op in [LaneOp::Min, LaneOp::Max] {
                assert_eq!(float_from_key(float_key(x, op), op).to_bits(), x.to_bits());
            }
        }
        assert!(float_key(f64::NAN, LaneOp::Min) > float_key(f64::INFINITY, LaneOp::Min));
        assert!(float_key(f64::NAN, LaneOp::Max) < float_key(f64::NEG_INFINITY, LaneOp::Max));
        assert!(float_from_key(float_key(f64::NAN, LaneOp::Max), LaneOp::Max).is_nan());
    }

    fn lanes(sum: &[f64], lo: f64, hi: f64, n: i128) -> Exact {
        let mut l = Lanes::new(LaneOp::Sum);
        l.shape(sum.len());
        l.f64s(sum.iter().copied());
        l.int(n);
        l.with_op(LaneOp::Min, |l| l.f64(lo));
        l.with_op(LaneOp::Max, |l| l.f64(hi));
        Exact::from_lanes(l).unwrap()
    }

    #[test]
    fn exact_combination_is_order_free() {
        let parts = [
            lanes(&[1e16, 0.1], 3.0, -0.0, 7),
            lanes(&[1.0, 0.2], -2.0, 0.0, -2),
            lanes(&[-1e16, 0.3], 0.0, 9.5, 1),
        ];
        let mut forward = parts[0].clone();
        forward.add(&parts[1]);
        forward.add(&parts[2]);
        let mut backward = parts[2].clone();
        backward.add(&parts[1]);
        backward.add(&parts[0]);
        for exact in [forward, backward] {
            let mut u = exact.unlanes();
            assert_eq!(u.shape(), 2);
            assert_eq!(u.f64(), 1.0, "1e16 + 1 - 1e16 is exact");
            // The exact 0.1 + 0.2 + 0.3 of the binary values rounds to 0.6 (a left
            // fold in f64 gives 0.6000000000000001).
            assert_eq!(u.f64(), 0.6);
            assert_eq!(u.int(), 6);
            assert_eq!(u.with_op(LaneOp::Min, |u| u.f64()), -2.0);
            assert_eq!(u.with_op(LaneOp::Max, |u| u.f64()), 9.5);
        }
    }

    #[test]
    fn words_round_trip() {
        let mut a = lanes(&[1.5, -2.25], -1.0, 4.0, 3);
        let (keys, layout) = a.key_words();
        assert_eq!((layout.mins, layout.maxs), (2, 2));
        let sums: Vec<Vec<i64>> = a.sum_words_mut().iter().map(|w| w.to_vec()).collect();
        assert_eq!(a.word_count(), sums[0].len() + sums[1].len() + keys.len());
        let mut b = lanes(&[0.0, 0.0], 0.0, 0.0, 0);
        for (to, from) in b.sum_words_mut().into_iter().zip(&sums) {
            to.copy_from_slice(from);
        }
        b.set_key_words(&keys);
        assert!(b.same_as(&a));
    }

    #[test]
    fn unrepresentable_values_name_their_lane() {
        let mut l = Lanes::new(LaneOp::Sum);
        l.f64s([1.0, f64::NAN]);
        let err = Exact::from_lanes(l).unwrap_err();
        assert_eq!(err.lane, 1);
        assert!(err.value.is_nan());
    }
}
