//! Reproducible summation: `f64` values as fixed-point integers.
//!
//! Block results are summed on threads and across MPI ranks in whatever
//! grouping the executor happens to use; floating-point addition would make
//! the bits of the total depend on that grouping. Here every addend is
//! converted to an integer multiple of 2^-[`FRAC_BITS`] (a *fixed* binary
//! point, not one chosen from the data), the integers are added — integer
//! addition is associative and commutative, so any grouping gives the same
//! integer — and the exact total is rounded to `f64` once, at the end.
//!
//! # Representation
//!
//! A number is [`LIMBS`] signed `i64` limbs; limb `i` has weight
//! 2^(32·i − [`FRAC_BITS`]), so limb 0 is worth 2^-108 and the top limb
//! 2^52. Limbs are added one by one with plain `i64` addition (which is also
//! what `MPI_SUM` on `MPI_INT64_T` does), without carrying. *Normalising*
//! propagates the carries so that every limb but the top one is in
//! `[0, 2^32)` and the top limb carries the sign; the value is unchanged.
//!
//! # Range and headroom
//!
//! One addend must satisfy |x| < [`MAX_MAGNITUDE`] = 2^[`MAX_EXP`] = 2^84;
//! bits of x below 2^-108 are dropped (truncation toward zero). 84 =
//! 32·6 − 108 is exactly the range in which *every* limb of a converted
//! addend has |limb| < 2^32, whatever its sign. Hence:
//!
//! * Lower limbs (0..5): after normalisation they are in `[0, 2^32)`, and a
//!   converted addend contributes less than 2^32 in magnitude to each, so
//!   after `k` additions since the last normalisation |limb| < (k + 1)·2^32.
//!   With `k` ≤ [`ADD_LIMIT`] = 2^30 that is below 2^62 + 2^32 < 2^63.
//!   Callers of [`Fixed::add`] must normalise at least that often;
//!   [`FixedVec`] does it by itself.
//! * Top limb: it is not reduced by normalisation, it simply holds
//!   ⌊value / 2^52⌋. When numbers that are each a (normalised or freshly
//!   converted) sum of some of the addends are added, the top limbs add up to
//!   at most Σ|xᵢ| / 2^52 plus one per operand. For a total of at most 2^30
//!   addends per number — counted over all threads, blocks and ranks
//!   together — Σ|xᵢ| < 2^30 · 2^84 = 2^114, so the top limb stays below
//!   2^62 + 2^31 < 2^63 in *any* grouping, and the exact total
//!   (|total| < 2^114) is always representable. 2^85 would already allow the
//!   top limb to reach 2^63, so 2^84 is the largest power-of-two bound that is
//!   safe for 2^30 addends.
//!
//! Rounding the final value ([`Fixed::to_f64`]) is correct (to nearest,
//! ties to even) for any limbs, normalised or not. Every nonzero value is at
//! least 2^-108 and below 2^116 in magnitude, so the result is always a
//! normal `f64`: there is no subnormal or overflow case. An integer has no
//! negative zero: a zero total is `+0.0`, even if every addend was `-0.0`
//! (where IEEE addition, and `Iterator::sum` of nothing, give `-0.0`).

use std::fmt;

/// Number of `i64` limbs per number.
pub(crate) const LIMBS: usize = 6;

/// Position of the binary point: limb 0 is worth 2^-`FRAC_BITS`, which is the
/// resolution of the representation.
pub(crate) const FRAC_BITS: u32 = 108;

/// Bits of payload per limb (the weight ratio of neighbouring limbs).
const LIMB_BITS: u32 = 32;

/// Mask of a limb's payload.
const LIMB_MASK: u64 = (1 << LIMB_BITS) - 1;

/// Binary exponent bound for one addend: |x| < 2^`MAX_EXP`. It equals the
/// payload width `32 · LIMBS` minus `FRAC_BITS`, so that every limb of one
/// converted addend is below 2^32 in magnitude (see the module docs for why
/// sums of 2^30 such addends cannot overflow).
pub(crate) const MAX_EXP: i32 = (LIMB_BITS * LIMBS as u32 - FRAC_BITS) as i32;

/// The smallest magnitude that one addend may *not* have: 2^84. Finite
/// addends with |x| < `MAX_MAGNITUDE` are accepted; at most 2^30 of them may
/// contribute to one sum (see the module docs).
pub(crate) const MAX_MAGNITUDE: f64 = 19_342_813_113_834_066_795_298_816.0;

/// How many additions may accumulate on top of a normalised number before it
/// must be normalised again: 2^30, which keeps the lower limbs below 2^63.
pub(crate) const ADD_LIMIT: u32 = 1 << 30;

/// Number of explicit mantissa bits of an `f64`.
const MANT_BITS: u32 = 52;

/// Mask of the explicit mantissa bits of an `f64`.
const MANT_MASK: u64 = (1 << MANT_BITS) - 1;

/// The implicit leading mantissa bit of a normal `f64`.
const HIDDEN_BIT: u64 = 1 << MANT_BITS;

/// Mask of the (shifted down) biased exponent field of an `f64`.
const EXP_FIELD: u64 = 0x7ff;

/// The exponent bias of `f64`.
const EXP_BIAS: u64 = 1023;

/// Biased exponents from this one up (which includes NaN and infinities)
/// mean |x| >= 2^`MAX_EXP`: rejected.
const EXP_TOO_BIG: u64 = EXP_BIAS + MAX_EXP as u64;

/// Biased exponents below this one mean |x| < 2^-`FRAC_BITS` (zeros and
/// subnormals included): such values truncate to zero.
const EXP_MIN_NONZERO: u64 = EXP_BIAS - FRAC_BITS as u64;

/// A normal `f64` with biased exponent `e` and 53-bit integer mantissa `m`
/// is `m · 2^(e − 1075)`, i.e. `m · 2^(e − SHIFT_BIAS)` units of 2^-108. The
/// conversion works in a window padded by 64 bits below the resolution (so
/// that the shift is never negative); this is the exponent that maps to a
/// shift of zero in that padded window.
const PADDED_SHIFT_BIAS: u64 = EXP_BIAS + MANT_BITS as u64 - FRAC_BITS as u64 - 64;

/// Limb holding the units bit (2^0) of a number.
const INT_LIMB: usize = (FRAC_BITS / LIMB_BITS) as usize;

/// Bit position of 2^0 inside limb `INT_LIMB`.
const INT_SHIFT: u32 = FRAC_BITS % LIMB_BITS;

// The bit-twiddling below is written for this layout.
const _: () = assert!(LIMBS == 6 && LIMB_BITS == 32);
const _: () = assert!(MAX_EXP == 84 && INT_LIMB + 2 == LIMBS - 1);
const _: () = assert!(EXP_MIN_NONZERO == 915 && EXP_TOO_BIG == 1107);
// The padded window is 256 bits, of which the top 192 are the limbs; the
// largest accepted addend has its top bit at 64 + 191.
const _: () = assert!(EXP_TOO_BIG - 1 - PADDED_SHIFT_BIAS + MANT_BITS as u64 == 64 + 191);
const _: () = assert!(EXP_MIN_NONZERO - PADDED_SHIFT_BIAS + MANT_BITS as u64 == 64);
const _: () = assert!((ADD_LIMIT as i128 + 2) * (1 << LIMB_BITS) < i64::MAX as i128);

/// A value that cannot be accumulated: NaN, ±infinity, or a magnitude of at
/// least [`MAX_MAGNITUDE`]. (For an integer addend, `value` is the integer
/// rounded to `f64`.)
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Unrepresentable {
    /// The offending value.
    pub(crate) value: f64,
}

impl fmt::Display for Unrepresentable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{:e} cannot be summed exactly: only finite values of magnitude below 2^{MAX_EXP} are accepted",
            self.value
        )
    }
}

impl std::error::Error for Unrepresentable {}

/// One exact fixed-point number: an integer multiple of 2^-[`FRAC_BITS`],
/// held as [`LIMBS`] signed limbs (see the module docs).
///
/// The derived equality compares limbs, so two equal values compare equal
/// only once both are normalised (the normalised form is unique).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub(crate) struct Fixed {
    /// Limb `i` has weight 2^(32·i − `FRAC_BITS`).
    limbs: [i64; LIMBS],
}

// Some conversions serve only the tests and future callers.
#[cfg_attr(not(test), allow(dead_code))]
impl Fixed {
    /// Converts `x` exactly, truncated toward zero to a multiple of 2^-108
    /// (bits below the resolution are dropped, so |x| < 2^-108 — subnormals
    /// included — gives zero). Both zeros give zero. NaN, ±infinity and
    /// |x| >= [`MAX_MAGNITUDE`] are refused.
    ///
    /// Every limb of the result is below 2^32 in magnitude (negative values
    /// have all limbs ≤ 0), so it is ready to be added.
    #[inline]
    pub(crate) fn from_f64(x: f64) -> Result<Fixed, Unrepresentable> {
        let bits = x.to_bits();
        if (bits >> MANT_BITS) & EXP_FIELD >= EXP_TOO_BIG {
            return Err(Unrepresentable { value: x });
        }
        let mut f = Fixed::default();
        add_bits(&mut f.limbs, bits, 0);
        Ok(f)
    }

    /// Converts an integer exactly; |x| >= [`MAX_MAGNITUDE`] is refused (the
    /// error holds `x` rounded to `f64`).
    pub(crate) fn from_i128(x: i128) -> Result<Fixed, Unrepresentable> {
        let mag = x.unsigned_abs();
        if mag >> MAX_EXP != 0 {
            return Err(Unrepresentable { value: x as f64 });
        }
        // mag · 2^108 occupies bits 108..192: limbs 3, 4 and 5.
        let neg = -i64::from(x < 0);
        let mut limbs = [0i64; LIMBS];
        let chunks = [
            (mag << INT_SHIFT) as u64 & LIMB_MASK,
            (mag >> (LIMB_BITS - INT_SHIFT)) as u64 & LIMB_MASK,
            (mag >> (2 * LIMB_BITS - INT_SHIFT)) as u64 & LIMB_MASK,
        ];
        for (limb, chunk) in limbs[INT_LIMB..].iter_mut().zip(chunks) {
            *limb = (chunk as i64 ^ neg) - neg;
        }
        Ok(Fixed { limbs })
    }

    /// Adds `other` limb by limb with plain `i64` additions, without carrying.
    ///
    /// The caller must normalise at least every [`ADD_LIMIT`] additions and
    /// keep to the addend budget of the module docs; then no limb overflows.
    #[inline]
    pub(crate) fn add(&mut self, other: &Fixed) {
        for (a, b) in self.limbs.iter_mut().zip(&other.limbs) {
            *a += b;
        }
    }

    /// Propagates carries so that limbs 0..5 are in `[0, 2^32)` and the top
    /// limb holds the sign (and the rest of the value). The value is
    /// unchanged.
    #[inline]
    pub(crate) fn normalize(&mut self) {
        normalize_limbs(&mut self.limbs);
    }

    /// The exact value rounded to the nearest `f64`, ties to even, from any
    /// limbs (normalised or not). Zero is `+0.0`.
    // `&self` as specified for callers (e.g. `.map(Fixed::to_f64)` over
    // references), although `Fixed` is `Copy`.
    #[allow(clippy::wrong_self_convention)]
    pub(crate) fn to_f64(&self) -> f64 {
        limbs_to_f64(&self.limbs)
    }

    /// The value as an integer, or `None` if it has a fractional part. (Every
    /// integer value of a `Fixed` fits an `i128`: |value| < 2^116.)
    // `&self` as specified for callers (e.g. `.map(Fixed::to_i128)` over
    // references), although `Fixed` is `Copy`.
    #[allow(clippy::wrong_self_convention)]
    pub(crate) fn to_i128(&self) -> Option<i128> {
        limbs_to_i128(&self.limbs)
    }

    /// The raw limbs, e.g. to send them to another MPI rank.
    pub(crate) fn limbs(&self) -> &[i64; LIMBS] {
        &self.limbs
    }

