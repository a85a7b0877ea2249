//! Symmetric matrices packed as their lower triangle, row by row.

use faer::MatMut;
use ndarray::ArrayView2;

/// The length of a packed `r × r` symmetric matrix: `r(r+1)/2`.
pub(crate) const fn packed_len(r: usize) -> usize {
    r * (r + 1) / 2
}

/// Writes the lower triangle of `m` (row by row: `(0,0), (1,0), (1,1),
/// (2,0), …`) into `out`, the inverse of [`unpack_lower`].
pub(crate) fn pack_lower(m: ArrayView2<'_, f64>, out: &mut [f64]) {
    let r = m.nrows();
    assert_eq!(out.len(), packed_len(r));
    let mut k = 0;
    for (i, row) in m.rows().into_iter().enumerate() {
        for (o, &v) in out[k..=k + i].iter_mut().zip(row.iter()) {
            *o = v;
        }
        k += i + 1;
    }
}

/// Fills the lower triangle of `m` from a packed matrix (the upper
/// triangle is left as it is: the factorisations read the lower one).
pub(crate) fn unpack_lower(p: &[f64], mut m: MatMut<'_, f64>) {
    let r = m.nrows();
    debug_assert_eq!(p.len(), packed_len(r));
    let mut k = 0;
    for i in 0..r {
        for j in 0..=i {
            m[(i, j)] = p[k];
            k += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{pack_lower, packed_len, unpack_lower};
    use ndarray::Array2;

    #[test]
    fn pack_lower_and_unpack_lower_round_trip_by_rows() {
        let r = 5;
        let m = Array2::from_shape_fn((r, r), |(i, j)| (10 * i + j) as f64);
        let mut packed = vec![0.0; packed_len(r)];
        pack_lower(m.view(), &mut packed);
        assert_eq!(&packed[..6], &[0.0, 10.0, 11.0, 20.0, 21.0, 22.0]);
        let mut back = faer::Mat::<f64>::zeros(r, r);
        unpack_lower(&packed, back.as_mut());
        for i in 0..r {
            for j in 0..=i {
                assert_eq!(back[(i, j)], m[[i, j]]);
            }
        }
    }
}
