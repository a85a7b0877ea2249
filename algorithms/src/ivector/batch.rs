//! The per-session solves of the i-vector E-step, [`LANES`] sessions at a
//! time.
//!
//! Each session needs the Cholesky factor `G` of its `R × R` precision
//! `L = G·Gᵀ`, `log det L`, the mean `L⁻¹ b` and (in training, or when the
//! posterior covariances are asked) the packed inverse `L⁻¹`. At the rank
//! of speaker recognition (`R` ≈ 100–400) one session is too small for a
//! factorisation library to run near the machine's peak: a 100 × 100
//! Cholesky through faer ran at about 7 GFLOP/s here, where the GEMMs of
//! the same iteration run at 48–53 (and these kernels at 32 for the
//! factorisation, 41 for the inverse). So the batch stores `LANES` sessions'
//! matrices interleaved, element by element (`[f64; LANES]` per entry):
//! every arithmetic operation of the plain scalar algorithm becomes one
//! operation on a vector of `LANES` independent sessions, with unit-stride
//! loads, and no lane ever reads another. A session's bits therefore do
//! not depend on which other sessions share its batch, nor on where a
//! block boundary falls (padding lanes hold the identity).
//!
//! Every step is written as dot products over contiguous packed rows (the
//! factor packed by rows of its lower triangle, `Z = G⁻ᵀ` by rows of its
//! upper triangle), each with four accumulators:
//!
//! ```text
//! G[i][j] = (L[i][j] − Σ_{k<j} G[i][k]·G[j][k]) / G[j][j]    (Cholesky, i ≥ j)
//! Z[j][i] = −(Σ_{j≤k<i} G[i][k]·Z[j][k]) / G[i][i]           (Z = G⁻ᵀ, i > j)
//! L⁻¹[i][j] = Σ_{k≥i} Z[i][k]·Z[j][k]                        (L⁻¹ = Z·Zᵀ, i ≥ j)
//! ```
//!
//! `R³/3 + R³/3 + R³/3` flops per session, as LAPACK's `potrf` + `potri`.
//! The kernels are compiled once per level of [`crate::simd`] (portable,
//! AVX2 + FMA, AVX-512; the lane operations are in [`crate::simd::batch`]):
//! the portable bits differ from the others, AVX-512's are AVX2's, and
//! none differ between threads or ranks on one machine.

// The lane loops (`for l in 0..LANES`) index several arrays in step: that
// is the form the vectoriser turns into one vector operation.
#![allow(clippy::needless_range_loop)]

use crate::linalg::packed_len;
pub(crate) use crate::simd::batch::LANES;
use crate::simd::batch::{add_prod, dot, dot2x2, madd, neg_mul, sub_mul, V, ZERO};
use crate::simd::{dispatch, prefetch};

/// One entry of every lane on its own cache line.
#[derive(Clone, Copy)]
#[repr(C, align(64))]
struct Line(V);

/// Entries of a batch, each on its own cache line: a `Vec<V>` is only
/// 8-byte aligned, and then half of the kernels' vector loads straddle two
/// lines (measured: about a third slower).
struct Lines(Vec<Line>);

impl Lines {
    fn new(len: usize) -> Lines {
        Lines(vec![Line(ZERO); len])
    }
}

impl std::ops::Deref for Lines {
    type Target = [V];
    fn deref(&self) -> &[V] {
        // SAFETY: `Line` is `repr(C)` around one `V`, with the same size
        // (64 bytes, a multiple of its alignment), so the slice of lines
        // is a slice of `V`s.
        unsafe { std::slice::from_raw_parts(self.0.as_ptr().cast::<V>(), self.0.len()) }
    }
}

impl std::ops::DerefMut for Lines {
    fn deref_mut(&mut self) -> &mut [V] {
        // SAFETY: as in `deref`, borrowed mutably.
        unsafe { std::slice::from_raw_parts_mut(self.0.as_mut_ptr().cast::<V>(), self.0.len()) }
    }
}

/// `LANES` sessions' matrices and right-hand sides, and the results.
pub(crate) struct Batch {
    r: usize,
    /// The precisions, packed by rows of the lower triangle; after
    /// [`Batch::factor_and_solve`] (or [`Batch::factor_each`]) their
    /// Cholesky factors, after [`Batch::inverse`] the inverses.
    g: Lines,
    /// `Z = G⁻ᵀ`, packed by rows of the upper triangle.
    z: Lines,
    /// `1 / G[i][i]`.
    inv_diag: Lines,
    /// The right-hand sides `b`.
    b: Lines,
    /// The means `L⁻¹ b`.
    x: Lines,
    /// `log det L` per lane.
    log_det: V,
    /// The next batch's precisions, asked for during [`Batch::factor_and_solve`].
    next_input: Ahead,
    /// The next batch's output rows, asked for during [`Batch::inverse`].
    next_output: Ahead,
}

/// Where the factorisation failed: the lane and the index of the first
/// pivot that is not a positive finite number.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct NotPositive {
    pub(crate) lane: usize,
    pub(crate) pivot: usize,
}