    /// A number from raw limbs, e.g. received from another MPI rank.
    pub(crate) fn from_limbs(limbs: [i64; LIMBS]) -> Fixed {
        Fixed { limbs }
    }
}

/// Many [`Fixed`] numbers stored contiguously ([`LIMBS`] words each): an
/// exact accumulator for a whole vector of `f64` sums. It counts additions
/// and normalises by itself before the headroom of the lower limbs runs out.
/// The default is the empty vector.
#[derive(Clone, Debug, Default)]
pub(crate) struct FixedVec {
    /// `LIMBS` words per number, number `i` at `i * LIMBS`.
    limbs: Vec<i64>,
    /// Additions since the last normalisation (an upper bound; the lower
    /// limbs are below `(adds_since_normalize + 1) · 2^32` in magnitude).
    adds_since_normalize: u32,
}

#[cfg_attr(not(test), allow(dead_code))]
impl FixedVec {
    /// `n` zeros.
    pub(crate) fn new(n: usize) -> FixedVec {
        FixedVec {
            limbs: vec![0; n * LIMBS],
            adds_since_normalize: 0,
        }
    }

    /// How many numbers there are.
    pub(crate) fn len(&self) -> usize {
        self.limbs.len() / LIMBS
    }

    /// Whether there are no numbers.
    pub(crate) fn is_empty(&self) -> bool {
        self.limbs.is_empty()
    }

    /// Makes room for an operand that adds `weight` to the headroom count,
    /// normalising first if the count would pass [`ADD_LIMIT`].
    #[inline]
    fn reserve(&mut self, weight: u32) {
        if self.adds_since_normalize.saturating_add(weight) > ADD_LIMIT {
            self.normalize();
        }
        self.adds_since_normalize += weight;
    }

    /// Adds `xs[i]` to number `i`, each truncated toward zero to a multiple
    /// of 2^-108 exactly as [`Fixed::from_f64`] does.
    ///
    /// On an unrepresentable element, returns its index (the first such) and
    /// leaves every value unchanged.
    ///
    /// # Panics
    ///
    /// If `xs.len() != self.len()`.
    pub(crate) fn add_f64_slice(&mut self, xs: &[f64]) -> Result<(), (usize, Unrepresentable)> {
        assert_eq!(
            xs.len(),
            self.len(),
            "FixedVec::add_f64_slice: {} values for {} numbers",
            xs.len(),
            self.len()
        );
        self.reserve(1);
        if let Some(i) = add_slice(&mut self.limbs, xs, 0) {
            // Take back what was added (integer additions: exactly).
            add_slice(&mut self.limbs, &xs[..i], -1);
            return Err((i, Unrepresentable { value: xs[i] }));
        }
        Ok(())
    }

    /// Adds the integer `x` to number `index` exactly.
    ///
    /// # Panics
    ///
    /// If `index >= self.len()`.
    pub(crate) fn add_i128(&mut self, index: usize, x: i128) -> Result<(), Unrepresentable> {
        let f = Fixed::from_i128(x)?;
        self.reserve(1);
        let acc = limb_array(&mut self.limbs[index * LIMBS..(index + 1) * LIMBS]);
        for (a, b) in acc.iter_mut().zip(f.limbs) {
            *a += b;
        }
        Ok(())
    }

    /// Adds `other` number by number.
    ///
    /// # Panics
    ///
    /// If the lengths differ (the message names both).
    pub(crate) fn add_assign(&mut self, other: &FixedVec) {
        assert_eq!(
            self.len(),
            other.len(),
            "FixedVec::add_assign: lengths differ ({} and {})",
            self.len(),
            other.len()
        );
        // `other`'s lower limbs are below (other.adds + 1) · 2^32.
        self.reserve(other.adds_since_normalize + 1);
        for (a, b) in self.limbs.iter_mut().zip(&other.limbs) {
            *a += b;
        }
        if self.adds_since_normalize > ADD_LIMIT {
            self.normalize();
        }
    }

    /// Normalises every number (see [`Fixed::normalize`]).
    pub(crate) fn normalize(&mut self) {
        for acc in self.limbs.chunks_exact_mut(LIMBS) {
            normalize_limbs(limb_array(acc));
        }
        self.adds_since_normalize = 0;
    }

    /// The raw words ([`LIMBS`] per number), e.g. to send them to other MPI
    /// ranks. The words of several vectors may be added with plain `i64`
    /// additions (as `MPI_SUM` does) as long as the additions behind all of
    /// them, plus one per vector, total at most 2^30; normalise first (or use
    /// [`normalized_words`](FixedVec::normalized_words)) to make that simply
    /// "at most 2^30 vectors".
    pub(crate) fn words(&self) -> &[i64] {
        &self.limbs
    }

    /// A normalised copy of the raw words: the words of up to 2^30 such
    /// vectors can be added with plain `i64` additions (as `MPI_SUM` does).
    pub(crate) fn normalized_words(&self) -> Vec<i64> {
        let mut words = self.limbs.clone();
        for acc in words.chunks_exact_mut(LIMBS) {
            normalize_limbs(limb_array(acc));
        }
        words
    }

    /// The raw words, writable (e.g. as an in-place `MPI_Allreduce` buffer).
    /// Since the words may change arbitrarily, the next addition normalises
    /// first.
    pub(crate) fn words_mut(&mut self) -> &mut [i64] {
        self.adds_since_normalize = ADD_LIMIT;
        &mut self.limbs
    }

    /// Numbers from raw words, e.g. the element-wise `i64` sum of the
    /// [`words`](FixedVec::words) of up to 2^30 normalised vectors. The next
    /// addition normalises first.
    ///
    /// # Panics
    ///
    /// If `words.len()` is not a multiple of [`LIMBS`].
    pub(crate) fn from_words(words: Vec<i64>) -> FixedVec {
        assert!(
            words.len().is_multiple_of(LIMBS),
            "FixedVec::from_words: {} words is not a multiple of {LIMBS}",
            words.len()
        );
        FixedVec {
            limbs: words,
            adds_since_normalize: ADD_LIMIT,
        }
    }

    /// Number `i` as a [`Fixed`].
    ///
    /// # Panics
    ///
    /// If `i >= self.len()`.
    pub(crate) fn get(&self, i: usize) -> Fixed {
        let mut limbs = [0; LIMBS];
        limbs.copy_from_slice(&self.limbs[i * LIMBS..(i + 1) * LIMBS]);
        Fixed { limbs }
    }

    /// Every number correctly rounded to `f64` (see [`Fixed::to_f64`]).
    pub(crate) fn to_f64_vec(&self) -> Vec<f64> {
        self.limbs
            .chunks_exact(LIMBS)
            .map(|l| limbs_to_f64(limb_array_ref(l)))
            .collect()
    }

    /// Number `i` correctly rounded to `f64`.
    ///
    /// # Panics
    ///
    /// If `i >= self.len()`.
    pub(crate) fn get_f64(&self, i: usize) -> f64 {
        self.get(i).to_f64()
    }

    /// Number `i` as an integer, or `None` if it has a fractional part.
    ///
    /// # Panics
    ///
    /// If `i >= self.len()`.
    pub(crate) fn get_i128(&self, i: usize) -> Option<i128> {
        self.get(i).to_i128()
    }
}

/// A `LIMBS`-word chunk as an array (the chunking guarantees the length).
#[inline(always)]
fn limb_array(chunk: &mut [i64]) -> &mut [i64; LIMBS] {
    chunk.try_into().expect("chunk of LIMBS words")
}

/// A `LIMBS`-word chunk as an array (the chunking guarantees the length).
#[inline(always)]
fn limb_array_ref(chunk: &[i64]) -> &[i64; LIMBS] {
    chunk.try_into().expect("chunk of LIMBS words")
}

/// Adds (`flip = 0`) or subtracts (`flip = -1`) `xs[i]` to / from the number
/// at `limbs[i * LIMBS..]`, up to the first unrepresentable element, whose
/// index it returns.
#[inline]
// A counter rather than `enumerate`, which made this hot loop ~15% slower.
#[allow(clippy::explicit_counter_loop)]
fn add_slice(limbs: &mut [i64], xs: &[f64], flip: i64) -> Option<usize> {
    let mut i = 0;
    for (acc, &x) in limbs.chunks_exact_mut(LIMBS).zip(xs) {
        let bits = x.to_bits();
        if (bits >> MANT_BITS) & EXP_FIELD >= EXP_TOO_BIG {
            return Some(i);
        }
        add_bits(limb_array(acc), bits, flip);
        i += 1;
    }
    None
}

/// The magnitude of the finite `f64` with bits `bits` and |x| < 2^84,
/// truncated to a multiple of 2^-108, as three little-endian 64-bit words in
/// units of 2^-108 (its limbs are the 32-bit halves). Branch-free.
#[inline(always)]
fn magnitude_words(bits: u64) -> [u64; 3] {
    let e = (bits >> MANT_BITS) & EXP_FIELD;
    // Values below 2^-108 (zeros and subnormals among them) become zero.
    let m = ((bits & MANT_MASK) | HIDDEN_BIT) & u64::from(e >= EXP_MIN_NONZERO).wrapping_neg();
    // In a 256-bit window whose lowest 64 bits lie below the resolution, the
    // magnitude is m << t with t in [12, 203]: window word k = t / 64 gets the
    // low and word k + 1 the high half of m << (t % 64). Window words 1..=3
    // are the limbs' words 0..=2 (word 4 could only get the high half for
    // k = 3, which is zero for accepted values). The selection uses masks
    // rather than `if`s, which LLVM would turn into an unpredictable jump
    // table; for m = 0, t may be anything.
    let t = e.wrapping_sub(PADDED_SHIFT_BIAS);
    let w = u128::from(m) << (t & 63);
    let (lo, hi) = (w as u64, (w >> 64) as u64);
    let k = (t >> 6) & 3;
    let is = |c: u64| u64::from(k == c).wrapping_neg();
    let (k0, k1, k2, k3) = (is(0), is(1), is(2), is(3));
    let w0 = (lo & k1) | (hi & k0);
    let w1 = (lo & k2) | (hi & k1);
    let w2 = (lo & k3) | (hi & k2);
    [w0, w1, w2]
}

/// Adds the value of the `f64` with bits `bits` (finite, |x| < 2^84) to
/// `acc`, truncated toward zero at 2^-108; with `flip = -1` subtracts it
/// instead. Each limb changes by less than 2^32.
#[inline(always)]
fn add_bits(acc: &mut [i64; LIMBS], bits: u64, flip: i64) {
    let w = magnitude_words(bits);
    // +1 to add, -1 to subtract (a multiplication is cheaper here than
    // `(p ^ neg) - neg`).
    let neg = ((bits as i64) >> 63) ^ flip;
    let sign = 1 | neg;
    let parts = [
        w[0] & LIMB_MASK,
        w[0] >> LIMB_BITS,
        w[1] & LIMB_MASK,
        w[1] >> LIMB_BITS,
        w[2] & LIMB_MASK,
        w[2] >> LIMB_BITS,
    ];
    for (a, p) in acc.iter_mut().zip(parts) {
        *a += p as i64 * sign;
    }
}

/// Carry propagation: limbs 0..5 into `[0, 2^32)`, the rest of the value (and
/// the sign) into the top limb.
#[inline]
fn normalize_limbs(l: &mut [i64; LIMBS]) {
    for i in 0..LIMBS - 1 {
        let carry = l[i] >> LIMB_BITS; // floor division by 2^32
        l[i] &= LIMB_MASK as i64;
        l[i + 1] += carry;
    }
}

/// The exact value of any limbs as a 256-bit two's-complement integer in
/// units of 2^-108: `(hi, lo)` with value `hi · 2^128 + lo`. Carries are taken
/// in `i128`, so no input overflows (|value| < 2^224).
#[inline]
fn limbs_to_i256(l: &[i64; LIMBS]) -> (i128, u128) {
    let mut low = [0u128; LIMBS - 1];
    let mut carry: i128 = 0;
    for (out, &limb) in low.iter_mut().zip(l) {
        let v = i128::from(limb) + carry;
        *out = (v as u128) & u128::from(LIMB_MASK);
        carry = v >> LIMB_BITS;
    }
    // |top| < 2^63 + 2^32, so top << 32 fits easily.
    let top = i128::from(l[LIMBS - 1]) + carry;
    let lo = low[0] | low[1] << 32 | low[2] << 64 | low[3] << 96;
    let hi = low[4] as i128 + (top << 32);
    (hi, lo)
}

