//! NumPy `.npy` feature files: format versions 1.0, 2.0 and 3.0,
//! float32/float64, either byte order, C or Fortran order.
//!
//! ndarray-npy reads and writes the format; reading goes through
//! [`NpyHeader`], which checks the header against the file's size first and
//! words the errors, and this module adds the file's path to them.

use std::fs::File;
use std::io::{self, BufReader};
use std::path::Path;

use ndarray::{Array2, ArrayBase, Data, Ix2};
use ndarray_npy::{WriteNpyError, WriteNpyExt};

use super::errors::FeatureError;
use super::npy_header::{NpyArray, NpyFault, NpyHeader};
use shardkit::write_atomic as atomic_write;

/// Reads a 2-D float32 or float64 `.npy` file as frames × columns.
///
/// Accepted dtypes are `'<f4'`, `'<f8'`, `'>f4'` and `'>f8'`; float64 values
/// are rounded to the nearest f32 (values beyond f32's range become ±inf,
/// which [`ReadOptions`](super::ReadOptions) reports as non-finite). Both C
/// (row-major) and Fortran (column-major) files are read; the result is
/// always in standard (row-major) layout.
///
/// The shape in the header is checked against the file's size before any
/// memory is set aside for the data, so a damaged or hostile header is an
/// error, never an allocation failure.
///
/// # Errors
///
/// [`FeatureError::Io`] if the file cannot be read,
/// [`FeatureError::NpyHeader`] for a bad magic string, version or header,
/// [`FeatureError::NpyDtype`] for another element type (naming it),
/// [`FeatureError::WrongNdim`] for an array that is not 2-D (naming its shape),
/// [`FeatureError::Truncated`] / [`FeatureError::TrailingBytes`] when the data
/// is shorter / longer than the header announces.
pub fn read_npy(path: impl AsRef<Path>) -> Result<Array2<f32>, FeatureError> {
    Ok(match read_npy_float(path.as_ref())? {
        NpyMatrix::F32(array) => array,
        NpyMatrix::F64(array) => array.mapv(|v| v as f32),
    })
}

/// A 2-D `.npy` array in the element type of its file, in standard layout.
pub(crate) enum NpyMatrix {
    /// A float32 file.
    F32(Array2<f32>),
    /// A float64 file.
    F64(Array2<f64>),
}

/// Reads a 2-D float32 or float64 `.npy` file, checked as [`read_npy`]
/// says, keeping its element type.
pub(crate) fn read_npy_float(path: &Path) -> Result<NpyMatrix, FeatureError> {
    let io_error = |e| FeatureError::io(path, "read", e);
    let file = File::open(path).map_err(io_error)?;
    let len = file.metadata().map_err(io_error)?.len();
    let mut reader = BufReader::new(file);
    let header = NpyHeader::read(&mut reader, len).map_err(|f| in_file(f, path))?;
    if header.shape().len() != 2 {
        return Err(FeatureError::WrongNdim {
            path: path.to_path_buf(),
            shape: header.shape().to_vec(),
        });
    }
    let two_d = |e: ndarray::ShapeError| in_file(NpyFault::Header(e.to_string()), path);
    Ok(
        match header.read_array(reader).map_err(|f| in_file(f, path))? {
            NpyArray::F32(array) => {
                NpyMatrix::F32(standard(array.into_dimensionality::<Ix2>().map_err(two_d)?))
            }
            NpyArray::F64(array) => {
                NpyMatrix::F64(standard(array.into_dimensionality::<Ix2>().map_err(two_d)?))
            }
        },
    )
}

/// `array` in standard (row-major) layout.
fn standard<A: Clone>(array: Array2<A>) -> Array2<A> {
    if array.is_standard_layout() {
        array
    } else {
        array.as_standard_layout().into_owned()
    }
}

/// Writes `data` (frames × columns) as a float32, C-order `.npy` file
/// (version 1.0, `'<f4'` on little-endian machines), atomically (see
/// [`atomic_write`]).
///
/// Any memory layout of `data` is accepted; NumPy reads the file back as
/// `np.load(path)` with shape `(frames, columns)` and dtype `float32`.
///
/// # Errors
///
/// [`FeatureError::Io`] if the file cannot be written; the previous file at
/// `path`, if any, is then left untouched.
pub fn write_npy<S>(path: impl AsRef<Path>, data: &ArrayBase<S, Ix2>) -> Result<(), FeatureError>
where
    S: Data<Elem = f32>,
{
    let path = path.as_ref();
    // ndarray-npy writes any other layout in Fortran order or value by
    // value; a standard-layout copy keeps the file C order in one write.
    let data = data.as_standard_layout();
    atomic_write(path, |w| {
        data.write_npy(w).map_err(|e| match e {
            WriteNpyError::Io(e) => e,
            other => io::Error::other(other),
        })
    })
    .map_err(|e| FeatureError::io(path, "write", e))
}

/// The error for the feature file (a 2-D array) at `path`.
fn in_file(fault: NpyFault, path: &Path) -> FeatureError {
    match fault {
        NpyFault::Io(e) => FeatureError::io(path, "read", e),
        NpyFault::Header(reason) => FeatureError::NpyHeader {
            path: path.to_path_buf(),
            reason,
        },
        NpyFault::Dtype { descr, .. } => FeatureError::NpyDtype {
            path: path.to_path_buf(),
            descr,
        },
        NpyFault::Length {
            shape,
            payload,
            expected,
            found,
        } => {
            let (frames, columns) = match shape[..] {
                [frames, columns] => (frames, columns),
                _ => (shape.iter().product(), 1),
            };
            FeatureError::length(path, frames, columns, payload, expected, found)
        }
    }
}