impl Batch {
    /// A batch for rank `r`.
    pub(crate) fn new(r: usize) -> Batch {
        let k = packed_len(r);
        Batch {
            r,
            g: Lines::new(k),
            z: Lines::new(k),
            inv_diag: Lines::new(r),
            b: Lines::new(r),
            x: Lines::new(r),
            log_det: ZERO,
            next_input: Ahead::default(),
            next_output: Ahead::default(),
        }
    }

    /// The batch in `slot`, made anew there unless it is for rank `r`
    /// (a batch kept between calls, e.g. in [`crate::scratch`]).
    pub(crate) fn in_slot(slot: &mut Option<Batch>, r: usize) -> &mut Batch {
        if slot.as_ref().is_none_or(|batch| batch.r != r) {
            *slot = Some(Batch::new(r));
        }
        slot.as_mut().expect("just filled")
    }

    /// Asks the cache, a few lines at a time while the next
    /// [`Batch::factor_and_solve`] or [`Batch::factor_each`] runs, for the
    /// rows of `columns` (`K × lanes`, the next batch's input to
    /// [`Batch::load_columns`]): their first reads then hit the cache.
    pub(crate) fn prefetch_input(&mut self, columns: ndarray::ArrayView2<'_, f64>) {
        self.next_input = Ahead::rows(columns.as_ptr(), columns.strides()[0], columns.nrows());
    }

    /// As [`Batch::prefetch_input`], during the next [`Batch::inverse`],
    /// for the entries of `out` (`lanes × K`, the next batch's output of
    /// [`Batch::write_inverses`]).
    pub(crate) fn prefetch_output(&mut self, out: ndarray::ArrayView2<'_, f64>) {
        self.next_output = Ahead::rows(out.as_ptr(), out.strides()[1], out.ncols());
    }

    /// Loads the first `packed.len()` lanes: the precisions `I + packed[l]`
    /// and right-hand sides `b[l]` (the tests' form of
    /// [`Batch::load_columns`] and [`Batch::set_rhs`]).
    #[cfg(test)]
    fn load(&mut self, packed: &[&[f64]], b: &[&[f64]]) {
        let columns =
            ndarray::Array2::from_shape_fn((self.g.len(), packed.len()), |(i, l)| packed[l][i]);
        self.load_columns(columns.view(), true);
        self.set_rhs(b);
    }

    /// Sets the right-hand sides of the first `b.len()` lanes (zero in the
    /// others).
    ///
    /// # Panics
    ///
    /// If more than [`LANES`] are given, or one has a length other than `R`.
    pub(crate) fn set_rhs(&mut self, b: &[&[f64]]) {
        assert!(b.len() <= LANES && b.iter().all(|b| b.len() == self.r));
        for (i, x) in self.b.iter_mut().enumerate() {
            *x = ZERO;
            for (v, b) in x.iter_mut().zip(b) {
                *v = b[i];
            }
        }
    }

    /// Loads the first `lanes` lanes with the columns of `columns` (`K ×
    /// lanes`, one matrix per column packed by rows of its lower triangle,
    /// at most [`LANES`]), plus the identity when `plus_identity`, read
    /// row by row (each row is one entry of every lane); zero right-hand
    /// sides. The other lanes get the identity.
    ///
    /// # Panics
    ///
    /// If `columns` does not have `K` rows, or has more than `LANES`
    /// columns.
    pub(crate) fn load_columns(
        &mut self,
        columns: ndarray::ArrayView2<'_, f64>,
        plus_identity: bool,
    ) {
        let lanes = columns.ncols();
        assert!(columns.nrows() == self.g.len() && lanes <= LANES);
        let stride = columns.strides()[0];
        let base = columns.as_ptr();
        for (i, (g, row)) in self.g.iter_mut().zip(columns.rows()).enumerate() {
            prefetch(base.wrapping_offset(stride * (i + PREFETCH_ROWS) as isize));
            match row.as_slice() {
                // A whole batch: a fixed-size copy (two vector moves, where
                // a copy of `lanes` entries is a call to memcpy).
                Some(row) if lanes == LANES => *g = row.try_into().expect("LANES entries"),
                Some(row) => {
                    *g = ZERO;
                    g[..lanes].copy_from_slice(row);
                }
                None => {
                    *g = ZERO;
                    for (v, &x) in g.iter_mut().zip(row.iter()) {
                        *v = x;
                    }
                }
            }
        }
        let shift = if plus_identity { 1.0 } else { 0.0 };
        for i in 0..self.r {
            for (l, v) in self.g[diag(i)].iter_mut().enumerate() {
                *v += if l < lanes { shift } else { 1.0 };
            }
        }
        self.b.fill(ZERO);
    }

    /// Factors every lane (no solve): for each lane, `None`, or the first
    /// pivot that is not a positive finite number. [`Batch::inverse`] may
    /// follow; a failed lane's results are meaningless (but never reach
    /// another lane).
    pub(crate) fn factor_each(&mut self) -> [Option<usize>; LANES] {
        let mut bad = [usize::MAX; LANES];
        factor(self, &mut bad);
        bad.map(|p| (p != usize::MAX).then_some(p))
    }