/// 2^k as an `f64`, for -1022 <= k <= 1023.
#[inline]
fn pow2(k: i32) -> f64 {
    f64::from_bits(((k + EXP_BIAS as i32) as u64) << MANT_BITS)
}

/// Bits `s..s + 64` of the 256-bit number `(hi, lo)`, for `s < 256`.
#[inline]
fn shr_u64(hi: u128, lo: u128, s: u32) -> u64 {
    let v = if s == 0 {
        lo
    } else if s < 128 {
        (lo >> s) | (hi << (128 - s))
    } else {
        hi >> (s - 128)
    };
    v as u64
}

/// Whether any of the lowest `s` bits of the 256-bit number `(hi, lo)` is
/// set, for `s < 256`.
#[inline]
fn low_bits_nonzero(hi: u128, lo: u128, s: u32) -> bool {
    if s < 128 {
        lo & ((1u128 << s) - 1) != 0
    } else {
        lo != 0 || hi & ((1u128 << (s - 128)) - 1) != 0
    }
}

/// The non-negative 256-bit integer `(hi, lo)` times 2^-108, rounded to
/// nearest, ties to even. Callers guarantee `(hi, lo) < 2^225`, so the result
/// is 0 or a normal `f64` in [2^-108, 2^117).
#[inline]
fn round_magnitude(hi: u128, lo: u128) -> f64 {
    let bit_len = if hi != 0 {
        256 - hi.leading_zeros()
    } else {
        128 - lo.leading_zeros()
    };
    if bit_len <= 53 {
        // Exact: fewer than 54 significant bits, and scaling by a power of
        // two stays in the normal range.
        return lo as u64 as f64 * pow2(-(FRAC_BITS as i32));
    }
    let shift = bit_len - 53;
    // The 53 kept bits, then the rounding bit below them.
    let top54 = shr_u64(hi, lo, shift - 1);
    let mut m = top54 >> 1;
    let round = top54 & 1 != 0;
    if round && (m & 1 != 0 || low_bits_nonzero(hi, lo, shift - 1)) {
        // May give m = 2^53, which is still exact as an f64.
        m += 1;
    }
    // m <= 2^53 converts exactly; the power-of-two scaling is exact too.
    m as f64 * pow2(shift as i32 - FRAC_BITS as i32)
}

/// Correctly rounded value of any limbs (see [`Fixed::to_f64`]).
#[inline]
fn limbs_to_f64(l: &[i64; LIMBS]) -> f64 {
    let (hi, lo) = limbs_to_i256(l);
    if hi < 0 {
        // Two's-complement negation of the 256-bit number.
        let (nlo, borrow) = (!lo).overflowing_add(1);
        let nhi = (!hi as u128).wrapping_add(u128::from(borrow));
        -round_magnitude(nhi, nlo)
    } else {
        round_magnitude(hi as u128, lo)
    }
}

/// Integer value of any limbs, or `None` if fractional (see
/// [`Fixed::to_i128`]).
fn limbs_to_i128(l: &[i64; LIMBS]) -> Option<i128> {
    let (hi, lo) = limbs_to_i256(l);
    if lo & ((1u128 << FRAC_BITS) - 1) != 0 {
        return None;
    }
    // value / 2^108 = hi · 2^20 + lo / 2^108, and |hi| < 2^97.
    Some((hi << (128 - FRAC_BITS)) + (lo >> FRAC_BITS) as i128)
}

// ---------------------------------------------------------------------------
// Narrow windows: what travels between MPI ranks.
// ---------------------------------------------------------------------------
//
// Six 32-bit limbs per number cover every sum the representation can hold,
// but a particular call's numbers usually occupy a small part of that
// range. Before the ranks add their partial sums, they agree (one tiny
// all-gather, which the exchange of shapes already makes) on a [`Span`]:
// the lowest bit any rank's partial sum has set and the highest bit any of
// them needs. The sums then travel as integers in units of 2^`low` in one
// or two 64-bit words per number ([`Wire`]), and only if the span is too
// wide for two words in the old six limbs.
//
// Why the result is unchanged. Every rank's partial sum (an exact multiple
// of 2^-108, the bits below 2^-108 of each addend having been dropped when
// it was first accumulated, exactly as before) is a multiple of 2^`low`,
// since `low` is at most the lowest set bit of every one of them: dividing
// by 2^`low` is exact, and nothing is dropped. So the words carry each
// partial sum *exactly*, MPI's integer additions give the exact total (the
// headroom argument is at [`Wire::choose`]), and the total is rounded once,
// correctly, as before. The window may differ between layouts (it is
// chosen from the partial sums, which depend on the grouping), but the
// value it carries does not, so neither does any bit of the result; only
// the number of words on the wire may.

/// Where the nonzero bits of some exact values lie: every value is a
/// multiple of 2^`low` and lies in `[-2^high, 2^high)`. The empty span
/// ([`Span::EMPTY`], `high < low`) holds only zeros.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Span {
    /// Every value is a multiple of 2^`low`.
    pub(crate) low: i32,
    /// Every value is in `[-2^high, 2^high)`.
    pub(crate) high: i32,
}

#[cfg_attr(not(feature = "mpi"), allow(dead_code))]
impl Span {
    /// The span of no nonzero value.
    pub(crate) const EMPTY: Span = Span {
        low: i32::MAX,
        high: i32::MIN,
    };

    /// Whether only zeros are spanned.
    pub(crate) fn is_empty(self) -> bool {
        self.high < self.low
    }

    /// The span of the values of both.
    #[must_use]
    pub(crate) fn union(self, other: Span) -> Span {
        Span {
            low: self.low.min(other.low),
            high: self.high.max(other.high),
        }
    }

    /// The span of the `f64`s `xs` as [`FixedVec::add_f64_slice`] takes
    /// them: each truncated toward zero at 2^-108. Every element must be
    /// accepted (|x| < 2^84, finite).
    pub(crate) fn of_f64s(xs: &[f64]) -> Span {
        let (mut low, mut high) = (i32::MAX, i32::MIN);
        for &x in xs {
            let bits = x.to_bits();
            let e = ((bits >> MANT_BITS) & EXP_FIELD) as i32;
            let m = (bits & MANT_MASK) | HIDDEN_BIT;
            // The lowest set bit, or 2^-108 if that is below: a multiple of
            // 2^-108 after truncation, whatever it then is. |x| < 2^(e - 1022).
            let lowest = (e - (EXP_BIAS + u64::from(MANT_BITS)) as i32 + m.trailing_zeros() as i32)
                .max(-(FRAC_BITS as i32));
            // Values below 2^-108 truncate to zero: they count for nothing
            // (selects, not a branch).
            let nonzero = e >= EXP_MIN_NONZERO as i32;
            low = low.min(if nonzero { lowest } else { i32::MAX });
            high = high.max(if nonzero {
                e - EXP_BIAS as i32 + 1
            } else {
                i32::MIN
            });
        }
        Span { low, high }
    }

    /// The span of the numbers of `v`.
    pub(crate) fn of_fixed(v: &FixedVec) -> Span {
        let mut span = Span::EMPTY;
        for l in v.limbs.chunks_exact(LIMBS) {
            let (hi, lo) = limbs_to_i256(limb_array_ref(l));
            if hi == 0 && lo == 0 {
                continue;
            }
            let tz = if lo != 0 {
                lo.trailing_zeros()
            } else {
                128 + hi.trailing_zeros()
            };
            // v or !v (= -v - 1) for negative v: v is in [-2^b, 2^b) for b
            // its bit length.
            let (ph, pl) = if hi < 0 {
                (!hi as u128, !lo)
            } else {
                (hi as u128, lo)
            };
            let bits = if ph != 0 {
                256 - ph.leading_zeros()
            } else {
                128 - pl.leading_zeros()
            };
            span = span.union(Span {
                low: tz as i32 - FRAC_BITS as i32,
                high: bits as i32 - FRAC_BITS as i32,
            });
        }
        span
    }

    /// Two words: how the span travels in an all-gather.
    pub(crate) fn to_words(self) -> [u64; 2] {
        [i64::from(self.low) as u64, i64::from(self.high) as u64]
    }

    /// The span from [`Span::to_words`].
    pub(crate) fn from_words(w: [u64; 2]) -> Span {
        Span {
            low: w[0] as i64 as i32,
            high: w[1] as i64 as i32,
        }
    }
}

/// How the exact partial sums of `f64`s travel in `MPI_SUM`s on int64
/// between `ranks` ranks, chosen by every rank from the same [`Span`] (the
/// union of all ranks' spans) and number of ranks, so the same on every
/// rank.
#[cfg_attr(not(feature = "mpi"), allow(dead_code))]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Wire {
    /// Every partial sum is zero: nothing travels.
    Zero,
    /// One word per number: the partial sum in units of 2^`low`.
    One {
        /// The unit's exponent.
        low: i32,
    },
    /// One word per number, then one per number whose rounding it leaves
    /// open. In units of 2^`low`, a partial sum `v` is split into
    /// `q = ⌊v / 2^shift⌋` and the remainder `r = v − q · 2^shift` in
    /// `[0, 2^shift)`. The ranks first add the `q`s: the total is then
    /// known to lie in `[Q · 2^shift, (Q + ranks) · 2^shift)` (units of
    /// 2^`low`), since the remainders of `ranks` partial sums add up to
    /// less than `ranks · 2^shift`. Rounding is monotonic, so when both
    /// ends of that interval round to the same `f64`, so does the total:
    /// that is the answer. For the other numbers (the same on every rank,
    /// as `Q` is) the ranks add their remainders too, which gives the
    /// exact total `Q · 2^shift + R`, rounded once. Either way the result
    /// is the correctly rounded exact sum.
    Split {
        /// The unit's exponent.
        low: i32,
        /// Bits of the remainder.
        shift: u32,
        /// The number of ranks (the width of the interval, in units of
        /// 2^(`low` + `shift`)).
        ranks: u32,
    },
    /// The old layout, [`LIMBS`] normalised limbs per number (for spans too
    /// wide for the split).
    Limbs,
}

#[cfg_attr(not(feature = "mpi"), allow(dead_code))]
impl Wire {
    /// The narrowest layout for partial sums in `span` on `ranks` ranks.
    ///
    /// With `h = ⌈log₂ ranks⌉` and `t = high − low`, every partial sum in
    /// units of 2^`low` is an integer `v` in `[-2^t, 2^t)`, and MPI adds
    /// `ranks` of them (in any grouping, each intermediate a sum of some of
    /// them):
    ///
    /// * [`Wire::One`] when `t + h ≤ 63`: any sum of at most `ranks` such
    ///   integers is in `[-2^63, 2^63)`, an `i64`.
    /// * [`Wire::Split`] when `t + 2h ≤ 126`, with `shift = t + h − 63`:
    ///   the quotients `⌊v / 2^shift⌋` are in `[-2^(63−h), 2^(63−h))`, so
    ///   their sums are `i64`s; the remainders are in `[0, 2^shift)` with
    ///   `shift ≤ 63 − h`, so theirs are too.
    /// * [`Wire::Limbs`] otherwise (the headroom argument of the module
    ///   docs: at most 2^30 ranks).
    pub(crate) fn choose(span: Span, ranks: usize) -> Wire {
        if span.is_empty() {
            return Wire::Zero;
        }
        let h = headroom_bits(ranks);
        let t = i64::from(span.high) - i64::from(span.low);
        if t + h <= 63 {
            Wire::One { low: span.low }
        } else if t + 2 * h <= 126 {
            Wire::Split {
                low: span.low,
                shift: (t + h - 63) as u32,
                ranks: ranks as u32,
            }
        } else {
            Wire::Limbs
        }
    }

