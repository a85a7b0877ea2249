//! What the readers and writers of SIDEKIT's HDF5 files share (the `hdf5`
//! feature): opening files and datasets, checking a dataset's type and
//! shape, reading and writing strings, and writing datasets with the
//! options SIDEKIT's h5py calls use. Every failure is a message (what is
//! wrong, with what HDF5 said); the callers put the file and the dataset in
//! front of it.

use std::borrow::Cow;
use std::path::{Path, PathBuf};

use hdf5::types::{FixedAscii, FixedUnicode, H5Type, TypeDescriptor, VarLenAscii, VarLenUnicode};
use hdf5::{Dataset, File, Group, SimpleExtents};
use ndarray::{ArrayView, Dimension};

/// The gzip level h5py uses for `compression="gzip"` without
/// `compression_opts`, as SIDEKIT calls it.
const GZIP_LEVEL: u8 = 4;

/// Longest fixed-length string read or written, in bytes (SIDEKIT reads
/// identifiers back as `U100` or `U255`).
pub(crate) const MAX_STRING: usize = 4096;

/// Opens `path` for reading.
pub(crate) fn open(path: &Path) -> Result<File, String> {
    File::open(path).map_err(|e| format!("cannot open as an HDF5 file: {e}"))
}

/// The dataset `name` (a path such as `show/cep` is allowed) of `group`;
/// a missing one is named with what the group holds.
pub(crate) fn dataset(group: &Group, name: &str) -> Result<Dataset, String> {
    let (parent, leaf) = match name.rsplit_once('/') {
        Some((parent, leaf)) => (Some(parent), leaf),
        None => (None, name),
    };
    let holder = match parent {
        Some(parent) => {
            if !group.link_exists(parent) {
                return Err(format!("missing: there is no group `{parent}`"));
            }
            Cow::Owned(
                group
                    .group(parent)
                    .map_err(|e| format!("`{parent}` is not a group: {e}"))?,
            )
        }
        None => Cow::Borrowed(group),
    };
    if !holder.link_exists(leaf) {
        let mut names = holder.member_names().unwrap_or_default();
        names.sort();
        let names = if names.is_empty() {
            "nothing".to_owned()
        } else {
            names.join(", ")
        };
        return Err(format!("missing (beside it: {names})"));
    }
    holder
        .dataset(leaf)
        .map_err(|e| format!("not a dataset: {e}"))
}

/// A dataset's element type.
pub(crate) fn descriptor(ds: &Dataset) -> Result<TypeDescriptor, String> {
    ds.dtype()
        .and_then(|t| t.to_descriptor())
        .map_err(|e| format!("unreadable element type: {e}"))
}

/// The length of a 1-D dataset.
pub(crate) fn len_1d(ds: &Dataset) -> Result<usize, String> {
    match ds.shape().as_slice() {
        [n] => Ok(*n),
        shape => Err(format!("shape {shape:?}, but a 1-D dataset is expected")),
    }
}

/// The shape of a 2-D dataset.
pub(crate) fn shape_2d(ds: &Dataset) -> Result<(usize, usize), String> {
    match ds.shape().as_slice() {
        [r, c] => Ok((*r, *c)),
        shape => Err(format!("shape {shape:?}, but a 2-D dataset is expected")),
    }
}

fn read_err(e: hdf5::Error) -> String {
    format!("cannot read: {e}")
}

/// The elements of an integer dataset (any width, signed or not), in
/// row-major order.
pub(crate) fn read_ints(ds: &Dataset) -> Result<Vec<i64>, String> {
    match descriptor(ds)? {
        TypeDescriptor::Integer(_) | TypeDescriptor::Unsigned(_) => {
            ds.read_raw::<i64>().map_err(read_err)
        }
        other => Err(format!("element type {other}, but integers are expected")),
    }
}

/// The elements of a floating-point dataset, in row-major order.
pub(crate) fn read_f64(ds: &Dataset) -> Result<Vec<f64>, String> {
    match descriptor(ds)? {
        TypeDescriptor::Float(_) => ds.read_raw::<f64>().map_err(read_err),
        other => Err(format!(
            "element type {other}, but floating-point numbers are expected"
        )),
    }
}

/// The elements of a floating-point dataset as `f32`, in row-major order.
pub(crate) fn read_f32(ds: &Dataset) -> Result<Vec<f32>, String> {
    match descriptor(ds)? {
        TypeDescriptor::Float(_) => ds.read_raw::<f32>().map_err(read_err),
        other => Err(format!(
            "element type {other}, but floating-point numbers are expected"
        )),
    }
}

/// Fixed-length strings of at most `N` bytes, as bytes without their
/// padding.
fn read_fixed<const N: usize>(ds: &Dataset, unicode: bool) -> hdf5::Result<Vec<Vec<u8>>> {
    Ok(if unicode {
        ds.read_raw::<FixedUnicode<N>>()?
            .iter()
            .map(|s| s.as_bytes().to_vec())
            .collect()
    } else {
        ds.read_raw::<FixedAscii<N>>()?
            .iter()
            .map(|s| s.as_bytes().to_vec())
            .collect()
    })
}