    /// Factors every lane and solves for the means.
    ///
    /// # Errors
    ///
    /// The first lane (lowest index) whose precision is not positive
    /// definite or not finite, with its pivot.
    pub(crate) fn factor_and_solve(&mut self) -> Result<(), NotPositive> {
        let mut bad = [usize::MAX; LANES];
        factor(self, &mut bad);
        if let Some(lane) = bad.iter().position(|&p| p != usize::MAX) {
            return Err(NotPositive {
                lane,
                pivot: bad[lane],
            });
        }
        solve(self);
        Ok(())
    }

    /// Replaces the factors by the inverses `L⁻¹` (after
    /// [`Batch::factor_and_solve`]).
    pub(crate) fn inverse(&mut self) {
        inverse(self);
    }

    /// `log det L` of lane `lane`.
    pub(crate) fn log_det(&self, lane: usize) -> f64 {
        self.log_det[lane]
    }

    /// `bᵀ L⁻¹ b` of lane `lane`, summed in index order.
    pub(crate) fn b_dot_mean(&self, lane: usize) -> f64 {
        self.b
            .iter()
            .zip(self.x.iter())
            .map(|(b, x)| b[lane] * x[lane])
            .sum()
    }

    /// Writes lane `lane`'s mean `L⁻¹ b` into `out` (`R`).
    pub(crate) fn mean(&self, lane: usize, out: &mut [f64]) {
        for (o, x) in out.iter_mut().zip(self.x.iter()) {
            *o = x[lane];
        }
    }

    /// Writes lane `lane`'s packed inverse into `out` (after
    /// [`Batch::inverse`]), plus the outer product of the mean with itself
    /// when `plus_outer` (the second moment `E[w wᵀ]`).
    #[cfg(test)]
    pub(crate) fn write_inverse(&self, lane: usize, plus_outer: bool, out: &mut [f64]) {
        let len = out.len();
        let out = ndarray::ArrayViewMut2::from_shape((1, len), out).expect("one row");
        self.write_inverses_from(lane, out, plus_outer, None);
    }

    /// Writes lane `lane`'s inverse (after [`Batch::inverse`]) into both
    /// triangles of `out` (`R × R`).
    ///
    /// # Panics
    ///
    /// If `out` is not `R × R`.
    pub(crate) fn write_symmetric(&self, lane: usize, mut out: ndarray::ArrayViewMut2<'_, f64>) {
        assert_eq!(out.dim(), (self.r, self.r));
        for (g, (i, j)) in self.g.iter().zip(lower_places(self.r)) {
            out[[i, j]] = g[lane];
            out[[j, i]] = g[lane];
        }
    }

    /// Writes the packed inverses of the first `out.nrows()` lanes (after
    /// [`Batch::inverse`]) into the rows of `out` (`lanes × K`, any
    /// strides), plus the outer product of each mean with itself when
    /// `plus_outer` (the second moments `E[w wᵀ]`). When `sum` is given,
    /// adds every written value to it, lane after lane: the same additions,
    /// in the same order, as adding the rows one after the other.
    ///
    /// Fastest when the lanes of an entry are adjacent in `out` (a
    /// `K × lanes` array seen transposed: one cache line per entry), and
    /// fast when each row is contiguous (a transposing store).
    ///
    /// # Panics
    ///
    /// If `out` has more than [`LANES`] rows or other than `K` columns.
    pub(crate) fn write_inverses(
        &self,
        out: ndarray::ArrayViewMut2<'_, f64>,
        plus_outer: bool,
        sum: Option<&mut [f64]>,
    ) {
        self.write_inverses_from(0, out, plus_outer, sum);
    }

    /// [`Batch::write_inverses`] of lanes `first..first + out.nrows()`.
    fn write_inverses_from(
        &self,
        first: usize,
        mut out: ndarray::ArrayViewMut2<'_, f64>,
        plus_outer: bool,
        mut sum: Option<&mut [f64]>,
    ) {
        let (lanes, k_len) = out.dim();
        assert!(first + lanes <= LANES && k_len == self.g.len());
        // Entry `k` of every lane, `(i, j)` its place in the matrix.
        let entry = |k: usize, (i, j): (usize, usize)| -> V {
            let mut v = self.g[k];
            if plus_outer {
                let (xi, xj) = (&self.x[i], &self.x[j]);
                for l in 0..LANES {
                    v[l] += xi[l] * xj[l];
                }
            }
            v
        };
        let lanes_adjacent = out.strides()[0] == 1 || lanes == 1;
        if lanes_adjacent {
            let mut entries = out.reversed_axes();
            let (stride, base) = (entries.strides()[0], entries.as_ptr());
            let places = lower_places(self.r);
            for (k, (mut dst, place)) in entries.rows_mut().into_iter().zip(places).enumerate() {
                prefetch(base.wrapping_offset(stride * (k + PREFETCH_ROWS) as isize));
                let v = entry(k, place);
                let v = &v[first..first + lanes];
                match dst.as_slice_mut() {
                    Some(dst) if lanes == LANES => {
                        let dst: &mut V = dst.try_into().expect("LANES entries");
                        *dst = v.try_into().expect("LANES entries");
                    }
                    Some(dst) => dst.copy_from_slice(v),
                    None => dst.assign(&ndarray::ArrayView1::from(v)),
                }
                if let Some(sum) = sum.as_deref_mut() {
                    for &x in v {
                        sum[k] += x;
                    }
                }
            }
            return;
        }
        // Rows contiguous (or any other layout): [`RUN`] entries at a time,
        // so that each row gets whole runs of consecutive entries and the
        // sums are added a run at a time, lane after lane.
        /// Entries per run: one cache line of each row.
        const RUN: usize = 8;
        let mut run = [ZERO; RUN];
        let mut places = lower_places(self.r);
        for k0 in (0..k_len).step_by(RUN) {
            let m = RUN.min(k_len - k0);
            for ((u, v), place) in run[..m].iter_mut().enumerate().zip(&mut places) {
                *v = entry(k0 + u, place);
            }
            for (l, mut row) in out.rows_mut().into_iter().enumerate() {
                let l = first + l;
                for (o, v) in row.slice_mut(ndarray::s![k0..k0 + m]).iter_mut().zip(&run) {
                    *o = v[l];
                }
            }
            if let Some(sum) = sum.as_deref_mut() {
                let sum = &mut sum[k0..k0 + m];
                for l in first..first + lanes {
                    for (s, v) in sum.iter_mut().zip(&run) {
                        *s += v[l];
                    }
                }
            }
        }
    }
}

