//! Partial results laid out as numbers, for exact, order-free combination.
//!
//! A `sum`, `min` or `max` result that can [`pack`](crate::Reduce::pack)
//! itself writes its structure (lengths, shapes) and its numbers into
//! [`Lanes`]. Sums are added as fixed-point integers (see `exact.rs`) and
//! minima and maxima compared as integer keys, so combining block results is
//! associative *and* commutative: the answer has the same bits whatever the
//! grouping — one thread, sixteen, or MPI ranks each with a pool. The exact
//! total is rounded to `f64` once, at the end.

use super::exact::{truncate_f64, FixedVec, Span, Wire, MAX_MAGNITUDE};

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

    /// Writes a slice of floating-point numbers under the current
    /// operation (as [`Lanes::f64s`], at the cost of a copy for sums).
    pub fn f64_slice(&mut self, xs: &[f64]) {
        match self.op {
            LaneOp::Sum => self.sum_f.extend_from_slice(xs),
            _ => self.f64s(xs.iter().copied()),
        }
    }

    /// Writes the floating-point numbers `xs` under the current operation,
    /// taking their buffer (as [`Lanes::f64_slice`], without the copy when
    /// they are the first summed numbers).
    pub fn f64_vec_owned(&mut self, xs: Vec<f64>) {
        match self.op {
            LaneOp::Sum if self.sum_f.is_empty() => self.sum_f = xs,
            _ => self.f64_slice(&xs),
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

    /// Reads `n` floating-point numbers, as `n` calls of [`Unlanes::f64`]
    /// would.
    pub fn f64_vec(&mut self, n: usize) -> Vec<f64> {
        match self.op {
            // All that is left (a lone array or Vec): the buffer itself.
            LaneOp::Sum if n == self.sum_f.len() => std::mem::take(&mut self.sum_f).collect(),
            LaneOp::Sum => {
                let rest = self.sum_f.as_slice();
                assert!(n <= rest.len(), "{SHORT}");
                let v = rest[..n].to_vec();
                if n > 0 {
                    self.sum_f.nth(n - 1);
                }
                v
            }
            _ => (0..n).map(|_| self.f64()).collect(),
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

/// The summed floating-point numbers of an [`Exact`].
///
/// A block's own numbers stay as they came ([`FloatSums::One`]) until a
/// second block's are added: converting them to fixed point would cost a
/// pass and an allocation of six words per number, which a rank holding
/// one block (and the MPI exchange, which packs straight from them) never
/// needs.
#[derive(Clone, Debug)]
enum FloatSums {
    /// One addend, every element accepted by [`FixedVec::add_f64_slice`]:
    /// its exact value is each element truncated toward zero at 2^-108.
    One(Vec<f64>),
    /// Exact sums of several addends.
    Many(FixedVec),
    /// The totals of all ranks, correctly rounded (after the MPI
    /// exchange): only read, never added to.
    Total(Vec<f64>),
}

impl FloatSums {
    fn len(&self) -> usize {
        match self {
            FloatSums::One(v) | FloatSums::Total(v) => v.len(),
            FloatSums::Many(f) => f.len(),
        }
    }

    /// The exact sums, as a [`FixedVec`] (converting one addend).
    fn fixed(&mut self) -> &mut FixedVec {
        if let FloatSums::One(xs) = self {
            let mut f = FixedVec::new(xs.len());
            f.add_f64_slice(xs)
                .expect("the numbers of one addend were checked when it was made");
            *self = FloatSums::Many(f);
        }
        match self {
            FloatSums::Many(f) => f,
            FloatSums::One(_) => unreachable!("converted above"),
            FloatSums::Total(_) => {
                unreachable!("shardkit: a combined total of all ranks is not added to")
            }
        }
    }

    /// Adds `other` in.
    fn add(&mut self, other: &FloatSums) {
        match other {
            FloatSums::One(xs) => {
                self.fixed()
                    .add_f64_slice(xs)
                    .expect("the numbers of one addend were checked when it was made");
            }
            FloatSums::Many(f) => self.fixed().add_assign(f),
            FloatSums::Total(_) => {
                unreachable!("shardkit: a combined total of all ranks is not added to")
            }
        }
    }

    /// Every sum correctly rounded to `f64`.
    fn to_f64_vec(&self) -> Vec<f64> {
        match self {
            // One addend's exact value is itself truncated at 2^-108, an
            // f64 (it has fewer significant bits): its own rounding.
            FloatSums::One(xs) => xs.iter().map(|&x| truncate_f64(x)).collect(),
            FloatSums::Many(f) => f.to_f64_vec(),
            FloatSums::Total(v) => v.clone(),
        }
    }

    /// Where the nonzero bits of the sums lie.
    fn span(&self) -> Span {
        match self {
            FloatSums::One(xs) => Span::of_f64s(xs),
            FloatSums::Many(f) => Span::of_fixed(f),
            FloatSums::Total(_) => unreachable!("shardkit: a combined total is not sent"),
        }
    }

    /// The sums in `wire`'s layout (see [`Wire`]).
    fn pack(&mut self, wire: Wire, out: &mut [i64]) {
        match self {
            FloatSums::One(xs) if wire != Wire::Limbs => wire.pack_f64s(xs, out),
            FloatSums::Total(_) => unreachable!("shardkit: a combined total is not sent"),
            _ => wire.pack_fixed(self.fixed(), out),
        }
    }
}

/// The exact combination of any number of [`Lanes`] with the same shape.
#[derive(Clone, Debug)]
pub(crate) struct Exact {
    op: LaneOp,
    shape: Vec<u64>,
    sum_f: FloatSums,
    sum_i: FixedVec,
    min: Vec<i128>,
    max: Vec<i128>,
}

impl Exact {
    /// The combination of one partial result.
    pub(crate) fn from_lanes(lanes: Lanes) -> Result<Exact, BadLane> {
        if let Some(lane) = lanes.sum_f.iter().position(|&x| !accepted(x)) {
            return Err(BadLane {
                lane,
                value: lanes.sum_f[lane],
            });
        }
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
            sum_f: FloatSums::One(lanes.sum_f),
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

    /// Whether `other` has the same structure: shape and numbers of each
    /// kind. (The counts are compared first: they differ whenever the
    /// shapes of arrays do, and cost nothing.)
    pub(crate) fn same_structure(&self, other: &Exact) -> bool {
        self.sum_f.len() == other.sum_f.len()
            && self.sum_i.len() == other.sum_i.len()
            && self.min.len() == other.min.len()
            && self.max.len() == other.max.len()
            && self.shape == other.shape
    }

    /// Adds `other` in. The caller checks that the shapes agree.
    pub(crate) fn add(&mut self, other: &Exact) {
        debug_assert_eq!(self.shape, other.shape);
        self.sum_f.add(&other.sum_f);
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
            sum_f: FloatSums::One(vec![0.0; n(0)]),
            sum_i: FixedVec::new(n(1)),
            min: vec![i128::MAX; n(2)],
            max: vec![i128::MIN; n(3)],
        }
    }

    /// Whether `self` and `other` hold the same shape and numbers.
    pub(crate) fn same_as(&self, other: &Exact) -> bool {
        let bits = |v: &FloatSums| {
            v.to_f64_vec()
                .iter()
                .map(|x| x.to_bits())
                .collect::<Vec<_>>()
        };
        self.same_structure(other)
            && self.min == other.min
            && self.max == other.max
            && bits(&self.sum_f) == bits(&other.sum_f)
            && (0..self.sum_i.len()).all(|i| self.sum_i.get_i128(i) == other.sum_i.get_i128(i))
    }

    /// Reads the combined numbers back, each sum rounded once.
    pub(crate) fn unlanes(&self) -> Unlanes {
        Unlanes {
            op: self.op,
            shape: self.shape.clone().into_iter(),
            sum_f: self.sum_f.to_f64_vec().into_iter(),
            sum_i: self.int_totals().into_iter(),
            min: self.min.clone().into_iter(),
            max: self.max.clone().into_iter(),
        }
    }

    /// The integer sums.
    fn int_totals(&self) -> Vec<i128> {
        (0..self.sum_i.len())
            .map(|i| {
                self.sum_i
                    .get_i128(i)
                    .expect("a sum of integers is an integer")
            })
            .collect()
    }

    /// As [`Exact::unlanes`], without copying what it can move.
    #[cfg_attr(not(feature = "mpi"), allow(dead_code))]
    pub(crate) fn into_unlanes(self) -> Unlanes {
        let sum_i = self.int_totals();
        let sum_f = match self.sum_f {
            FloatSums::Total(v) => v,
            FloatSums::One(mut xs) => {
                xs.iter_mut().for_each(|x| *x = truncate_f64(*x));
                xs
            }
            FloatSums::Many(f) => f.to_f64_vec(),
        };
        Unlanes {
            op: self.op,
            shape: self.shape.into_iter(),
            sum_f: sum_f.into_iter(),
            sum_i: sum_i.into_iter(),
            min: self.min.into_iter(),
            max: self.max.into_iter(),
        }
    }

    /// Where the nonzero bits of the floating-point sums lie (to agree on a
    /// [`Wire`] with the other ranks).
    #[cfg_attr(not(feature = "mpi"), allow(dead_code))]
    pub(crate) fn float_span(&self) -> Span {
        self.sum_f.span()
    }

    /// Replaces the sums with the totals of all ranks, which `all_reduce`
    /// (an `MPI_SUM` on int64 over every rank, all calling this with the
    /// same `wire`) adds: first the floating-point sums in `wire`'s layout
    /// followed by the integer sums as normalised limbs (six words each),
    /// written into `words` (a buffer kept from call to call saves touching
    /// fresh memory); then, for a [`Wire::Split`] that leaves some
    /// roundings open, their remainders. The bytes are
    /// [`sum_bytes`](super::exact::sum_bytes). The totals take the place of
    /// one addend's numbers, if that is what this result held.
    #[cfg_attr(not(feature = "mpi"), allow(dead_code))]
    pub(crate) fn reduce_sums(
        &mut self,
        wire: Wire,
        words: &mut Vec<i64>,
        mut all_reduce: impl FnMut(&mut [i64]),
    ) {
        let n = self.sum_f.len();
        let nf = n * wire.words_per_number();
        words.clear();
        words.resize(nf, 0);
        self.sum_f.pack(wire, words);
        words.extend_from_slice(&self.sum_i.normalized_words());
        if !words.is_empty() {
            all_reduce(words);
        }
        self.sum_i = FixedVec::from_words(words[nf..].to_vec());
        // The totals go where one addend's numbers were, if they were: the
        // numbers whose rounding is left open keep theirs until their
        // remainders are taken.
        let (mut totals, many) =
            match std::mem::replace(&mut self.sum_f, FloatSums::Total(Vec::new())) {
                FloatSums::One(xs) => (xs, None),
                other => (vec![0.0; n], Some(other)),
            };
        let open = wire.unpack(&words[..nf], &mut totals);
        if !open.is_empty() {
            let mut rests = vec![0i64; open.len()];
            match many {
                None => wire.remainders_f64s(&totals, &open, &mut rests),
                Some(mut other) => wire.remainders_fixed(other.fixed(), &open, &mut rests),
            }
            all_reduce(&mut rests);
            wire.finish(&words[..nf], &open, &rests, &mut totals);
        }
        self.sum_f = FloatSums::Total(totals);
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

/// Whether the exact sum accepts `x`: finite, |x| < 2^84.
#[inline]
fn accepted(x: f64) -> bool {
    x.abs() < MAX_MAGNITUDE
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

    /// `reduce_sums` on one rank (the all-reduce adds nothing) gives the
    /// numbers back, in each layout.
    #[test]
    fn words_round_trip() {
        let a = lanes(&[1.5, -2.25], -1.0, 4.0, 3);
        let (keys, layout) = a.key_words();
        assert_eq!((layout.mins, layout.maxs), (2, 2));
        let span = a.float_span();
        assert_eq!(span, Span { low: -2, high: 2 });
        let p = |k: i32| 2f64.powi(k);
        let mut seconds = 0;
        for (xs, words) in [
            (vec![1.5, -2.25], 1),
            (vec![p(61), 0.5], 1),
            // Split on 3 ranks: 2^-10 lies in the interval around 0 that
            // the first words leave open.
            (vec![p(70) + p(18), p(-10)], 1),
            (vec![p(80), p(-100)], 6),
        ] {
            for ranks in [1, 3] {
                let mut b = lanes(&xs, 0.0, 0.0, 1);
                let want = b.clone();
                let wire = Wire::choose(b.float_span(), ranks);
                assert_eq!(wire.words_per_number(), words, "{xs:?}");
                let mut buffer = Vec::new();
                let mut sizes = Vec::new();
                b.reduce_sums(wire, &mut buffer, |w| sizes.push(w.len()));
                assert_eq!(sizes[0], 2 * words + 6);
                assert!(sizes.len() == 1 || matches!(wire, Wire::Split { .. }));
                let opened = sizes.get(1).copied().unwrap_or(0);
                seconds += usize::from(opened > 0);
                let bytes: usize = 8 * sizes.iter().sum::<usize>();
                let span = want.float_span();
                assert_eq!(
                    bytes,
                    super::super::exact::sum_bytes(2, 1, span, ranks, opened)
                );
                b.set_key_words(&want.key_words().0);
                assert!(b.same_as(&want), "{xs:?} {ranks}");
            }
        }
        assert!(seconds >= 1, "a second exchange was made");
        let _ = keys;
    }

    #[test]
    fn one_addend_rounds_as_the_fixed_sum() {
        let p = |k: i32| 2f64.powi(k);
        let xs = [
            0.0,
            -0.0,
            1.0,
            -1.5,
            p(-108),
            -p(-108),
            p(-109),
            -p(-109),
            5e-324,
            p(-100) * (1.0 + p(-52)),
            -(p(-60) + p(-110)),
            p(83) * 1.75,
            0.1,
        ];
        let mut l = Lanes::new(LaneOp::Sum);
        l.f64s(xs.iter().copied());
        let one = Exact::from_lanes(l).unwrap();
        let mut fixed = FixedVec::new(xs.len());
        fixed.add_f64_slice(&xs).unwrap();
        let want: Vec<u64> = fixed.to_f64_vec().iter().map(|x| x.to_bits()).collect();
        let mut u = one.unlanes();
        let got: Vec<u64> = xs.iter().map(|_| u.f64().to_bits()).collect();
        assert_eq!(got, want);
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

#[cfg(test)]
mod timing {
    use super::*;
    use crate::reduce::Reduce;
    use ndarray::Array3;
    use std::hint::black_box;
    use std::time::Instant;

    /// Prints the shortest µs of each step of the exact sum of a 512 × 60 × 2 accumulator
    /// on one rank, as an MPI call takes them.
    #[test]
    #[ignore = "timing; run with --release -- --ignored --nocapture"]
    fn exact_sum_steps() {
        let part = Array3::from_shape_fn((512, 60, 2), |(m, d, k)| {
            ((m * 131 + d * 7 + k) as f64).sin() * 1e3
        });
        let reps = 300;
        let mut t = [f64::MAX; 8];
        // As in a call: the block's result, then its lanes.
        let mut words = Vec::new();
        for _ in 0..reps {
            let mut clock = Instant::now();
            let mut lap = |i: usize, t: &mut [f64; 8]| {
                t[i] = t[i].min(clock.elapsed().as_secs_f64());
                clock = Instant::now();
            };
            let value = black_box(black_box(&part).clone());
            lap(0, &mut t);
            let mut lanes = Lanes::new(LaneOp::Sum);
            assert!(black_box(value).pack_owned(&mut lanes));
            let lanes = black_box(lanes);
            lap(1, &mut t);
            let mut exact = black_box(Exact::from_lanes(lanes).unwrap());
            lap(2, &mut t);
            let span = black_box(exact.float_span());
            lap(3, &mut t);
            let wire = Wire::choose(span, 2);
            lap(4, &mut t);
            let mut n = 0;
            exact.reduce_sums(wire, &mut words, |w| n += black_box(w).len());
            black_box(&mut exact);
            lap(6, &mut t);
            black_box(n);
            let out: Array3<f64> = Reduce::unpack(&mut exact.into_unlanes());
            black_box(out);
            lap(7, &mut t);
        }
        let names = [
            "clone",
            "pack",
            "from_lanes",
            "span",
            "choose",
            "-",
            "reduce_sums",
            "unpack",
        ];
        for (n, t) in names.iter().zip(t) {
            println!("{n:>14} {:8.1} µs (shortest of {reps})", t * 1e6);
        }
    }
}