/// The strings of a 1-D string dataset: fixed-length (numpy's `S`, which
/// SIDEKIT writes) or variable-length, ASCII or UTF-8; each must be UTF-8.
pub(crate) fn read_strings(ds: &Dataset) -> Result<Vec<String>, String> {
    len_1d(ds)?;
    let bytes: Vec<Vec<u8>> = match descriptor(ds)? {
        dtype @ (TypeDescriptor::FixedAscii(n) | TypeDescriptor::FixedUnicode(n)) => {
            let unicode = matches!(dtype, TypeDescriptor::FixedUnicode(_));
            match n {
                0..=16 => read_fixed::<16>(ds, unicode),
                17..=64 => read_fixed::<64>(ds, unicode),
                65..=256 => read_fixed::<256>(ds, unicode),
                257..=1024 => read_fixed::<1024>(ds, unicode),
                1025..=MAX_STRING => read_fixed::<MAX_STRING>(ds, unicode),
                _ => {
                    return Err(format!(
                        "strings of {n} bytes, longer than the {MAX_STRING} read here"
                    ))
                }
            }
            .map_err(read_err)?
        }
        TypeDescriptor::VarLenAscii => ds
            .read_raw::<VarLenAscii>()
            .map_err(read_err)?
            .iter()
            .map(|s| s.as_bytes().to_vec())
            .collect(),
        TypeDescriptor::VarLenUnicode => ds
            .read_raw::<VarLenUnicode>()
            .map_err(read_err)?
            .iter()
            .map(|s| s.as_bytes().to_vec())
            .collect(),
        other => return Err(format!("element type {other}, but strings are expected")),
    };
    bytes
        .into_iter()
        .enumerate()
        .map(|(i, b)| {
            String::from_utf8(b)
                .map_err(|_| format!("string {i} (counting from 0) is not UTF-8 text"))
        })
        .collect()
}

/// A dataset builder with SIDEKIT's options: resizable along every axis
/// (h5py's `maxshape=(None, …)`), chunked as h5py chunks it, gzip and
/// Fletcher-32 checksums.
fn builder(
    group: &Group,
    dtype: TypeDescriptor,
    shape: &[usize],
) -> hdf5::DatasetBuilderEmptyShape {
    let chunk = guess_chunk(shape, dtype.size());
    group
        .new_dataset_builder()
        .empty_as(dtype)
        .shape(SimpleExtents::resizable(shape))
        .chunk(chunk)
        .deflate(GZIP_LEVEL)
        .fletcher32()
}

/// The chunk shape h5py picks for a resizable dataset of `shape`
/// (`h5py._hl.filters.guess_chunk`): a target of 16 KiB, doubled for every
/// tenfold of the data over 1 MiB (within 8 KiB..1 MiB), reached by halving
/// the axes in turn. (The hdf5 crate's own choice, 1 MiB chunks along
/// unlimited axes, made every small dataset a megabyte to compress.)
fn guess_chunk(shape: &[usize], item_size: usize) -> Vec<usize> {
    const BASE: f64 = 16.0 * 1024.0;
    const MIN: f64 = 8.0 * 1024.0;
    const MAX: f64 = 1024.0 * 1024.0;
    let mut chunk: Vec<f64> = shape
        .iter()
        .map(|&d| if d == 0 { 1024.0 } else { d as f64 })
        .collect();
    if chunk.is_empty() {
        return Vec::new();
    }
    let item = item_size.max(1) as f64;
    let total: f64 = chunk.iter().product::<f64>() * item;
    let target = (BASE * 2f64.powf((total / MAX).log10())).clamp(MIN, MAX);
    let mut axis = 0;
    loop {
        let elements: f64 = chunk.iter().product();
        let bytes = elements * item;
        if (bytes < target || (bytes - target).abs() / target < 0.5) && bytes < MAX {
            break;
        }
        if elements <= 1.0 {
            break;
        }
        let n = chunk.len();
        chunk[axis % n] = (chunk[axis % n] / 2.0).ceil();
        axis += 1;
    }
    chunk.iter().map(|&c| c as usize).collect()
}

fn write_err(e: hdf5::Error) -> String {
    format!("cannot write: {e}")
}

/// Writes `data` as the dataset `name`, with SIDEKIT's options.
pub(crate) fn write_array<T: H5Type + Clone, D: Dimension>(
    group: &Group,
    name: &str,
    data: ArrayView<'_, T, D>,
) -> Result<(), String> {
    let data = data.as_standard_layout();
    builder(group, T::type_descriptor(), data.shape())
        .create(name)
        .and_then(|ds| ds.write(&data))
        .map_err(write_err)
}