/// Rows of an array that a later step will touch, each row's first cache
/// line asked for a few at a time ([`Ahead::step`]) while the kernels
/// compute: the accesses of [`Batch::load_columns`] and
/// [`Batch::write_inverses`] are one line per row, far apart, and each
/// had waited for the memory on its own.
#[derive(Default)]
struct Ahead {
    /// Address of the first row (kept as a number: it is only ever used
    /// as a prefetch hint, never dereferenced).
    base: usize,
    /// Bytes from one row to the next.
    stride: isize,
    rows: usize,
    done: usize,
}

impl Ahead {
    fn rows(first: *const f64, stride: isize, rows: usize) -> Ahead {
        Ahead {
            base: first as usize,
            stride: stride * std::mem::size_of::<f64>() as isize,
            rows,
            done: 0,
        }
    }

    /// Asks for the next `n` rows.
    #[inline(always)]
    fn step(&mut self, n: usize) {
        let end = (self.done + n).min(self.rows);
        for row in self.done..end {
            let at = (self.base as isize).wrapping_add(self.stride.wrapping_mul(row as isize));
            prefetch(at as *const f64);
        }
        self.done = end;
    }
}

/// How many rows ahead [`Batch::load_columns`] asks for: its rows are
/// far apart (a row of a block's precisions), so each is a cache miss
/// that the hardware prefetcher does not foresee.
const PREFETCH_ROWS: usize = 16;

/// Rows of the next batch asked for per 2 × 2 tile of the factorisation
/// or of `G⁻ᵀ`: about `R²/8` tiles each, for `R(R+1)/2` rows.
const AHEAD_PER_TILE: usize = 4;

/// The places `(i, j)`, `j ≤ i`, of an `r × r` lower triangle packed by
/// rows, in their packed order.
fn lower_places(r: usize) -> impl Iterator<Item = (usize, usize)> {
    (0..r).flat_map(|i| (0..=i).map(move |j| (i, j)))
}

/// Index of `(i, i)` in a lower triangle packed by rows.
#[inline(always)]
fn diag(i: usize) -> usize {
    packed_len(i + 1) - 1
}

/// Start of row `i` of a lower triangle packed by rows.
#[inline(always)]
fn lower_row(i: usize) -> usize {
    packed_len(i)
}

/// Start of row `j` (its entries `j..r`) of an `r × r` upper triangle
/// packed by rows.
#[inline(always)]
fn upper_row(j: usize, r: usize) -> usize {
    j * r - packed_len(j) + j
}

/// Cholesky factorisation in place, `log det`, `1 / G[i][i]`. A lane whose
/// pivot `i` is not a positive finite number records `i` in `bad` (the
/// first such) and goes on with the pivot 1, so that it cannot disturb
/// anything (lanes never mix).
///
/// Rows are taken in pairs and their columns left of the diagonal in
/// pairs (a 2 × 2 tile of [`dot2x2`]); the rest of a row pair, and a last
/// single row, entry by entry.
#[inline(always)]
fn factor_body<const L: u8>(batch: &mut Batch, bad: &mut [usize; LANES]) {
    let r = batch.r;
    let mut log_det = ZERO;
    let mut i = 0;
    while i < r {
        let pair = i + 1 < r;
        let mut j = 0;
        if pair {
            let (ri, ri1) = (lower_row(i), lower_row(i + 1));
            while j + 1 < i {
                batch.next_input.step(AHEAD_PER_TILE);
                let (rj, rj1) = (lower_row(j), lower_row(j + 1));
                let g = &batch.g;
                let [s00, s01, s10, s11] = dot2x2::<L>(
                    &g[ri..ri + j],
                    &g[ri1..ri1 + j],
                    &g[rj..rj + j],
                    &g[rj1..rj1 + j],
                );
                let (inv0, inv1) = (batch.inv_diag[j], batch.inv_diag[j + 1]);
                let gj1j = g[rj1 + j];
                let g_ij = sub_mul(g[ri + j], s00, inv0);
                let g_i1j = sub_mul(g[ri1 + j], s10, inv0);
                let g_ij1 = sub_mul(g[ri + j + 1], add_prod::<L>(s01, g_ij, gj1j), inv1);
                let g_i1j1 = sub_mul(g[ri1 + j + 1], add_prod::<L>(s11, g_i1j, gj1j), inv1);
                batch.g[ri + j] = g_ij;
                batch.g[ri1 + j] = g_i1j;
                batch.g[ri + j + 1] = g_ij1;
                batch.g[ri1 + j + 1] = g_i1j1;
                j += 2;
            }
        }
        let last = if pair { i + 1 } else { i };
        for col in j..=last {
            for row in i..=last {
                if col <= row {
                    factor_entry::<L>(batch, row, col, bad, &mut log_det);
                }
            }
        }
        i = last + 1;
    }
    for l in 0..LANES {
        batch.log_det[l] = 2.0 * log_det[l];
    }
}