    /// Words per number in the first exchange: 0, 1 or [`LIMBS`].
    pub(crate) fn words_per_number(self) -> usize {
        match self {
            Wire::Zero => 0,
            Wire::One { .. } | Wire::Split { .. } => 1,
            Wire::Limbs => LIMBS,
        }
    }

    /// The first exchange's word of a partial sum of `v` units of 2^`low`.
    #[inline(always)]
    fn first_word(self, v: i128) -> i64 {
        match self {
            Wire::Split { shift, .. } => (v >> shift) as i64,
            _ => v as i64,
        }
    }

    /// The unit's exponent (`Zero` and `Limbs` have none: 0).
    fn low(self) -> i32 {
        match self {
            Wire::One { low } | Wire::Split { low, .. } => low,
            _ => 0,
        }
    }

    /// Writes the first exchange's words of the `f64`s `xs` (each
    /// truncated toward zero at 2^-108, as [`FixedVec::add_f64_slice`]
    /// takes them; all accepted, and inside the span the layout was chosen
    /// for) into `out`, [`words_per_number`](Wire::words_per_number) each.
    ///
    /// # Panics
    ///
    /// For [`Wire::Limbs`] (convert to a [`FixedVec`] first), or if `out`
    /// has the wrong length.
    pub(crate) fn pack_f64s(self, xs: &[f64], out: &mut [i64]) {
        assert_eq!(out.len(), xs.len() * self.words_per_number());
        match self {
            Wire::Zero => {}
            Wire::Limbs => panic!("Wire::pack_f64s: the limb layout packs a FixedVec"),
            Wire::One { low } => {
                // t · 2^-low is an integer below 2^63 in magnitude: exact.
                let scale = pow2(-low);
                for (o, &x) in out.iter_mut().zip(xs) {
                    *o = (truncate_f64(x) * scale) as i64;
                }
            }
            Wire::Split { low, shift, .. } => {
                // ⌊t · 2^-(low + shift)⌋: the scaling is exact (a normal
                // f64 stays normal), and so is the floor (below 2^63 in
                // magnitude); it equals ⌊v / 2^shift⌋ for v = t · 2^-low.
                let scale = pow2(-(low + shift as i32));
                for (o, &x) in out.iter_mut().zip(xs) {
                    *o = floor_to_i64(truncate_f64(x) * scale);
                }
            }
        }
    }

    /// Writes the first exchange's words of the numbers of `v` (inside the
    /// span the layout was chosen for) into `out`,
    /// [`words_per_number`](Wire::words_per_number) each (for
    /// [`Wire::Limbs`], normalised limbs).
    ///
    /// # Panics
    ///
    /// If `out` has the wrong length.
    pub(crate) fn pack_fixed(self, v: &FixedVec, out: &mut [i64]) {
        assert_eq!(out.len(), v.len() * self.words_per_number());
        match self {
            Wire::Zero => {}
            Wire::Limbs => {
                out.copy_from_slice(&v.limbs);
                for acc in out.chunks_exact_mut(LIMBS) {
                    normalize_limbs(limb_array(acc));
                }
            }
            _ => {
                let low = self.low();
                for (o, l) in out.iter_mut().zip(v.limbs.chunks_exact(LIMBS)) {
                    *o = self.first_word(fixed_in_units(limb_array_ref(l), low));
                }
            }
        }
    }

    /// The totals from the element-wise `i64` sums of the ranks' first
    /// words, correctly rounded, into `out` (one per number); for
    /// [`Wire::Split`], returns the numbers whose rounding is left open,
    /// whose places in `out` it leaves as they were (until
    /// [`Wire::finish`]).
    ///
    /// # Panics
    ///
    /// If `words` has the wrong length.
    pub(crate) fn unpack(self, words: &[i64], out: &mut [f64]) -> Vec<usize> {
        assert_eq!(words.len(), out.len() * self.words_per_number());
        let mut open = Vec::new();
        match self {
            Wire::Zero => out.fill(0.0),
            Wire::One { low } => {
                let scale = pow2(low);
                for (o, &w) in out.iter_mut().zip(words) {
                    *o = w as f64 * scale;
                }
            }
            Wire::Split { low, shift, ranks } => {
                let scale = pow2(low + shift as i32);
                for (i, (o, &q)) in out.iter_mut().zip(words).enumerate() {
                    // Both ends of [q, q + ranks) · 2^(low + shift).
                    let a = q as f64 * scale;
                    match q.checked_add(i64::from(ranks)) {
                        Some(b) if b as f64 * scale == a => *o = a,
                        _ => open.push(i),
                    }
                }
            }
            Wire::Limbs => {
                for (o, l) in out.iter_mut().zip(words.chunks_exact(LIMBS)) {
                    *o = limbs_to_f64(limb_array_ref(l));
                }
            }
        }
        open
    }

    /// The remainders (second exchange of [`Wire::Split`]) of the `f64`s
    /// `xs` at the positions `open`, into `out`.
    pub(crate) fn remainders_f64s(self, xs: &[f64], open: &[usize], out: &mut [i64]) {
        let Wire::Split { low, shift, .. } = self else {
            return;
        };
        for (o, &i) in out.iter_mut().zip(open) {
            *o = (f64_in_units(xs[i], low) & ((1i128 << shift) - 1)) as i64;
        }
    }

    /// The remainders of the numbers of `v` at the positions `open`.
    pub(crate) fn remainders_fixed(self, v: &FixedVec, open: &[usize], out: &mut [i64]) {
        let Wire::Split { low, shift, .. } = self else {
            return;
        };
        for (o, &i) in out.iter_mut().zip(open) {
            let l = limb_array_ref(&v.limbs[i * LIMBS..(i + 1) * LIMBS]);
            *o = (fixed_in_units(l, low) & ((1i128 << shift) - 1)) as i64;
        }
    }

    /// Completes the totals at the positions `open` of [`Wire::unpack`]'s
    /// `totals`: the exact total `Q · 2^shift + R` (units of 2^`low`) from
    /// the summed first words `words` and the summed remainders `rests`,
    /// rounded once.
    pub(crate) fn finish(self, words: &[i64], open: &[usize], rests: &[i64], totals: &mut [f64]) {
        let Wire::Split { low, shift, .. } = self else {
            return;
        };
        for (&i, &r) in open.iter().zip(rests) {
            // |Q| < 2^63 and shift <= 63 - h: the total fits an i128.
            let v = (i128::from(words[i]) << shift) + i128::from(r);
            totals[i] = i128_to_f64_scaled(v, low);
        }
    }
}

/// The accepted `x` truncated toward zero at 2^-108 (its value in the
/// exact sum), as an `f64` (it has fewer significant bits); zeros and
/// values below 2^-108 give `+0.0`. Branch-free.
#[inline(always)]
pub(crate) fn truncate_f64(x: f64) -> f64 {
    let bits = x.to_bits();
    let e = ((bits >> MANT_BITS) & EXP_FIELD) as i32;
    // Mantissa bits below 2^-108: the unit of the last bit is 2^(e − 1075).
    let below = (EXP_BIAS as i32 + MANT_BITS as i32 - FRAC_BITS as i32 - e).clamp(0, 63) as u32;
    let keep = !((1u64 << below) - 1) & u64::from(e >= EXP_MIN_NONZERO as i32).wrapping_neg();
    f64::from_bits(bits & keep)
}

/// `⌊y⌋` for an integer-or-not `y` whose floor is an `i64` (without the
/// library call that `f64::floor` is on baseline x86-64).
#[inline(always)]
fn floor_to_i64(y: f64) -> i64 {
    let t = y as i64; // toward zero
    t - i64::from((t as f64) > y)
}

/// The number with limbs `l` (a multiple of 2^`low`, below 2^126 units of
/// it in magnitude) in units of 2^`low` (`low >= -108`), exactly.
#[inline]
fn fixed_in_units(l: &[i64; LIMBS], low: i32) -> i128 {
    let (hi, lo) = limbs_to_i256(l);
    // Shifted right by `low + 108` (exact: those bits are zero).
    let shift = (low + FRAC_BITS as i32) as u32;
    if shift == 0 {
        lo as i128
    } else if shift < 128 {
        ((lo >> shift) | ((hi as u128) << (128 - shift))) as i128
    } else {
        hi >> (shift - 128)
    }
}

/// `⌈log₂ ranks⌉`: the bits a sum of `ranks` values needs beyond one
/// value's (0 for one rank).
#[cfg_attr(not(feature = "mpi"), allow(dead_code))]
fn headroom_bits(ranks: usize) -> i64 {
    i64::from(usize::BITS - ranks.max(1).saturating_sub(1).leading_zeros())
}

/// The payload bytes that one rank sends (and receives: an all-reduce
/// counts both the same, see [`comm_counts`](crate::comm_counts)) in the
/// all-reduces (`allreduce` rows) with which MPI ranks add the exact sums
/// of one `reduce = "sum"` call, for a result with `n_f64` summed
/// floating-point numbers and `n_int` summed integers on `ranks` ranks.
///
/// The floating-point sums travel in a window agreed for the call: `span`
/// is `Some((low, high))` where 2^`low` is the lowest bit set in any rank's
/// partial sum (never below 2^-108) and every partial sum lies in
/// `[-2^high, 2^high)` (so `high` is at most one more than the exponent of
/// the largest partial sum), or `None` when every partial sum is zero. With
/// `t = high − low` and `h = ⌈log₂ ranks⌉`, each `f64` costs
///
/// * 0 bytes when `span` is `None`;
/// * 8 bytes when `t + 2h ≤ 126` (one word; when `t + h > 63` the word is
///   the quotient of a split, and the `open` numbers whose rounding it
///   leaves open cost 8 bytes more each, in a second all-reduce made only
///   when `open > 0`: typically a few per cent of them, more where totals
///   cancel to far below the largest partial sum);
/// * 48 bytes otherwise (six 32-bit limbs in 64-bit words, as before).
///
/// Each summed integer costs 48 bytes, in the first all-reduce. So the
/// result is `8 · (w · n_f64 + 6 · n_int + open')` with `w` in {0, 1, 6}
/// and `open'` the `open` of a split, else 0. Besides, the ranks exchange
/// four words (32 bytes each) in an all-gather of the shapes and spans,
/// and minima and maxima (`allreduce-keys`) cost 16 bytes each.
pub fn exact_sum_bytes(
    n_f64: usize,
    n_int: usize,
    span: Option<(i32, i32)>,
    ranks: usize,
    open: usize,
) -> u64 {
    let span = span.map_or(Span::EMPTY, |(low, high)| Span { low, high });
    let wire = Wire::choose(span, ranks);
    let second = if matches!(wire, Wire::Split { .. }) {
        open
    } else {
        0
    };
    8 * (wire.words_per_number() * n_f64 + LIMBS * n_int + second) as u64
}

/// [`exact_sum_bytes`] for a [`Span`].
#[cfg(test)]
pub(crate) fn sum_bytes(
    n_f64: usize,
    n_int: usize,
    span: Span,
    ranks: usize,
    open: usize,
) -> usize {
    let span = (!span.is_empty()).then_some((span.low, span.high));
    exact_sum_bytes(n_f64, n_int, span, ranks, open) as usize
}

/// The accepted `f64` `x` truncated toward zero at 2^-108, in units of
/// 2^`low`, for `low` at most the lowest set bit of the truncated value
/// and at least -108 (exact), and |result| < 2^127.
#[inline(always)]
fn f64_in_units(x: f64, low: i32) -> i128 {
    let bits = x.to_bits();
    let e = ((bits >> MANT_BITS) & EXP_FIELD) as i32;
    let m =
        ((bits & MANT_MASK) | HIDDEN_BIT) & u64::from(e >= EXP_MIN_NONZERO as i32).wrapping_neg();
    let s = e - (EXP_BIAS + u64::from(MANT_BITS)) as i32 - low;
    let mag = if s >= 0 {
        u128::from(m) << (s & 127)
    } else {
        // Only for low = -108 (bits below 2^-108 are dropped): -s <= 52,
        // or m = 0.
        u128::from(m >> (-s).min(63))
    };
    let v = mag as i128;
    if (bits as i64) < 0 {
        -v
    } else {
        v
    }
}

