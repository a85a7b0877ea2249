//! Tall-skinny QR (TSQR): the R factor of a table of many rows and few
//! columns, in one pass.
//!
//! Each chunk factors its rows (a Householder QR, faer's); the chunks' R
//! factors are gathered in chunk order and merged in a fixed binary tree
//! (neighbours first: chunks 0+1, 2+3, …, then their results pairwise),
//! each merge the R of two stacked R's. The tree depends on the number of
//! chunks only, so R has the same bits on any number of threads or ranks;
//! its diagonal is made non-negative, which makes R unique for a table of
//! full column rank.

use ndarray::{concatenate, s, Array1, Array2, ArrayView2, Axis};

use super::errors::StatsError;
use super::pass::{self, ChunkPass};
use super::table::Table;
use faer::dyn_stack::{MemBuffer, MemStack};
use faer::linalg::qr::no_pivoting::factor;
use faer::{Mat, Par};

use crate::linalg::mat_ref;

/// What a chunk's QR factors: its rows, less a shift, after an optional
/// column of ones.
pub(crate) struct Tsqr<'a> {
    /// Subtracted from every row first (a value near the data keeps the
    /// column of ones and the data well apart in scale).
    pub(crate) shift: Option<&'a Array1<f64>>,
    /// Whether a first column of ones is factored with the data (whose R
    /// then holds, below its first row, the R of the centred data).
    pub(crate) ones: bool,
}

impl Tsqr<'_> {
    fn width(&self, cols: usize) -> usize {
        cols + usize::from(self.ones)
    }

    /// The rows as factored.
    fn matrix(&self, rows: ArrayView2<'_, f64>) -> Array2<f64> {
        let (n, d) = rows.dim();
        let lead = usize::from(self.ones);
        let mut m = Array2::zeros((n, d + lead));
        if self.ones {
            m.column_mut(0).fill(1.0);
        }
        let mut data = m.slice_mut(s![.., lead..]);
        data.assign(&rows);
        if let Some(shift) = self.shift {
            data -= shift;
        }
        m
    }
}

impl ChunkPass for Tsqr<'_> {
    type Out = Array2<f64>;

    fn chunk(
        &self,
        rows: ArrayView2<'_, f64>,
        _: &str,
        _: usize,
    ) -> Result<Array2<f64>, StatsError> {
        Ok(thin_r(self.matrix(rows).view()))
    }
}

/// The thin R factor of `a` (min(rows, cols) × cols), by faer's
/// Householder QR on the calling thread (`Par::Seq`). faer's `Mat::qr`
/// would take its global parallelism, which (with faer's `rayon` feature,
/// as in this crate's tests) splits the work by the ambient rayon pool's
/// size: other bits on other thread counts.
fn thin_r(a: ArrayView2<'_, f64>) -> Array2<f64> {
    let (m, n) = a.dim();
    let k = m.min(n);
    if k == 0 {
        return Array2::zeros((0, n));
    }
    let mut f = mat_ref(&a).to_owned();
    let block = factor::recommended_block_size::<f64>(m, n);
    let mut coeff = Mat::<f64>::zeros(block, k);
    let scratch = factor::qr_in_place_scratch::<f64>(m, n, block, Par::Seq, Default::default());
    factor::qr_in_place(
        f.as_mut(),
        coeff.as_mut(),
        Par::Seq,
        MemStack::new(&mut MemBuffer::new(scratch)),
        Default::default(),
    );
    Array2::from_shape_fn((k, n), |(i, j)| if j >= i { f[(i, j)] } else { 0.0 })
}

/// R of `top` stacked on `bottom`.
fn merge(top: &Array2<f64>, bottom: &Array2<f64>) -> Array2<f64> {
    let stacked = concatenate(Axis(0), &[top.view(), bottom.view()])
        .expect("R factors of one table have equal widths");
    thin_r(stacked.view())
}

/// Merges the chunks' R factors in the fixed tree, and makes the diagonal
/// non-negative; the result is square (`cols` × `cols`), with zero rows
/// below the rank when the table has fewer rows than columns.
pub(crate) fn merge_tree(mut level: Vec<Array2<f64>>, cols: usize) -> Array2<f64> {
    while level.len() > 1 {
        let mut next = Vec::with_capacity(level.len().div_ceil(2));
        let mut it = level.into_iter();
        while let Some(a) = it.next() {
            next.push(match it.next() {
                Some(b) => merge(&a, &b),
                None => a,
            });
        }
        level = next;
    }
    let r = level.pop().unwrap_or_else(|| Array2::zeros((0, cols)));
    let mut square = Array2::zeros((cols, cols));
    let k = r.nrows().min(cols);
    square.slice_mut(s![..k, ..]).assign(&r.slice(s![..k, ..]));
    for i in 0..k {
        if square[[i, i]] < 0.0 {
            square.row_mut(i).mapv_inplace(|v| -v);
        }
    }
    square
}

/// The R factor of `table` as `spec` says (width: columns, plus one with
/// ones), over every rank's rows when the table is local.
///
/// # Errors
///
/// Those of the pass (a table without rows, ranks of different widths).
pub(crate) fn tsqr(table: &Table<'_>, spec: &Tsqr<'_>) -> Result<Array2<f64>, StatsError> {
    let survey = pass::survey(table)?;
    tsqr_surveyed(table, spec, survey.cols)
}

/// [`tsqr`] of a table already surveyed (`cols`: its columns), without
/// surveying it again.
///
/// # Errors
///
/// Those of the pass.
pub(crate) fn tsqr_surveyed(
    table: &Table<'_>,
    spec: &Tsqr<'_>,
    cols: usize,
) -> Result<Array2<f64>, StatsError> {
    let rs = pass::each(table, spec)?;
    Ok(merge_tree(rs, spec.width(cols)))
}

/// The thin R factor of `a` (min(rows, cols) × cols), as a chunk's is
/// computed: for the final QR of a ridge fit's R stacked on √α·I.
pub(crate) fn r_factor(a: ArrayView2<'_, f64>) -> Array2<f64> {
    thin_r(a)
}