/// One entry `G[i][j]` of the factor by a plain dot product.
#[inline(always)]
fn factor_entry<const L: u8>(
    batch: &mut Batch,
    i: usize,
    j: usize,
    bad: &mut [usize; LANES],
    log_det: &mut V,
) {
    let (ri, rj) = (lower_row(i), lower_row(j));
    let s = dot::<L>(&batch.g[ri..ri + j], &batch.g[rj..rj + j]);
    if j < i {
        batch.g[ri + j] = sub_mul(batch.g[ri + j], s, batch.inv_diag[j]);
        return;
    }
    for l in 0..LANES {
        let v = batch.g[ri + i][l] - s[l];
        let ok = v > 0.0 && v.is_finite();
        if !ok && bad[l] == usize::MAX {
            bad[l] = i;
        }
        let d = if ok { v.sqrt() } else { 1.0 };
        batch.g[ri + i][l] = d;
        batch.inv_diag[i][l] = 1.0 / d;
        log_det[l] += d.ln();
    }
}

/// `x = G⁻ᵀ G⁻¹ b`: forward substitution by rows, back substitution by
/// columns (each column of `Gᵀ` is a row of `G`).
#[inline(always)]
fn solve_body<const L: u8>(batch: &mut Batch) {
    let r = batch.r;
    let y = &mut batch.x;
    for i in 0..r {
        let ri = lower_row(i);
        let s = dot::<L>(&batch.g[ri..ri + i], &y[..i]);
        y[i] = sub_mul(batch.b[i], s, batch.inv_diag[i]);
    }
    for k in (0..r).rev() {
        let rk = lower_row(k);
        let mut xk = ZERO;
        for l in 0..LANES {
            xk[l] = y[k][l] * batch.inv_diag[k][l];
        }
        y[k] = xk;
        for (yi, gki) in y[..k].iter_mut().zip(&batch.g[rk..rk + k]) {
            for l in 0..LANES {
                yi[l] = madd::<L>(-gki[l], xk[l], yi[l]);
            }
        }
    }
}