/// `v · 2^low` correctly rounded (to nearest, ties to even), for results
/// in the normal range. Branch-free, and faster than `v as f64` (a library
/// call).
#[inline]
fn i128_to_f64_scaled(v: i128, low: i32) -> f64 {
    let mag = v.unsigned_abs();
    // The top 63 bits of the magnitude (all of it below 2^63, where n
    // stops at 65), with the bits below them folded into a sticky bit 0,
    // which lies 9 places below the rounding bit of a 53-bit mantissa: so
    // rounding the 63 bits (an exact i64 to f64 conversion) rounds the
    // whole number.
    let n = mag.leading_zeros().min(65);
    let norm = mag << n;
    let top = (norm >> 65) as u64 | u64::from(norm & ((1u128 << 65) - 1) != 0);
    let f = top as i64 as f64 * pow2(65 - n as i32 + low);
    if v < 0 {
        -f
    } else {
        f
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// SplitMix64: a small deterministic generator, so failures reproduce.
    struct Rng(u64);

    impl Rng {
        /// The next 64 random bits.
        fn next_u64(&mut self) -> u64 {
            self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = self.0;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            z ^ (z >> 31)
        }

        /// Uniform in `0..n` (n > 0; the slight bias does not matter here).
        fn below(&mut self, n: usize) -> usize {
            (self.next_u64() % n as u64) as usize
        }

        /// Uniform in `lo..=hi`.
        fn range_i32(&mut self, lo: i32, hi: i32) -> i32 {
            lo + self.below((hi - lo + 1) as usize) as i32
        }

        /// A fair coin.
        fn coin(&mut self) -> bool {
            self.next_u64() & 1 == 1
        }

        /// An integer mantissa in [1, 2^53): full-width, short, or with
        /// long runs of ones / zeros (to provoke carries and ties).
        fn mantissa(&mut self) -> u64 {
            let r = self.next_u64();
            match self.below(4) {
                0 => (r >> 11) | 1 << 52,
                1 => ((r >> 11) | 1 << 52) >> self.below(53),
                2 => (1 << 53) - 1 - (r >> (11 + self.below(53) as u32)),
                _ => (1 << 52) | (r >> (11 + self.below(53) as u32)),
            }
            .max(1)
        }

        /// ±m · 2^k with the top bit of the value at exponent `top` in
        /// `[emin, emax]`: a random f64 of that magnitude.
        fn f64_in(&mut self, emin: i32, emax: i32) -> f64 {
            let m = (self.next_u64() >> 11) | 1 << 52;
            let top = self.range_i32(emin, emax);
            let x = m as f64 * 2f64.powi(top - 52);
            if self.coin() {
                -x
            } else {
                x
            }
        }

        /// Fisher–Yates shuffle.
        fn shuffle<T>(&mut self, v: &mut [T]) {
            for i in (1..v.len()).rev() {
                v.swap(i, self.below(i + 1));
            }
        }
    }

    /// Python's `math.fsum` (Shewchuk's msum plus the final half-way fix):
    /// the correctly rounded sum of finite values whose partial sums do not
    /// overflow. Independent of the code under test.
    fn fsum(xs: &[f64]) -> f64 {
        let mut partials: Vec<f64> = Vec::new();
        for &x0 in xs {
            let mut x = x0;
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
        let mut hi = 0.0;
        if n > 0 {
            n -= 1;
            hi = partials[n];
            let mut lo = 0.0;
            while n > 0 {
                let x = hi;
                n -= 1;
                let y = partials[n];
                hi = x + y;
                let yr = hi - x;
                lo = y - yr;
                if lo != 0.0 {
                    break;
                }
            }
            if n > 0 && ((lo < 0.0 && partials[n - 1] < 0.0) || (lo > 0.0 && partials[n - 1] > 0.0))
            {
                let y = lo * 2.0;
                let x = hi + y;
                let yr = x - hi;
                if y == yr {
                    hi = x;
                }
            }
        }
        hi
    }

    /// `x` truncated toward zero to a multiple of 2^-108, computed with plain
    /// float operations (all exact here), zero as +0.0.
    fn trunc_ref(x: f64) -> f64 {
        let t = (x * 2f64.powi(108)).trunc() * 2f64.powi(-108);
        if t == 0.0 {
            0.0
        } else {
            t
        }
    }

    /// The exact sum of `xs`, added in order, not normalised.
    fn sum_fixed(xs: &[f64]) -> Fixed {
        let mut acc = Fixed::default();
        for &x in xs {
            acc.add(&Fixed::from_f64(x).unwrap());
        }
        acc
    }

    /// Bit-for-bit equality of two `f64`s, with context on failure.
    fn assert_same(got: f64, want: f64, what: &dyn fmt::Debug) {
        assert_eq!(
            got.to_bits(),
            want.to_bits(),
            "got {got:e}, want {want:e} for {what:?}"
        );
    }

    /// Whether limbs 0..5 are in `[0, 2^32)`.
    fn is_normalized(l: &[i64; LIMBS]) -> bool {
        l[..LIMBS - 1].iter().all(|&v| (0..1 << 32).contains(&v))
    }

    /// The range and headroom arithmetic of the module docs.
    #[test]
    fn constants() {
        assert_eq!(MAX_MAGNITUDE, 2f64.powi(MAX_EXP));
        assert_eq!(MAX_EXP, 84);
        // 2^30 normalised operands (or 2^30 additions onto a normalised
        // number) keep the lower limbs below 2^63 ...
        assert!((i128::from(ADD_LIMIT) + 1) * (1 << 32) <= i128::from(i64::MAX));
        // ... and the top limb of any partial sum of 2^30 addends, plus one
        // per operand of rounding, stays below 2^63.
        let top_bound = (1i128 << 30) * (1i128 << MAX_EXP) / (1i128 << 52) + (1i128 << 31);
        assert!(top_bound < i128::from(i64::MAX));
        // One more bit of range would break that.
        assert!((1i128 << 30) * (1i128 << (MAX_EXP + 1)) / (1i128 << 52) >= i128::from(i64::MAX));
    }

    /// Values on the 2^-108 grid below 2^84 survive `from_f64` → `to_f64` (and `to_i128`, normalisation, `from_i128`) unchanged.
    #[test]
    fn roundtrip_exactly_representable() {
        let mut rng = Rng(1);
        for case in 0..300_000 {
            let m = rng.mantissa();
            let len = 64 - m.leading_zeros() as i32;
            // lowest bit >= 2^-108, top bit < 2^84
            let e = rng.range_i32(-(FRAC_BITS as i32), MAX_EXP - len);
            let mut x = m as f64 * 2f64.powi(e);
            if case % 2 == 1 {
                x = -x;
            }
            let f = Fixed::from_f64(x).unwrap();
            assert!(f.limbs.iter().all(|l| l.unsigned_abs() < 1 << 32), "{x:e}");
            assert_same(f.to_f64(), x, &x);
            let mut n = f;
            n.normalize();
            assert!(is_normalized(&n.limbs));
            assert_same(n.to_f64(), x, &x);
            let want_int = (x.fract() == 0.0).then_some(x as i128);
            assert_eq!(f.to_i128(), want_int, "{x:e}");
            assert_eq!(n.to_i128(), want_int, "{x:e}");
            if let Some(i) = want_int {
                let mut g = Fixed::from_i128(i).unwrap();
                g.normalize();
                assert_eq!(g, n, "{x:e}");
            }
        }
        let edges = [
            2f64.powi(-108),
            3.0 * 2f64.powi(-108),
            (2f64.powi(53) - 1.0) * 2f64.powi(-108),
            2f64.powi(-76),
            2f64.powi(-44),
            1.0,
            2f64.powi(20),
            2f64.powi(52),
            2f64.powi(53) - 1.0,
            2f64.powi(83),
            MAX_MAGNITUDE - 2f64.powi(31), // the largest accepted value
        ];
        for x in edges {
            for x in [x, -x] {
                assert_same(Fixed::from_f64(x).unwrap().to_f64(), x, &x);
            }
        }
    }

    /// Any finite value converts to its truncation toward zero at 2^-108.
    #[test]
    fn truncation_of_arbitrary_values() {
        let mut rng = Rng(2);
        for _ in 0..300_000 {
            // Any finite bit pattern below 2^84, subnormals and zeros included,
            // with extra weight on the region around the resolution.
            let bits = rng.next_u64();
            let exp = match rng.below(3) {
                0 => rng.below(EXP_TOO_BIG as usize) as u64,
                1 => rng.below(4) as u64, // zero / subnormal / tiny normals
                _ => EXP_MIN_NONZERO - 3 + rng.below(60) as u64,
            };
            let x = f64::from_bits((bits & !(EXP_FIELD << 52)) | exp << 52);
            let f = Fixed::from_f64(x).unwrap();
            assert_same(f.to_f64(), trunc_ref(x), &x);
        }
        for x in [
            0.0,
            -0.0,
            f64::MIN_POSITIVE,
            -f64::from_bits(1),
            2f64.powi(-109),
            -2f64.powi(-108) * 1.999_999,
            2f64.powi(-108) * 1.5,
        ] {
            assert_same(Fixed::from_f64(x).unwrap().to_f64(), trunc_ref(x), &x);
        }
        assert_eq!(Fixed::from_f64(-0.0).unwrap(), Fixed::default());
        assert_eq!(
            Fixed::from_f64(f64::from_bits(1)).unwrap(),
            Fixed::default()
        );
    }

    /// NaN, infinities and |x| >= 2^84 are refused, with the value; the largest accepted values are not.
    #[test]
    fn rejects_unrepresentable() {
        for x in [
            f64::INFINITY,
            f64::NEG_INFINITY,
            MAX_MAGNITUDE,
            -MAX_MAGNITUDE,
            MAX_MAGNITUDE * 1.5,
            f64::MAX,
            f64::MIN,
            1e300,
        ] {
            assert_eq!(Fixed::from_f64(x), Err(Unrepresentable { value: x }));
        }
        let nan = Fixed::from_f64(f64::NAN).unwrap_err();
        assert!(nan.value.is_nan());
        assert!(Fixed::from_f64(-f64::NAN).unwrap_err().value.is_nan());
        assert!(Fixed::from_f64(MAX_MAGNITUDE - 2f64.powi(31)).is_ok());
        assert!(Fixed::from_f64(-(MAX_MAGNITUDE - 2f64.powi(31))).is_ok());

        let max = (1i128 << 84) - 1;
        for x in [max, -max, 0, 1, -1] {
            let f = Fixed::from_i128(x).unwrap();
            assert_eq!(f.to_i128(), Some(x));
            assert_same(f.to_f64(), x as f64, &x);
        }
        for x in [1i128 << 84, -(1i128 << 84), i128::MAX, i128::MIN] {
            assert_eq!(
                Fixed::from_i128(x),
                Err(Unrepresentable { value: x as f64 })
            );
        }
        assert!(Unrepresentable { value: 1e100 }
            .to_string()
            .contains("2^84"));
    }

    /// Integers up to 2^84 round exactly like Rust's `i128 as f64`.
    #[test]
    fn integers_round_like_the_i128_cast() {
        // Rust's i128 -> f64 conversion rounds to nearest, ties to even: an
        // independent reference for the rounding of large integers.
        let mut rng = Rng(3);
        for _ in 0..200_000 {
            let bits = rng.below(85) as u32;
            let mag = if bits == 0 {
                0
            } else {
                let r = (u128::from(rng.next_u64()) << 64) | u128::from(rng.next_u64());
                (r >> (128 - bits)) as i128
            };
            let x = if rng.coin() { -mag } else { mag };
            let f = Fixed::from_i128(x).unwrap();
            assert_same(f.to_f64(), x as f64, &x);
            assert_eq!(f.to_i128(), Some(x));
            let mut n = f;
            n.normalize();
            assert!(is_normalized(&n.limbs));
            assert_same(n.to_f64(), x as f64, &x);
            assert_eq!(n.to_i128(), Some(x));
        }
    }

    /// `to_i128` only answers for integer values.
    #[test]
    fn fractions_are_not_integers() {
        for x in [0.5, -0.5, 2f64.powi(-108), 1.0 + 2f64.powi(-52), -3.25] {
            assert_eq!(Fixed::from_f64(x).unwrap().to_i128(), None, "{x}");
        }
        assert_eq!(Fixed::from_f64(-3.0).unwrap().to_i128(), Some(-3));
        // A sum that is an integer although its addends are not.
        let f = sum_fixed(&[0.75, 0.25, -2.5, -0.5]);
        assert_eq!(f.to_i128(), Some(-2));
    }

    /// Permuting and regrouping addends, with random normalisations, gives the same limbs and bits.
    #[test]
    fn order_and_grouping_do_not_matter() {
        let mut rng = Rng(4);
        for case in 0..400 {
            let n = if case < 10 { case } else { rng.below(1001) };
            let xs: Vec<f64> = (0..n).map(|_| rng.f64_in(-60, 50)).collect();
            let mut reference = sum_fixed(&xs);
            let want = reference.to_f64();
            reference.normalize();

            for _ in 0..4 {
                let mut perm = xs.clone();
                rng.shuffle(&mut perm);
                // Random groups, each summed with random normalisations.
                let mut groups = Vec::new();
                let mut rest = &perm[..];
                while !rest.is_empty() {
                    let k = 1 + rng.below(rest.len().min(64));
                    let mut g = Fixed::default();
                    for x in &rest[..k] {
                        g.add(&Fixed::from_f64(*x).unwrap());
                        if rng.below(8) == 0 {
                            g.normalize();
                        }
                    }
                    groups.push(g);
                    rest = &rest[k..];
                }
                rng.shuffle(&mut groups);
                let mut total = Fixed::default();
                for g in &groups {
                    total.add(g);
                    if rng.below(4) == 0 {
                        total.normalize();
                    }
                }
                assert_same(total.to_f64(), want, &case);
                total.normalize();
                assert_eq!(total, reference, "case {case}");
            }
        }
    }

    /// The same for whole `FixedVec`s merged with `add_assign`.
    #[test]
    fn fixed_vec_grouping_does_not_matter() {
        let mut rng = Rng(5);
        let len = 7;
        for case in 0..100 {
            let rows = rng.below(300);
            let data: Vec<Vec<f64>> = (0..rows)
                .map(|_| (0..len).map(|_| rng.f64_in(-60, 50)).collect())
                .collect();
            let mut seq = FixedVec::new(len);
            for row in &data {
                seq.add_f64_slice(row).unwrap();
            }
            let want = seq.to_f64_vec();
            for (j, w) in want.iter().enumerate() {
                let col: Vec<f64> = data.iter().map(|r| r[j]).collect();
                assert_same(*w, sum_fixed(&col).to_f64(), &(case, j));
                assert_same(seq.get_f64(j), *w, &(case, j));
            }

            let mut order: Vec<usize> = (0..rows).collect();
            rng.shuffle(&mut order);
            let mut parts = Vec::new();
            let mut rest = &order[..];
            while !rest.is_empty() {
                let k = 1 + rng.below(rest.len());
                let mut p = FixedVec::new(len);
                for &r in &rest[..k] {
                    p.add_f64_slice(&data[r]).unwrap();
                    if rng.below(16) == 0 {
                        p.normalize();
                    }
                }
                parts.push(p);
                rest = &rest[k..];
            }
            rng.shuffle(&mut parts);
            let mut total = FixedVec::new(len);
            for p in &parts {
                total.add_assign(p);
            }
            let got = total.to_f64_vec();
            for (g, w) in got.iter().zip(&want) {
                assert_same(*g, *w, &case);
            }
            total.normalize();
            seq.normalize();
            assert_eq!(total.words(), seq.words(), "case {case}");
        }
    }

    /// Sums of addends on the 2^-108 grid are rounded exactly like Python's `math.fsum`.
    #[test]
    fn correctly_rounded_like_fsum() {
        let mut rng = Rng(6);
        for case in 0..3000 {
            let n = 1 + rng.below(200);
            // Lowest bit >= 2^-107: exactly representable, so the exact
            // fixed-point sum is the exact real sum.
            let (lo, hi) = match case % 4 {
                0 => (-55, 50),
                1 => (-55, -20),
                2 => (0, 50),
                _ => (30, 40),
            };
            let mut xs: Vec<f64> = (0..n).map(|_| rng.f64_in(lo, hi)).collect();
            if case % 3 == 0 {
                // Heavy cancellation: negate most of them, keep a residue.
                let extra: Vec<f64> = xs.iter().take(n - 1).map(|x| -x).collect();
                xs.extend(extra);
                rng.shuffle(&mut xs);
            }
            let want = fsum(&xs);
            assert_same(sum_fixed(&xs).to_f64(), want, &xs);
            let mut v = FixedVec::new(1);
            for &x in &xs {
                v.add_f64_slice(&[x]).unwrap();
            }
            assert_same(v.get_f64(0), want, &xs);
        }
    }

    /// Sums on the 2^-40 grid are rounded exactly like their exact `i128` total.
    #[test]
    fn correctly_rounded_like_i128() {
        // Addends that are multiples of 2^-40 below 2^50: the exact sum is an
        // i128 number of 2^-40 units; `as f64` rounds it correctly.
        let mut rng = Rng(7);
        for _ in 0..3000 {
            let n = 1 + rng.below(300);
            let mut units = 0i128;
            let mut acc = Fixed::default();
            for _ in 0..n {
                let top = rng.range_i32(-40, 49);
                let keep = (top + 40).min(52) as u32; // significant bits kept
                let m = (rng.next_u64() >> (63 - keep)) | 1 << keep;
                let e = top - keep as i32;
                let x = m as f64 * 2f64.powi(e) * if rng.coin() { -1.0 } else { 1.0 };
                units += (x * 2f64.powi(40)) as i128;
                acc.add(&Fixed::from_f64(x).unwrap());
            }
            let want = units as f64 * 2f64.powi(-40);
            assert_same(acc.to_f64(), want, &units);
        }
    }

    /// Cancellation, ties to even, sticky bits, negative totals, limb-boundary crossings.
    #[test]
    fn adversarial_sums() {
        let p = |k: i32| 2f64.powi(k);
        let cases: Vec<(Vec<f64>, f64)> = vec![
            (vec![p(50), 1.0, -p(50)], 1.0),
            (vec![p(50), p(-100), -p(50)], p(-100)),
            (vec![p(83), p(-108), -p(83)], p(-108)),
            (vec![p(-108), -p(-107)], -p(-108)),
            // Ties to even.
            (vec![p(53), 1.0], p(53)),
            (vec![p(53), 3.0], p(53) + 4.0),
            (vec![-p(53), -1.0], -p(53)),
            (vec![-p(53), -3.0], -p(53) - 4.0),
            (vec![p(53) - 1.0, 0.5], p(53)), // carry into the exponent
            (vec![-(p(53) - 1.0), -0.5], -p(53)),
            (vec![1.0, p(-53)], 1.0),
            (vec![1.0, p(-53), p(-52)], 1.0 + 2.0 * p(-52)),
            // A tie broken by a sticky bit far below.
            (vec![p(53), 1.0, p(-100)], p(53) + 2.0),
            (vec![p(53), 1.0, -p(-100)], p(53)),
            (vec![p(53), 3.0, -p(-107)], p(53) + 2.0),
            // Negative totals close to a power of two.
            (vec![1.0, -p(-100)], 1.0),
            (vec![-1.0, p(-100)], -1.0),
            (vec![p(-1), -1.0, -p(-60)], -0.5),
            (vec![-p(80), p(-20)], -p(80)),
            // Beyond one addend's range, still exact.
            (
                vec![MAX_MAGNITUDE - p(31); 8],
                8.0 * (MAX_MAGNITUDE - p(31)),
            ),
            (
                vec![MAX_MAGNITUDE - p(31), MAX_MAGNITUDE - p(31), p(-108)],
                p(85) - p(32),
            ),
            (vec![0.1, 0.2, 0.3, -0.6], fsum(&[0.1, 0.2, 0.3, -0.6])),
        ];
        for (xs, want) in cases {
            assert_same(sum_fixed(&xs).to_f64(), want, &xs);
            assert_same(fsum(&xs), want, &("fsum", &xs));
        }

        // Many tiny values whose sum crosses limb boundaries (2^-76, 2^-44).
        for (x, n) in [
            (p(-77) + p(-107), 5000),
            (p(-108) * 3.0, 3000),
            (p(-45) - p(-97), 4097),
            (-(p(-77) + p(-108)), 777),
        ] {
            let xs = vec![x; n];
            let mut with_one = xs.clone();
            with_one.push(1.0);
            for xs in [xs, with_one] {
                assert_same(sum_fixed(&xs).to_f64(), fsum(&xs), &(x, n));
            }
        }
    }

    /// Arbitrary (even extreme, unnormalised) limbs round correctly.
    #[test]
    fn rounding_of_arbitrary_limbs() {
        // Any limbs, normalised or not, against fsum of their exact parts:
        // each limb split into a signed high and an unsigned low 32-bit half.
        let mut rng = Rng(8);
        for case in 0..100_000 {
            let mut l = [0i64; LIMBS];
            for v in l.iter_mut() {
                *v = match rng.below(4) {
                    0 => rng.next_u64() as i64,
                    1 => (rng.next_u64() as i64) >> rng.below(64),
                    2 => (rng.next_u64() & LIMB_MASK) as i64,
                    _ => 0,
                };
            }
            if case % 5 == 0 {
                normalize_limbs(&mut l);
            }
            let parts: Vec<f64> = l
                .iter()
                .enumerate()
                .flat_map(|(i, &v)| {
                    let w = 32 * i as i32 - FRAC_BITS as i32;
                    [
                        (v >> 32) as f64 * 2f64.powi(w + 32),
                        (v & 0xFFFF_FFFF) as f64 * 2f64.powi(w),
                    ]
                })
                .collect();
            let want = fsum(&parts);
            let f = Fixed::from_limbs(l);
            assert_same(f.to_f64(), want, &l);
            assert_eq!(f.limbs(), &l);
        }
    }

    /// Normalisation keeps the value, is idempotent and has the documented form.
    #[test]
    fn normalize_keeps_the_value() {
        let mut rng = Rng(9);
        for _ in 0..100_000 {
            let mut l = [0i64; LIMBS];
            for v in l.iter_mut() {
                *v = (rng.next_u64() as i64) >> 2; // within the headroom
            }
            let f = Fixed::from_limbs(l);
            let mut n = f;
            n.normalize();
            assert!(is_normalized(&n.limbs));
            assert_same(n.to_f64(), f.to_f64(), &l);
            assert_eq!(n.to_i128(), f.to_i128());
            let mut again = n;
            again.normalize();
            assert_eq!(again, n);
        }
        // Zero has the all-zero normal form; -2^-108 borrows through all limbs.
        let mut z = sum_fixed(&[1.5, -1.5]);
        z.normalize();
        assert_eq!(z, Fixed::default());
        assert_same(z.to_f64(), 0.0, &z);
        let mut m = Fixed::from_f64(-(2f64.powi(-108))).unwrap();
        m.normalize();
        assert_eq!(
            m.limbs,
            [
                0xFFFF_FFFF,
                0xFFFF_FFFF,
                0xFFFF_FFFF,
                0xFFFF_FFFF,
                0xFFFF_FFFF,
                -1
            ]
        );
    }

    /// 2^30 additions of the largest accepted addend overflow no limb.
    #[test]
    fn headroom_for_2_pow_30_largest_addends() {
        let big = MAX_MAGNITUDE - 2f64.powi(31); // largest accepted addend
        let n = 1i64 << 30;
        for x in [big, -big, big * 0.75 + 1.0 + 2f64.powi(-100)] {
            let f = Fixed::from_f64(x).unwrap();
            assert!(f.limbs.iter().all(|l| l.unsigned_abs() < 1 << 32));
            let mut normed = f;
            normed.normalize();
            // 2^30 limb-wise additions of `f` (or of its normal form) are
            // `n * limb`: no limb overflows.
            for g in [f, normed] {
                let limbs = g.limbs.map(|l| l.checked_mul(n).expect("limb overflow"));
                let sum = Fixed::from_limbs(limbs);
                let exact = x * 2f64.powi(30); // exact scaling
                assert_same(sum.to_f64(), exact, &x);
                if x.fract() == 0.0 {
                    assert_eq!(sum.to_i128(), Some((x as i128) << 30));
                }
                // Normalised, the total's top limb still leaves room for
                // 2^30 more normalised operands' lower limbs and carries.
                let mut s = sum;
                s.normalize();
                assert!(s.limbs[LIMBS - 1].unsigned_abs() < 1 << 62);
                assert_same(s.to_f64(), exact, &x);
            }
        }
        // A direct loop over a smaller count agrees with the multiplication.
        let f = Fixed::from_f64(-big).unwrap();
        let mut acc = Fixed::default();
        for _ in 0..100_000 {
            acc.add(&f);
        }
        assert_eq!(acc, Fixed::from_limbs(f.limbs.map(|l| l * 100_000)));
        assert_eq!(acc.to_i128(), Some(-(big as i128) * 100_000));
        // Two halves of 2^29 addends each, normalised and then added: the
        // grouping bound of the module docs.
        let half = Fixed::from_limbs(Fixed::from_f64(big).unwrap().limbs.map(|l| l << 29));
        let mut a = half;
        a.normalize();
        let mut total = a;
        total.add(&a);
        assert_eq!(total.to_i128(), Some((big as i128) << 30));
    }

    /// `FixedVec` normalises by itself before the headroom runs out.
    #[test]
    fn fixed_vec_normalizes_before_headroom_runs_out() {
        let mut v = FixedVec::new(2);
        v.add_f64_slice(&[-1.0, 2.5]).unwrap();
        v.adds_since_normalize = ADD_LIMIT;
        v.add_f64_slice(&[-1.0, 0.25]).unwrap();
        assert_eq!(v.adds_since_normalize, 1);
        assert!(is_normalized(limb_array_ref(&v.limbs[..LIMBS])));
        assert_eq!(v.to_f64_vec(), vec![-2.0, 2.75]);

        let mut other = FixedVec::new(2);
        other.add_f64_slice(&[0.5, 0.5]).unwrap();
        other.adds_since_normalize = ADD_LIMIT;
        v.add_assign(&other);
        assert_eq!(v.adds_since_normalize, 0, "normalised after the add");
        assert_eq!(v.to_f64_vec(), vec![-1.5, 3.25]);

        v.add_i128(1, -3).unwrap();
        assert_eq!(v.get_i128(1), None);
        v.add_i128(0, 1).unwrap();
        assert_eq!(v.get_i128(0), None);
        v.add_f64_slice(&[0.5, -0.25]).unwrap();
        assert_eq!(v.get_i128(0), Some(0));
        assert_eq!(v.get_i128(1), Some(0));
        assert_eq!(
            v.add_i128(0, 1 << 84),
            Err(Unrepresentable {
                value: 2f64.powi(84)
            })
        );
        assert!(!v.is_empty());
        assert!(FixedVec::new(0).is_empty());
    }

    /// A bad element is reported by index and the accumulator keeps its value.
    #[test]
    fn add_f64_slice_reports_first_bad_index_and_changes_nothing() {
        let mut v = FixedVec::new(5);
        v.add_f64_slice(&[1.0, -2.0, 3.5, 1e-30, 7.0]).unwrap();
        let before = v.to_f64_vec();
        let words_before = v.words().to_vec();
        let err = v
            .add_f64_slice(&[1.0, 2.0, f64::INFINITY, f64::NAN, 3.0])
            .unwrap_err();
        assert_eq!(
            err,
            (
                2,
                Unrepresentable {
                    value: f64::INFINITY
                }
            )
        );
        assert_eq!(v.to_f64_vec(), before);
        assert_eq!(v.words(), &words_before[..]);
        let err = v.add_f64_slice(&[1.0, 2.0, 3.0, 4.0, -1e90]).unwrap_err();
        assert_eq!(err, (4, Unrepresentable { value: -1e90 }));
        assert_eq!(v.words(), &words_before[..]);
        let (i, e) = v.add_f64_slice(&[f64::NAN; 5]).unwrap_err();
        assert_eq!(i, 0);
        assert!(e.value.is_nan());
        assert_eq!(v.to_f64_vec(), before);
    }

    /// Merging vectors of different lengths panics, naming both.
    #[test]
    #[should_panic(expected = "lengths differ (3 and 4)")]
    fn add_assign_length_mismatch_panics() {
        FixedVec::new(3).add_assign(&FixedVec::new(4));
    }

    /// Adding a slice of the wrong length panics, naming both.
    #[test]
    #[should_panic(expected = "2 values for 3 numbers")]
    fn add_f64_slice_length_mismatch_panics() {
        let _ = FixedVec::new(3).add_f64_slice(&[1.0, 2.0]);
    }

    /// Raw words round-trip, and summing them with plain `i64` additions (as `MPI_SUM` does) equals `add_assign`.
    #[test]
    fn words_transport_like_mpi_sum() {
        let mut rng = Rng(10);
        for case in 0..200 {
            let len = rng.below(20);
            let ranks = 1 + rng.below(6);
            let mut vecs: Vec<FixedVec> = (0..ranks)
                .map(|_| {
                    let mut v = FixedVec::new(len);
                    for _ in 0..rng.below(50) {
                        let xs: Vec<f64> = (0..len).map(|_| rng.f64_in(-60, 80)).collect();
                        v.add_f64_slice(&xs).unwrap();
                    }
                    v
                })
                .collect();
            // Round trip of the raw words.
            for v in &vecs {
                let w = FixedVec::from_words(v.words().to_vec());
                assert_eq!(w.words(), v.words());
                assert_eq!(w.len(), v.len());
                let (a, b) = (w.to_f64_vec(), v.to_f64_vec());
                assert!(a.iter().zip(&b).all(|(x, y)| x.to_bits() == y.to_bits()));
            }
            if case % 2 == 0 {
                for v in &mut vecs {
                    let words = v.normalized_words();
                    v.normalize();
                    assert_eq!(v.words(), &words[..]);
                    assert!(words
                        .chunks_exact(LIMBS)
                        .all(|l| is_normalized(limb_array_ref(l))));
                }
            }
            // MPI_SUM: plain element-wise i64 addition of the words.
            let mut mpi = vec![0i64; len * LIMBS];
            for v in &vecs {
                for (s, w) in mpi.iter_mut().zip(v.words()) {
                    *s += w;
                }
            }
            let mut mpi = FixedVec::from_words(mpi);
            let mut merged = FixedVec::new(len);
            for v in &vecs {
                merged.add_assign(v);
            }
            let (a, b) = (mpi.to_f64_vec(), merged.to_f64_vec());
            assert!(a.iter().zip(&b).all(|(x, y)| x.to_bits() == y.to_bits()));
            // Accumulating further on received words works (normalises first).
            let xs: Vec<f64> = (0..len).map(|_| rng.f64_in(-60, 80)).collect();
            mpi.add_f64_slice(&xs).unwrap();
            merged.add_f64_slice(&xs).unwrap();
            mpi.normalize();
            merged.normalize();
            assert_eq!(mpi.words(), merged.words());
            for i in 0..len {
                assert_eq!(mpi.get(i), merged.get(i));
            }
        }
        // words_mut: an in-place receive buffer.
        let mut v = FixedVec::new(1);
        v.add_f64_slice(&[2.0]).unwrap();
        let w = Fixed::from_f64(0.5).unwrap();
        for (a, b) in v.words_mut().iter_mut().zip(w.limbs()) {
            *a += b;
        }
        assert_eq!(v.adds_since_normalize, ADD_LIMIT);
        assert_eq!(v.get_f64(0), 2.5);
    }

    /// One rank's partial sums in the test of the wire: one addend as it
    /// came, or several accumulated.
    enum Partial {
        One(Vec<f64>),
        Many(FixedVec),
    }

    /// A random vector of `n` accepted values with a random character.
    fn random_values(rng: &mut Rng, n: usize, style: usize) -> Vec<f64> {
        let p = |k: i32| 2f64.powi(k);
        (0..n)
            .map(|_| match style {
                0 => rng.f64_in(-60, 20),
                1 => rng.f64_in(-115, 83),
                2 => (rng.below(2001) as f64 - 1000.0) * p(rng.range_i32(-20, 20)),
                3 => match rng.below(8) {
                    0 => MAX_MAGNITUDE - p(31),
                    1 => -(MAX_MAGNITUDE - p(31)),
                    2 => p(-108),
                    3 => -p(-108),
                    4 => p(-109) * 1.5,
                    5 => 0.0,
                    6 => -0.0,
                    _ => rng.f64_in(-108, 83),
                },
                4 => 0.0,
                _ => rng.f64_in(-3, 3).trunc(),
            })
            .collect()
    }

    /// The narrow wire gives the bits of the old six-limb exchange, for
    /// random partial sums on random numbers of ranks (one addend or
    /// several per rank, any mix of magnitudes and signs, cancellation,
    /// all zeros), and the fsum of the truncated addends.
    #[test]
    fn narrow_wire_gives_the_bits_of_the_limbs() {
        let mut rng = Rng(12);
        let mut seen = [0usize; 4];
        let mut opened = 0;
        for case in 0..3000 {
            let ranks = 1 + rng.below(7);
            let n = rng.below(12);
            let mut all_addends: Vec<Vec<f64>> = vec![Vec::new(); n];
            let mut partials = Vec::new();
            for _ in 0..ranks {
                let style = rng.below(6);
                let addends = if rng.coin() { 1 } else { rng.below(4) };
                let mut acc = FixedVec::new(n);
                let mut first = None;
                for _ in 0..addends {
                    let mut xs = random_values(&mut rng, n, style);
                    if case % 7 == 0 && !all_addends.is_empty() && !all_addends[0].is_empty() {
                        // Cancel what the earlier ranks added.
                        for (x, earlier) in xs.iter_mut().zip(&all_addends) {
                            *x = -earlier[0];
                        }
                    }
                    acc.add_f64_slice(&xs).unwrap();
                    for (col, &x) in all_addends.iter_mut().zip(&xs) {
                        col.push(x);
                    }
                    first.get_or_insert(xs);
                }
                partials.push(match (addends, first) {
                    (1, Some(xs)) => Partial::One(xs),
                    _ => Partial::Many(acc),
                });
            }
            let span = partials
                .iter()
                .map(|p| match p {
                    Partial::One(xs) => Span::of_f64s(xs),
                    Partial::Many(f) => Span::of_fixed(f),
                })
                .fold(Span::EMPTY, Span::union);
            let wire = Wire::choose(span, ranks);
            seen[match wire {
                Wire::Zero => 0,
                Wire::One { .. } => 1,
                Wire::Split { .. } => 2,
                Wire::Limbs => 3,
            }] += 1;
            let k = wire.words_per_number();
            let mut sums = vec![0i64; n * k];
            let mut order: Vec<usize> = (0..ranks).collect();
            rng.shuffle(&mut order);
            // Each rank's partial sums as a FixedVec too (for the limbs and
            // the remainders of the Split).
            let fixed: Vec<FixedVec> = partials
                .iter()
                .map(|p| match p {
                    Partial::One(xs) => {
                        let mut f = FixedVec::new(n);
                        f.add_f64_slice(xs).unwrap();
                        f
                    }
                    Partial::Many(f) => f.clone(),
                })
                .collect();
            for &r in &order {
                let mut words = vec![0i64; n * k];
                match &partials[r] {
                    Partial::One(xs) if wire != Wire::Limbs => wire.pack_f64s(xs, &mut words),
                    _ => wire.pack_fixed(&fixed[r], &mut words),
                }
                for (s, w) in sums.iter_mut().zip(&words) {
                    *s = s.checked_add(*w).expect("no word overflows");
                }
            }
            let mut got = vec![f64::NAN; n];
            let open = wire.unpack(&sums, &mut got);
            if !open.is_empty() {
                opened += open.len();
                let mut rests = vec![0i64; open.len()];
                for &r in &order {
                    let mut words = vec![0i64; open.len()];
                    match &partials[r] {
                        Partial::One(xs) => wire.remainders_f64s(xs, &open, &mut words),
                        Partial::Many(f) => wire.remainders_fixed(f, &open, &mut words),
                    }
                    // The two ways of taking remainders agree.
                    let mut again = vec![0i64; open.len()];
                    wire.remainders_fixed(&fixed[r], &open, &mut again);
                    assert_eq!(words, again);
                    for (s, w) in rests.iter_mut().zip(&words) {
                        assert!(*w >= 0);
                        *s = s.checked_add(*w).expect("no remainder overflows");
                    }
                }
                wire.finish(&sums, &open, &rests, &mut got);
            }
            // The old path: six limbs per number, added as FixedVecs.
            let mut old = FixedVec::new(n);
            for p in &partials {
                match p {
                    Partial::One(xs) => old.add_f64_slice(xs).unwrap(),
                    Partial::Many(f) => old.add_assign(f),
                }
            }
            let want = old.to_f64_vec();
            for i in 0..n {
                assert_same(got[i], want[i], &(case, i, wire, span));
                let truncated: Vec<f64> = all_addends[i].iter().map(|&x| trunc_ref(x)).collect();
                assert_same(got[i], fsum(&truncated), &(case, i, "fsum"));
            }
        }
        // Every layout was exercised, and the second exchange of the split.
        assert!(seen.iter().all(|&c| c > 50), "{seen:?}");
        assert!(opened > 100, "{opened}");
    }

    /// The layouts' headroom on 2^30 ranks, and their limits: the extreme
    /// words of values at the edges of a span, times the number of ranks,
    /// stay inside `i64`.
    #[test]
    fn wire_headroom_holds_for_2_pow_30_ranks() {
        for ranks in [1usize, 2, 3, 4, 5, 1000, 1 << 20, 1 << 30] {
            let h = headroom_bits(ranks);
            assert!(ranks as i128 <= 1 << h && (ranks as i128) > (1 << h) / 2 || ranks == 1);
            for t in 0..=200i32 {
                let span = Span {
                    low: -108,
                    high: -108 + t,
                };
                let wire = Wire::choose(span, ranks);
                // The extreme values of the span, in units of 2^low.
                let (lo_v, hi_v) = (-(1i128 << t.min(126)), (1i128 << t.min(126)) - 1);
                match wire {
                    Wire::Zero => unreachable!("a nonempty span"),
                    Wire::One { .. } => {
                        assert!(t as i64 + h <= 63);
                        assert!(ranks as i128 * lo_v >= i64::MIN as i128);
                        assert!(ranks as i128 * hi_v <= i64::MAX as i128);
                    }
                    Wire::Split {
                        shift, ranks: r, ..
                    } => {
                        assert_eq!(r as usize, ranks);
                        assert_eq!(shift as i64, t as i64 + h - 63);
                        // Remainders in [0, 2^shift), quotients of the
                        // extreme values: P of each fit an i64.
                        let rest_max = (1i128 << shift) - 1;
                        assert!(ranks as i128 * rest_max <= i64::MAX as i128);
                        for v in [lo_v, hi_v] {
                            let q = v >> shift;
                            assert!(ranks as i128 * q >= i64::MIN as i128, "{ranks} {t}");
                            assert!(ranks as i128 * q <= i64::MAX as i128, "{ranks} {t}");
                            // The interval end Q + ranks and the exact
                            // total Q · 2^shift + R fit their types.
                            assert!(ranks as i128 * (q + 1) <= i64::MAX as i128 + 1);
                            let total = ((ranks as i128 * q) << shift) + ranks as i128 * rest_max;
                            assert!(total.unsigned_abs() < 1 << 127);
                        }
                    }
                    Wire::Limbs => assert!(t as i64 + 2 * h > 126),
                }
                // One word as long as the span and the headroom fit 63
                // bits (or twice that, split); limbs beyond.
                let want = if t as i64 + 2 * h <= 126 { 1 } else { LIMBS };
                assert_eq!(wire.words_per_number(), want);
            }
        }
        assert_eq!(Wire::choose(Span::EMPTY, 4), Wire::Zero);
        assert_eq!(sum_bytes(10, 0, Span::EMPTY, 4, 0), 0);
        assert_eq!(
            sum_bytes(10, 1, Span { low: -59, high: 11 }, 2, 3),
            8 * (10 + 6 + 3)
        );
        assert_eq!(sum_bytes(10, 0, Span { low: 0, high: 40 }, 2, 3), 80);
        assert_eq!(
            sum_bytes(
                3,
                0,
                Span {
                    low: -108,
                    high: 84
                },
                2,
                1
            ),
            8 * 18
        );
        // A span round-trips through its words.
        for s in [
            Span::EMPTY,
            Span {
                low: -108,
                high: 116,
            },
            Span { low: 3, high: 3 },
        ] {
            assert_eq!(Span::from_words(s.to_words()), s);
        }
    }

    /// The span of values at the edges of the range, of one addend and of
    /// sums.
    #[test]
    fn spans_of_edge_values() {
        let p = |k: i32| 2f64.powi(k);
        let one = |x: f64| Span::of_f64s(&[x]);
        assert_eq!(one(1.0), Span { low: 0, high: 1 });
        assert_eq!(one(-1.0), Span { low: 0, high: 1 });
        assert_eq!(one(1.5), Span { low: -1, high: 1 });
        assert_eq!(
            one(p(-108)),
            Span {
                low: -108,
                high: -107
            }
        );
        assert_eq!(one(p(-109)), Span::EMPTY);
        assert_eq!(one(0.0), Span::EMPTY);
        assert_eq!(one(-0.0), Span::EMPTY);
        assert_eq!(one(5e-324), Span::EMPTY);
        assert_eq!(
            one(p(-100) + p(-150)),
            Span {
                low: -108,
                high: -99
            }
        );
        assert_eq!(one(MAX_MAGNITUDE - p(31)), Span { low: 31, high: 84 });
        let fixed = |xs: &[f64]| {
            let mut f = FixedVec::new(xs.len());
            f.add_f64_slice(xs).unwrap();
            Span::of_fixed(&f)
        };
        // A fixed number's span is the tight one: -1 is in [-2^0, 2^0).
        assert_eq!(fixed(&[-1.0]), Span { low: 0, high: 0 });
        assert_eq!(fixed(&[1.0]), Span { low: 0, high: 1 });
        assert_eq!(fixed(&[0.0, -0.0, p(-109)]), Span::EMPTY);
        assert_eq!(
            fixed(&[p(-108), -p(-107)]),
            Span {
                low: -108,
                high: -107
            }
        );
        let mut f = FixedVec::new(1);
        for _ in 0..8 {
            f.add_f64_slice(&[MAX_MAGNITUDE - p(31)]).unwrap();
        }
        assert_eq!(Span::of_fixed(&f), Span { low: 34, high: 87 });
        // Every span holds its values: the words of each value round-trip.
        let mut rng = Rng(13);
        for _ in 0..20_000 {
            let style = rng.below(6);
            let xs = random_values(&mut rng, 3, style);
            let span = Span::of_f64s(&xs);
            let wire = Wire::choose(span, 1);
            if wire == Wire::Limbs {
                continue;
            }
            let mut words = vec![0; 3 * wire.words_per_number()];
            wire.pack_f64s(&xs, &mut words);
            let mut back = vec![0.0; 3];
            let open = wire.unpack(&words, &mut back);
            if !open.is_empty() {
                let mut rests = vec![0; open.len()];
                wire.remainders_f64s(&xs, &open, &mut rests);
                wire.finish(&words, &open, &rests, &mut back);
            }
            for (x, b) in xs.iter().zip(&back) {
                assert_same(*b, trunc_ref(*x), &(x, wire));
            }
        }
    }

    /// The f64 truncation and floor behind the packing of one addend.
    #[test]
    fn truncate_and_floor() {
        let mut rng = Rng(15);
        for case in 0..200_000 {
            let x = match case % 3 {
                0 => rng.f64_in(-170, 83),
                1 => rng.f64_in(-115, -100),
                _ => f64::from_bits(rng.next_u64() >> 12) * if rng.coin() { -1.0 } else { 1.0 },
            };
            assert_same(truncate_f64(x), trunc_ref(x), &x);
            let y = rng.f64_in(-60, 62);
            assert_eq!(floor_to_i64(y), y.floor() as i64, "{y:e}");
        }
        assert_same(truncate_f64(-0.0), 0.0, &"-0");
        assert_eq!(floor_to_i64(-2.0), -2);
        assert_eq!(floor_to_i64(-2.5), -3);
        assert_eq!(floor_to_i64(2.5), 2);
    }

    /// The fast conversion of 128-bit integers rounds as the built-in one.
    #[test]
    fn i128_conversion_rounds_correctly() {
        let mut rng = Rng(14);
        for case in 0..200_000 {
            let raw = (u128::from(rng.next_u64()) << 64 | u128::from(rng.next_u64())) as i128;
            let v = match case % 4 {
                0 => raw >> rng.below(127),
                1 => (raw >> 60) | 0x7ff, // runs of ones (ties, carries)
                2 => (raw >> 60) & !0x7ff | 0x400, // exact ties
                _ => raw >> 1,
            };
            let low = rng.range_i32(-108, 40);
            let want = v as f64 * pow2(low);
            assert_same(i128_to_f64_scaled(v, low), want, &(v, low));
        }
        assert_same(i128_to_f64_scaled(0, -108), 0.0, &0);
        assert_same(i128_to_f64_scaled(i128::MIN / 2, 0), -(2f64.powi(126)), &1);
    }

    /// Prints ns/element of the hot paths (`EXACT_N` sets the vector length).
    #[test]
    #[ignore = "timing; run with --release -- --ignored --nocapture"]
    fn timing() {
        use std::hint::black_box;
        use std::time::Instant;
        let mut rng = Rng(11);
        let n = std::env::var("EXACT_N").map_or(1 << 14, |v| v.parse().unwrap());
        let xs: Vec<f64> = (0..n).map(|_| rng.f64_in(-60, 50)).collect();
        let mut v = FixedVec::new(n);
        let reps = 2000;
        v.add_f64_slice(&xs).unwrap();
        let t = Instant::now();
        for _ in 0..reps {
            v.add_f64_slice(black_box(&xs)).unwrap();
        }
        let add_ns = t.elapsed().as_nanos() as f64 / (reps * n) as f64;
        let t = Instant::now();
        let mut out = 0.0;
        for _ in 0..reps / 20 {
            out += black_box(v.to_f64_vec())[n / 2];
        }
        let to_ns = t.elapsed().as_nanos() as f64 / ((reps / 20) * n) as f64;
        let t = Instant::now();
        for _ in 0..reps / 20 {
            black_box(&mut v).normalize();
        }
        let norm_ns = t.elapsed().as_nanos() as f64 / ((reps / 20) * n) as f64;
        let t = Instant::now();
        let mut f = Fixed::default();
        for _ in 0..reps {
            for &x in black_box(&xs) {
                f.add(&Fixed::from_f64(x).unwrap());
            }
        }
        let single_ns = t.elapsed().as_nanos() as f64 / (reps * n) as f64;
        println!(
            "add_f64_slice {add_ns:.2} ns/element, to_f64_vec {to_ns:.2} ns/element, \
             normalize {norm_ns:.2} ns/element, Fixed::from_f64+add {single_ns:.2} ns/element \
             ({out:e} {:e})",
            f.to_f64()
        );
    }
}