fn write_fixed<const N: usize>(
    group: &Group,
    name: &str,
    ids: &[&str],
    width: usize,
    ascii: bool,
) -> Result<(), String> {
    let encode = |e: hdf5::types::StringError| format!("cannot encode: {e}");
    if ascii {
        let data = ids
            .iter()
            .map(FixedAscii::<N>::from_ascii)
            .collect::<Result<Vec<_>, _>>()
            .map_err(encode)?;
        builder(group, TypeDescriptor::FixedAscii(width), &[ids.len()])
            .create(name)
            .and_then(|ds| ds.write_raw(&data))
            .map_err(write_err)
    } else {
        let data = ids
            .iter()
            .map(|s| s.parse::<FixedUnicode<N>>())
            .collect::<Result<Vec<_>, _>>()
            .map_err(encode)?;
        builder(group, TypeDescriptor::FixedUnicode(width), &[ids.len()])
            .create(name)
            .and_then(|ds| ds.write_raw(&data))
            .map_err(write_err)
    }
}

/// Writes `value` as the scalar dataset `name`, without filters (as h5py
/// writes `create_dataset(name, data=value)` for a scalar).
pub(crate) fn write_scalar<T: H5Type>(group: &Group, name: &str, value: &T) -> Result<(), String> {
    group
        .new_dataset::<T>()
        .create(name)
        .and_then(|ds| ds.write_scalar(value))
        .map_err(write_err)
}

/// Writes `text` as the scalar attribute `name` of `group`, a
/// variable-length UTF-8 string (h5py reads it as `str`).
pub(crate) fn write_text_attr(group: &Group, name: &str, text: &str) -> Result<(), String> {
    let value: VarLenUnicode = text
        .parse()
        .map_err(|e| format!("cannot store the text of attribute {name}: {e}"))?;
    group
        .new_attr::<VarLenUnicode>()
        .shape(())
        .create(name)
        .and_then(|a| a.write_scalar(&value))
        .map_err(|e| format!("cannot write attribute {name}: {e}"))
}

/// Writes `ids` as the 1-D dataset `name` of fixed-length strings as wide
/// as the longest (numpy's `astype('S')`, SIDEKIT's way), null-padded,
/// ASCII where every identifier is ASCII, UTF-8 otherwise.
pub(crate) fn write_strings(group: &Group, name: &str, ids: &[&str]) -> Result<(), String> {
    let width = ids.iter().map(|s| s.len()).max().unwrap_or(0).max(1);
    let ascii = ids.iter().all(|s| s.is_ascii());
    match width {
        0..=16 => write_fixed::<16>(group, name, ids, width, ascii),
        17..=64 => write_fixed::<64>(group, name, ids, width, ascii),
        65..=256 => write_fixed::<256>(group, name, ids, width, ascii),
        257..=1024 => write_fixed::<1024>(group, name, ids, width, ascii),
        1025..=MAX_STRING => write_fixed::<MAX_STRING>(group, name, ids, width, ascii),
        _ => Err(format!(
            "an identifier of {width} bytes, longer than the {MAX_STRING} written here"
        )),
    }
}

/// Writes an HDF5 file atomically: `fill` writes it at a temporary path
/// beside `path`, which is then moved onto `path`
/// ([`shardkit::write_atomic`] copies it, so that a reader sees the old
/// file or the whole new one). The temporary file is removed in any case.
pub(crate) fn write_file_atomic<E>(
    path: &Path,
    fill: impl FnOnce(&File) -> Result<(), E>,
    create_failed: impl Fn(String) -> E,
    io_failed: impl FnOnce(std::io::Error) -> E,
) -> Result<(), E> {
    let temporary = temporary_beside(path);
    let _guard = RemoveOnDrop(&temporary);
    let file = File::create(&temporary)
        .map_err(|e| create_failed(format!("cannot create an HDF5 file: {e}")))?;
    fill(&file)?;
    file.close()
        .map_err(|e| create_failed(format!("cannot close the HDF5 file: {e}")))?;
    shardkit::write_atomic(path, |w| {
        let mut source = std::fs::File::open(&temporary)?;
        std::io::copy(&mut source, w).map(drop)
    })
    .map_err(io_failed)
}

/// `.NAME.PID.N.h5part` beside `path`.
fn temporary_beside(path: &Path) -> PathBuf {
    use std::sync::atomic::{AtomicUsize, Ordering};
    static COUNTER: AtomicUsize = AtomicUsize::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let name = path
        .file_name()
        .map_or_else(|| "out".into(), |n| n.to_string_lossy());
    let name = format!(".{name}.{}.{n}.h5part", std::process::id());
    match path.parent() {
        Some(dir) => dir.join(name),
        None => PathBuf::from(name),
    }
}

struct RemoveOnDrop<'a>(&'a Path);

impl Drop for RemoveOnDrop<'_> {
    fn drop(&mut self) {
        // Nothing to do if it was never created.
        let _ = std::fs::remove_file(self.0);
    }
}