/// `Z = G⁻ᵀ` (rows of `Z` in pairs, their entries in pairs), then
/// `L⁻¹ = Z·Zᵀ` into `g` (rows in pairs, columns in pairs).
#[inline(always)]
fn inverse_body<const L: u8>(batch: &mut Batch) {
    let r = batch.r;
    let up = |j: usize| upper_row(j, r);
    // Z[j][i] = −(Σ_{j≤k<i} G[i][k]·Z[j][k]) / G[i][i], Z[j][j] = 1 / G[j][j].
    let mut j = 0;
    while j < r {
        if j + 1 == r {
            batch.z[up(j)] = batch.inv_diag[j];
            break;
        }
        let (zj, zj1) = (up(j), up(j + 1));
        batch.z[zj] = batch.inv_diag[j];
        batch.z[zj1] = batch.inv_diag[j + 1];
        let g_j1j = batch.g[lower_row(j + 1) + j];
        batch.z[zj + 1] = neg_mul(
            add_prod::<L>(ZERO, g_j1j, batch.z[zj]),
            batch.inv_diag[j + 1],
        );
        let mut i = j + 2;
        while i + 1 < r {
            batch.next_output.step(AHEAD_PER_TILE);
            let (ri, ri1) = (lower_row(i), lower_row(i + 1));
            let (g, z) = (&batch.g, &batch.z);
            // k = j+1 .. i for both rows of Z.
            let [s00, s01, s10, s11] = dot2x2::<L>(
                &g[ri + j + 1..ri + i],
                &g[ri1 + j + 1..ri1 + i],
                &z[zj + 1..zj + (i - j)],
                &z[zj1..zj1 + (i - j - 1)],
            );
            let (inv0, inv1) = (batch.inv_diag[i], batch.inv_diag[i + 1]);
            let zjj = z[zj];
            let z_ji = neg_mul(add_prod::<L>(s00, g[ri + j], zjj), inv0);
            let z_j1i = neg_mul(s01, inv0);
            let t = add_prod::<L>(add_prod::<L>(s10, g[ri1 + j], zjj), g[ri1 + i], z_ji);
            let z_ji1 = neg_mul(t, inv1);
            let z_j1i1 = neg_mul(add_prod::<L>(s11, g[ri1 + i], z_j1i), inv1);
            batch.z[zj + (i - j)] = z_ji;
            batch.z[zj1 + (i - j - 1)] = z_j1i;
            batch.z[zj + (i + 1 - j)] = z_ji1;
            batch.z[zj1 + (i - j)] = z_j1i1;
            i += 2;
        }
        if i < r {
            // The last column, one entry per row of the pair.
            let ri = lower_row(i);
            for (row, zr) in [(j, zj), (j + 1, zj1)] {
                let s = dot::<L>(&batch.g[ri + row..ri + i], &batch.z[zr..zr + (i - row)]);
                batch.z[zr + (i - row)] = neg_mul(s, batch.inv_diag[i]);
            }
        }
        j += 2;
    }
    // L⁻¹[i][j] = Σ_{k≥i} Z[i][k]·Z[j][k], j ≤ i.
    let mut i = 0;
    while i < r {
        let (zi, ri) = (up(i), lower_row(i));
        if i + 1 == r {
            for j in 0..=i {
                let zjr = up(j) + (i - j);
                batch.g[ri + j] = dot::<L>(&batch.z[zi..zi + 1], &batch.z[zjr..zjr + 1]);
            }
            break;
        }
        let (zi1, ri1) = (up(i + 1), lower_row(i + 1));
        let n = r - i - 1;
        let mut j = 0;
        while j < i {
            let z = &batch.z;
            let (zj, zj1) = (up(j) + (i + 1 - j), up(j + 1) + (i - j));
            let [s00, s01, s10, s11] = dot2x2::<L>(
                &z[zi + 1..zi + 1 + n],
                &z[zi1..zi1 + n],
                &z[zj..zj + n],
                &z[zj1..zj1 + n],
            );
            let zii = z[zi];
            batch.g[ri + j] = add_prod::<L>(s00, zii, z[zj - 1]);
            batch.g[ri + j + 1] = add_prod::<L>(s01, zii, z[zj1 - 1]);
            batch.g[ri1 + j] = s10;
            batch.g[ri1 + j + 1] = s11;
            j += 2;
        }
        // Column i of both rows, then (i+1, i+1).
        let zii_row = &batch.z[zi..zi + n + 1];
        batch.g[ri + i] = dot::<L>(zii_row, zii_row);
        batch.g[ri1 + i] = dot::<L>(&batch.z[zi1..zi1 + n], &batch.z[zi + 1..zi + 1 + n]);
        batch.g[ri1 + i + 1] = dot::<L>(&batch.z[zi1..zi1 + n], &batch.z[zi1..zi1 + n]);
        i += 2;
    }
}

dispatch! {
    /// [`factor_body`] on this CPU's level.
    fn factor(batch: &mut Batch, bad: &mut [usize; LANES]) {
        portable => factor_body::<{ crate::simd::batch::PORTABLE }>(batch, bad),
        avx2 => factor_body::<{ crate::simd::batch::AVX2 }>(batch, bad),
        avx512 => factor_body::<{ crate::simd::batch::AVX512 }>(batch, bad),
    }
}

dispatch! {
    /// [`solve_body`] on this CPU's level.
    fn solve(batch: &mut Batch) {
        portable => solve_body::<{ crate::simd::batch::PORTABLE }>(batch),
        avx2 => solve_body::<{ crate::simd::batch::AVX2 }>(batch),
        avx512 => solve_body::<{ crate::simd::batch::AVX512 }>(batch),
    }
}

dispatch! {
    /// [`inverse_body`] on this CPU's level.
    fn inverse(batch: &mut Batch) {
        portable => inverse_body::<{ crate::simd::batch::PORTABLE }>(batch),
        avx2 => inverse_body::<{ crate::simd::batch::AVX2 }>(batch),
        avx512 => inverse_body::<{ crate::simd::batch::AVX512 }>(batch),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::simd::{at, levels, Level};

    /// A deterministic SPD matrix (packed lower, without the identity the
    /// batch adds) and right-hand side for lane `seed`.
    fn case(r: usize, seed: u64) -> (Vec<f64>, Vec<f64>) {
        let mut s = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
        let mut next = || {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            (s >> 11) as f64 / (1u64 << 53) as f64 - 0.5
        };
        let m: Vec<f64> = (0..r * r).map(|_| next()).collect();
        let mut packed = vec![0.0; packed_len(r)];
        let mut k = 0;
        for i in 0..r {
            for j in 0..=i {
                packed[k] = (0..r).map(|t| m[i * r + t] * m[j * r + t]).sum::<f64>();
                k += 1;
            }
        }
        let b = (0..r).map(|_| next()).collect();
        (packed, b)
    }

    /// Dense `I + packed`, its inverse by Gauss-Jordan, log det by LU.
    fn naive(r: usize, packed: &[f64]) -> (Vec<f64>, f64) {
        let mut a = vec![0.0; r * r];
        let mut k = 0;
        for i in 0..r {
            for j in 0..=i {
                a[i * r + j] = packed[k];
                a[j * r + i] = packed[k];
                k += 1;
            }
            a[i * r + i] += 1.0;
        }
        let mut inv: Vec<f64> = (0..r * r)
            .map(|t| if t / r == t % r { 1.0 } else { 0.0 })
            .collect();
        let mut log_det = 0.0;
        for c in 0..r {
            let p = a[c * r + c];
            log_det += p.ln();
            for t in 0..r {
                a[c * r + t] /= p;
                inv[c * r + t] /= p;
            }
            for row in 0..r {
                if row != c {
                    let f = a[row * r + c];
                    for t in 0..r {
                        a[row * r + t] -= f * a[c * r + t];
                        inv[row * r + t] -= f * inv[c * r + t];
                    }
                }
            }
        }
        (inv, log_det)
    }

    #[test]
    fn agrees_with_gauss_jordan_in_every_lane_and_pads() {
        for (r, level) in [1, 2, 3, 5, 8, 13, 32]
            .into_iter()
            .flat_map(|r| levels().into_iter().map(move |l| (r, l)))
        {
            let mut batch = Batch::new(r);
            let cases: Vec<_> = (0..LANES as u64 - 2).map(|l| case(r, 7 + l)).collect();
            let packed: Vec<&[f64]> = cases.iter().map(|c| &c.0[..]).collect();
            let rhs: Vec<&[f64]> = cases.iter().map(|c| &c.1[..]).collect();
            batch.load(&packed, &rhs);
            at(level, || batch.factor_and_solve()).unwrap();
            let means: Vec<Vec<f64>> = (0..LANES)
                .map(|l| {
                    let mut m = vec![0.0; r];
                    batch.mean(l, &mut m);
                    m
                })
                .collect();
            let dets: Vec<f64> = (0..LANES).map(|l| batch.log_det(l)).collect();
            at(level, || batch.inverse());
            for (lane, (p, b)) in cases.iter().enumerate() {
                let (inv, log_det) = naive(r, p);
                assert!((dets[lane] - log_det).abs() < 1e-12 * (1.0 + log_det.abs()));
                for i in 0..r {
                    let want: f64 = (0..r).map(|j| inv[i * r + j] * b[j]).sum();
                    assert!((means[lane][i] - want).abs() < 1e-12, "r {r} lane {lane}");
                }
                let mut out = vec![0.0; packed_len(r)];
                batch.write_inverse(lane, true, &mut out);
                let mut k = 0;
                for i in 0..r {
                    for j in 0..=i {
                        let want = inv[i * r + j] + means[lane][i] * means[lane][j];
                        assert!((out[k] - want).abs() < 1e-12, "r {r} lane {lane} ({i},{j})");
                        k += 1;
                    }
                }
            }
            for lane in [LANES - 2, LANES - 1] {
                assert_eq!(dets[lane], 0.0);
                assert!(means[lane].iter().all(|&m| m == 0.0));
                let mut out = vec![0.0; packed_len(r)];
                batch.write_inverse(lane, false, &mut out);
                let mut k = 0;
                for i in 0..r {
                    for j in 0..=i {
                        assert_eq!(out[k], if i == j { 1.0 } else { 0.0 });
                        k += 1;
                    }
                }
            }
        }
    }

    #[test]
    fn a_lane_does_not_depend_on_its_neighbours() {
        let r = 11;
        let (p, b) = case(r, 3);
        for level in levels() {
            let mut results = Vec::new();
            // (lane, lanes loaded, seed of the others): full and partial batches.
            for (lane, lanes, seed) in [
                (0, LANES, 100),
                (5, LANES, 200),
                (LANES - 1, LANES, 300),
                (2, 3, 400),
            ] {
                let mut batch = Batch::new(r);
                let mut cases: Vec<_> = (0..lanes).map(|l| case(r, seed + l as u64)).collect();
                cases[lane] = (p.clone(), b.clone());
                let packed: Vec<&[f64]> = cases.iter().map(|c| &c.0[..]).collect();
                let rhs: Vec<&[f64]> = cases.iter().map(|c| &c.1[..]).collect();
                batch.load(&packed, &rhs);
                at(level, || batch.factor_and_solve()).unwrap();
                let mut m = vec![0.0; r];
                batch.mean(lane, &mut m);
                let det = batch.log_det(lane);
                at(level, || batch.inverse());
                let mut out = vec![0.0; packed_len(r)];
                batch.write_inverse(lane, false, &mut out);
                results.push((m, det.to_bits(), out));
            }
            assert!(results.windows(2).all(|w| w[0] == w[1]));
        }
    }

    #[test]
    fn matrices_without_the_identity_invert_and_report_each_bad_lane() {
        let r = 9;
        let mut cases: Vec<_> = (0..5).map(|l| case(r, 50 + l as u64)).collect();
        for (p, _) in cases.iter_mut() {
            for i in 0..r {
                p[diag(i)] += 0.5;
            }
        }
        cases[3].0[diag(4)] = -1.0;
        let packed: Vec<&[f64]> = cases.iter().map(|c| &c.0[..]).collect();
        let columns = ndarray::Array2::from_shape_fn((packed_len(r), 5), |(i, l)| packed[l][i]);
        for level in levels() {
            let mut batch = Batch::new(r);
            batch.load_columns(columns.view(), false);
            let bad = at(level, || batch.factor_each());
            assert_eq!(bad[..5], [None, None, None, Some(4), None]);
            assert!(bad[5..].iter().all(Option::is_none));
            at(level, || batch.inverse());
            for lane in [0, 1, 2, 4] {
                // `naive` adds the identity: take it back out first.
                let mut p = cases[lane].0.clone();
                for i in 0..r {
                    p[diag(i)] -= 1.0;
                }
                let (inv, _) = naive(r, &p);
                let mut out = vec![0.0; packed_len(r)];
                batch.write_inverse(lane, false, &mut out);
                let mut k = 0;
                for i in 0..r {
                    for j in 0..=i {
                        assert!(
                            (out[k] - inv[i * r + j]).abs() < 1e-10,
                            "lane {lane} ({i},{j})"
                        );
                        k += 1;
                    }
                }
            }
        }
    }

    #[test]
    fn reports_the_first_bad_lane_and_pivot() {
        let r = 4;
        let mut cases: Vec<_> = (0..LANES).map(|l| case(r, l as u64)).collect();
        // Lane 5: entry (2,2) = −10 (after the identity); lane 6: NaN at (1,0).
        cases[5].0[diag(2)] = -11.0;
        cases[6].0[1] = f64::NAN;
        let packed: Vec<&[f64]> = cases.iter().map(|c| &c.0[..]).collect();
        let rhs: Vec<&[f64]> = cases.iter().map(|c| &c.1[..]).collect();
        for level in levels() {
            let mut batch = Batch::new(r);
            batch.load(&packed, &rhs);
            assert_eq!(
                at(level, || batch.factor_and_solve()),
                Err(NotPositive { lane: 5, pivot: 2 })
            );
        }
    }

    #[test]
    fn second_moments_land_alike_in_every_layout_with_the_same_sums() {
        let r = 9;
        let k = packed_len(r);
        let cases: Vec<_> = (0..LANES).map(|l| case(r, 40 + l as u64)).collect();
        let packed: Vec<&[f64]> = cases.iter().map(|c| &c.0[..]).collect();
        let rhs: Vec<&[f64]> = cases.iter().map(|c| &c.1[..]).collect();
        let mut batch = Batch::new(r);
        batch.load(&packed, &rhs);
        batch.factor_and_solve().unwrap();
        batch.inverse();
        for lanes in [LANES, 3, 1] {
            // Each lane alone, and the sums row after row.
            let mut expected = ndarray::Array2::zeros((lanes, k));
            let mut expected_sum = vec![0.5; k];
            for (l, mut row) in expected.rows_mut().into_iter().enumerate() {
                let row = row.as_slice_mut().unwrap();
                batch.write_inverse(l, true, row);
                for (s, v) in expected_sum.iter_mut().zip(row.iter()) {
                    *s += v;
                }
            }
            let mut row_major = ndarray::Array2::<f64>::zeros((lanes, k));
            let mut transposed = ndarray::Array2::<f64>::zeros((k, lanes));
            let mut strided = ndarray::Array2::<f64>::zeros((2 * lanes, 3 * k));
            for view in [
                row_major.view_mut(),
                transposed.view_mut().reversed_axes(),
                strided.slice_mut(ndarray::s![..;2, ..;3]),
            ] {
                let mut view = view;
                let mut sum = vec![0.5; k];
                batch.write_inverses(view.view_mut(), true, Some(&mut sum));
                assert_eq!(view, expected);
                assert_eq!(sum, expected_sum);
            }
        }
    }

    #[test]
    fn the_levels_with_fma_give_the_same_bits() {
        // R = 23: odd, so the pair loops end on single rows and columns.
        let r = 23;
        let cases: Vec<_> = (0..LANES).map(|l| case(r, 60 + l as u64)).collect();
        let packed: Vec<&[f64]> = cases.iter().map(|c| &c.0[..]).collect();
        let rhs: Vec<&[f64]> = cases.iter().map(|c| &c.1[..]).collect();
        let run = |level: Level| {
            at(level, || {
                let mut batch = Batch::new(r);
                batch.load(&packed, &rhs);
                batch.factor_and_solve().unwrap();
                let mut out = Vec::new();
                for lane in 0..LANES {
                    let mut m = vec![0.0; r];
                    batch.mean(lane, &mut m);
                    out.extend(m);
                    out.push(batch.log_det(lane));
                }
                batch.inverse();
                for lane in 0..LANES {
                    let mut inv = vec![0.0; packed_len(r)];
                    batch.write_inverse(lane, true, &mut inv);
                    out.extend(inv);
                }
                out.iter().map(|x| x.to_bits()).collect::<Vec<_>>()
            })
        };
        let fma: Vec<_> = levels()
            .into_iter()
            .filter(|&l| l >= Level::Avx2)
            .map(run)
            .collect();
        assert!(fma.windows(2).all(|w| w[0] == w[1]));
    }
}
