//! Feature files on disk: `.npy` and HTK readers and writers, the extension
//! dispatch and content checks, list files, atomic writes, and a fuzz-style
//! property that no input makes a reader panic.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use ndarray::{array, Array2, ShapeBuilder};
use proptest::prelude::*;
use shardkit::write_atomic as atomic_write;
use shardkit_algorithms::features::{
    htk_kind, htk_kind_name, read_features, read_features_with, read_htk, read_htk_with_header,
    read_list, read_npy, write_htk, write_npy, FeatureError, FeatureFormat, HtkHeader, ReadOptions,
};
use shardkit_testkit::python_with_numpy;
use tempfile::TempDir;

// ---------------------------------------------------------------- helpers

fn tmp() -> TempDir {
    tempfile::tempdir().expect("temporary directory")
}

/// Writes `bytes` to `dir/name` and returns the path.
fn file(dir: &TempDir, name: &str, bytes: &[u8]) -> PathBuf {
    let path = dir.path().join(name);
    fs::write(&path, bytes).expect("write test file");
    path
}

/// A `.npy` file built by hand: magic, version `major`.0, the header text
/// (a newline is appended, no alignment padding), then `data`.
fn npy(major: u8, header: &str, data: &[u8]) -> Vec<u8> {
    let header = format!("{header}\n");
    let mut out = b"\x93NUMPY".to_vec();
    out.extend_from_slice(&[major, 0]);
    if major == 1 {
        out.extend_from_slice(&(header.len() as u16).to_le_bytes());
    } else {
        out.extend_from_slice(&(header.len() as u32).to_le_bytes());
    }
    out.extend_from_slice(header.as_bytes());
    out.extend_from_slice(data);
    out
}

fn npy_dict(descr: &str, fortran: bool, shape: &str) -> String {
    let fortran = if fortran { "True" } else { "False" };
    format!("{{'descr': '{descr}', 'fortran_order': {fortran}, 'shape': {shape}, }}")
}

fn f32_le(values: &[f32]) -> Vec<u8> {
    values.iter().flat_map(|v| v.to_le_bytes()).collect()
}

fn f32_be(values: &[f32]) -> Vec<u8> {
    values.iter().flat_map(|v| v.to_be_bytes()).collect()
}

fn f64_le(values: &[f64]) -> Vec<u8> {
    values.iter().flat_map(|v| v.to_le_bytes()).collect()
}

fn f64_be(values: &[f64]) -> Vec<u8> {
    values.iter().flat_map(|v| v.to_be_bytes()).collect()
}

/// An HTK file built by hand (big-endian header fields, then `data`).
fn htk(n_samples: i32, samp_period: i32, samp_size: i16, parm_kind: u16, data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    out.extend_from_slice(&n_samples.to_be_bytes());
    out.extend_from_slice(&samp_period.to_be_bytes());
    out.extend_from_slice(&samp_size.to_be_bytes());
    out.extend_from_slice(&parm_kind.to_be_bytes());
    out.extend_from_slice(data);
    out
}

/// The error's message, with the file's path replaced by `FILE`.
fn message(err: &FeatureError, path: &Path) -> String {
    err.to_string().replace(&path.display().to_string(), "FILE")
}

fn npy_err(dir: &TempDir, bytes: &[u8]) -> String {
    let path = file(dir, "x.npy", bytes);
    let err = read_npy(&path).expect_err("the file should be refused");
    assert_eq!(err.path(), path);
    message(&err, &path)
}

fn htk_err(dir: &TempDir, bytes: &[u8]) -> String {
    let path = file(dir, "x.htk", bytes);
    let err = read_htk(&path).expect_err("the file should be refused");
    assert_eq!(err.path(), path);
    message(&err, &path)
}

/// The names in `dir`, sorted.
fn listing(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(dir)
        .expect("read_dir")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

fn sample() -> Array2<f32> {
    array![
        [1.0, -2.5, 3.25, 0.0],
        [1e-30, 4e30, -0.0, 7.5],
        [f32::MIN_POSITIVE, f32::MAX, f32::MIN, 1.0 / 3.0],
    ]
}

fn bits(a: &Array2<f32>) -> Vec<u32> {
    a.iter().map(|v| v.to_bits()).collect()
}

// ---------------------------------------------------------------- .npy

#[test]
fn npy_round_trip_f32() {
    let dir = tmp();
    let path = dir.path().join("a.npy");
    let data = sample();
    write_npy(&path, &data).unwrap();
    let back = read_npy(&path).unwrap();
    assert_eq!(bits(&back), bits(&data));
    assert_eq!(back.dim(), (3, 4));
    assert!(back.is_standard_layout());
}

#[test]
fn npy_writes_any_layout_in_logical_order() {
    let dir = tmp();
    let path = dir.path().join("t.npy");
    let data = sample();
    // A transposed view (Fortran-like strides) and a strided slice.
    write_npy(&path, &data.t()).unwrap();
    assert_eq!(read_npy(&path).unwrap(), data.t());
    write_npy(&path, &data.slice(ndarray::s![..;2, 1..;2])).unwrap();
    assert_eq!(
        read_npy(&path).unwrap(),
        array![[-2.5f32, 0.0], [f32::MAX, 1.0 / 3.0]]
    );
}

#[test]
fn npy_writer_header_is_numpy_v1_aligned_to_64_bytes() {
    let dir = tmp();
    let path = dir.path().join("h.npy");
    write_npy(&path, &Array2::<f32>::zeros((412, 60))).unwrap();
    let bytes = fs::read(&path).unwrap();
    assert_eq!(&bytes[..8], b"\x93NUMPY\x01\x00");
    let header_len = usize::from(u16::from_le_bytes([bytes[8], bytes[9]]));
    let data_start = 10 + header_len;
    assert_eq!(data_start % 64, 0);
    let header = std::str::from_utf8(&bytes[10..data_start]).unwrap();
    assert_eq!(
        header.trim_end(),
        "{'descr': '<f4', 'fortran_order': False, 'shape': (412, 60)}"
    );
    assert!(header.ends_with('\n'));
    assert_eq!(bytes.len() - data_start, 412 * 60 * 4);
}

#[test]
fn npy_reads_f64_c_order_as_f32() {
    let dir = tmp();
    let values = [1.0, 2.5, -3.0, 0.1, 1e300, -1e-300];
    let path = file(
        &dir,
        "d.npy",
        &npy(1, &npy_dict("<f8", false, "(2, 3)"), &f64_le(&values)),
    );
    let got = read_npy(&path).unwrap();
    let expected =
        Array2::from_shape_vec((2, 3), values.iter().map(|&v| v as f32).collect()).unwrap();
    assert_eq!(bits(&got), bits(&expected));
    assert_eq!(got[[1, 1]], f32::INFINITY, "1e300 does not fit in f32");
}

#[test]
fn npy_reads_fortran_order_f32_and_f64() {
    let dir = tmp();
    let expected = array![[1.0f32, 2.0, 3.0], [4.0, 5.0, 6.0]];
    // Column-major storage: the columns one after the other.
    let column_major = [1.0f32, 4.0, 2.0, 5.0, 3.0, 6.0];
    let path = file(
        &dir,
        "f4.npy",
        &npy(1, &npy_dict("<f4", true, "(2, 3)"), &f32_le(&column_major)),
    );
    let got = read_npy(&path).unwrap();
    assert_eq!(got, expected);
    assert!(got.is_standard_layout());

    let column_major: Vec<f64> = column_major.iter().map(|&v| f64::from(v)).collect();
    let path = file(
        &dir,
        "f8.npy",
        &npy(1, &npy_dict("<f8", true, "(2, 3)"), &f64_le(&column_major)),
    );
    assert_eq!(read_npy(&path).unwrap(), expected);

    // Same data as ndarray's own Fortran-order array.
    let f = Array2::from_shape_vec((2, 3).f(), vec![1.0f32, 4.0, 2.0, 5.0, 3.0, 6.0]).unwrap();
    assert_eq!(f, expected);
}

#[test]
fn npy_reads_big_endian() {
    let dir = tmp();
    let expected = array![[1.5f32, -2.0], [3.0, 4.25]];
    let path = file(
        &dir,
        "be4.npy",
        &npy(
            1,
            &npy_dict(">f4", false, "(2, 2)"),
            &f32_be(&[1.5, -2.0, 3.0, 4.25]),
        ),
    );
    assert_eq!(read_npy(&path).unwrap(), expected);
    let path = file(
        &dir,
        "be8.npy",
        &npy(
            1,
            &npy_dict(">f8", true, "(2, 2)"),
            &f64_be(&[1.5, 3.0, -2.0, 4.25]),
        ),
    );
    assert_eq!(read_npy(&path).unwrap(), expected);
}

#[test]
fn npy_reads_versions_2_and_3_and_header_variants() {
    let dir = tmp();
    let data = f32_le(&[1.0, 2.0]);
    let expected = array![[1.0f32, 2.0]];
    for (major, header) in [
        (2, npy_dict("<f4", false, "(1, 2)")),
        (3, npy_dict("<f4", false, "(1, 2)")),
        // Python 2 long integers, double quotes, other key order, no
        // trailing commas, extra whitespace.
        (
            1,
            "{'shape': (1L, 2L), 'fortran_order': False, 'descr': '<f4'}".into(),
        ),
        (
            1,
            "{ \"descr\" : \"<f4\" ,\n \"fortran_order\":False,\"shape\":( 1 , 2 ) }".into(),
        ),
    ] {
        let path = file(&dir, "v.npy", &npy(major, &header, &data));
        assert_eq!(read_npy(&path).unwrap(), expected, "{header}");
    }
}

#[test]
fn npy_zero_frames_is_read_as_an_empty_matrix() {
    let dir = tmp();
    let path = dir.path().join("empty.npy");
    write_npy(&path, &Array2::<f32>::zeros((0, 60))).unwrap();
    assert_eq!(read_npy(&path).unwrap().dim(), (0, 60));
}

#[test]
fn npy_refuses_other_dtypes_naming_them() {
    let dir = tmp();
    for (descr, name) in [
        ("<i4", "'<i4' (int32)"),
        ("<f2", "'<f2' (float16)"),
        ("|u1", "'|u1' (uint8)"),
        ("<c8", "'<c8' (complex64)"),
        ("|b1", "'|b1' (bool)"),
        ("<U8", "'<U8' (unicode string)"),
        ("|O", "'|O' (Python objects)"),
        ("<f16", "'<f16' (float128)"),
    ] {
        let bytes = npy(1, &npy_dict(descr, false, "(2, 2)"), &[0; 64]);
        assert_eq!(
            npy_err(&dir, &bytes),
            format!(
                "FILE: unsupported dtype {name}; features must be float32 ('<f4') or float64 ('<f8')"
            )
        );
    }
    // A structured dtype: the raw text is shown.
    let header = "{'descr': [('x', '<f4'), ('y', '<f4')], 'fortran_order': False, 'shape': (2,), }";
    let msg = npy_err(&dir, &npy(1, header, &[0; 16]));
    assert!(
        msg.starts_with("FILE: unsupported dtype '[('x', '<f4'), ('y', '<f4')]'"),
        "{msg}"
    );
}

#[test]
fn npy_refuses_arrays_that_are_not_2d_naming_the_shape() {
    let dir = tmp();
    let msg = npy_err(&dir, &npy(1, &npy_dict("<f4", false, "(60,)"), &[0; 240]));
    assert_eq!(
        msg,
        "FILE: expected a 2-D array (frames × columns), found a 1-D array of shape (60,); \
         store a single frame as shape (1, 60), or frames of one value as (60, 1)"
    );
    let msg = npy_err(
        &dir,
        &npy(1, &npy_dict("<f8", false, "(2, 3, 4)"), &[0; 192]),
    );
    assert_eq!(
        msg,
        "FILE: expected a 2-D array (frames × columns), found a 3-D array of shape (2, 3, 4)"
    );
    let msg = npy_err(&dir, &npy(1, &npy_dict("<f4", false, "()"), &[0; 4]));
    assert_eq!(
        msg,
        "FILE: expected a 2-D array (frames × columns), found a 0-D array of shape ()"
    );
}

#[test]
fn npy_truncated_data_names_expected_and_found_bytes() {
    let dir = tmp();
    let bytes = npy(1, &npy_dict("<f4", false, "(412, 60)"), &vec![0; 50000]);
    let path = file(&dir, "spk1_003.npy", &bytes);
    let err = read_npy(&path).unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "{}: truncated: header says 412 frames × 60 columns (98880 bytes of f32) but only 50000 bytes follow",
            path.display()
        )
    );
    assert!(matches!(
        err,
        FeatureError::Truncated {
            frames: 412,
            columns: 60,
            expected: 98880,
            found: 50000,
            ..
        }
    ));
    let msg = npy_err(&dir, &npy(1, &npy_dict("<f8", false, "(2, 2)"), &[0; 31]));
    assert_eq!(
        msg,
        "FILE: truncated: header says 2 frames × 2 columns (32 bytes of f64) but only 31 bytes follow"
    );
}

#[test]
fn npy_trailing_bytes_are_refused() {
    let dir = tmp();
    let msg = npy_err(&dir, &npy(1, &npy_dict("<f4", false, "(2, 2)"), &[0; 20]));
    assert_eq!(
        msg,
        "FILE: 4 unexpected bytes at the end: header says 2 frames × 2 columns (16 bytes of f32) but 20 bytes follow"
    );
}

#[test]
fn npy_bad_magic_version_and_header() {
    let dir = tmp();
    let cases: Vec<(Vec<u8>, &str)> = vec![
        (
            vec![],
            "FILE: not a valid .npy file: the file is only 0 bytes long, too short for the .npy magic string",
        ),
        (
            b"\x93NUM".to_vec(),
            "FILE: not a valid .npy file: the file is only 4 bytes long, too short for the .npy magic string",
        ),
        (
            b"hello world".to_vec(),
            "FILE: not a valid .npy file: it does not start with the magic string \"\\x93NUMPY\" (found \"hello \")",
        ),
        (
            b"PK\x03\x04\x14\x00\x00\x00".to_vec(),
            "FILE: not a valid .npy file: it does not start with the magic string \"\\x93NUMPY\" \
             (found \"PK\\x03\\x04\\x14\\x00\") (this looks like a .npz archive: extract its arrays to .npy files first)",
        ),
        (
            b"\x93NUMPY\x01".to_vec(),
            "FILE: not a valid .npy file: the file ends inside the format version bytes",
        ),
        (
            b"\x93NUMPY\x04\x00\x10\x00".to_vec(),
            "FILE: not a valid .npy file: unsupported format version 4.0 (versions 1.0, 2.0 and 3.0 are read)",
        ),
        (
            b"\x93NUMPY\x02\x00\x10\x00".to_vec(),
            "FILE: not a valid .npy file: the file ends inside the header length field",
        ),
        (
            b"\x93NUMPY\x01\x00\x76\x00{'descr'".to_vec(),
            "FILE: not a valid .npy file: the header length field says 118 bytes but only 8 bytes follow",
        ),
        (
            npy(1, "{'descr': '<f4', 'fortran_order': False}", &[]),
            "FILE: not a valid .npy file: the header has no 'shape' key",
        ),
        (
            npy(1, "{'descr': '<f4', 'fortran_order': 0, 'shape': (1, 1)}", &[0; 4]),
            "FILE: not a valid .npy file: 'fortran_order' must be True or False, found \"0\"",
        ),
        (
            npy(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (1, -2)}", &[]),
            "FILE: not a valid .npy file: 'shape' must be a tuple of non-negative integers, found \"(1, -2)\"",
        ),
        (
            npy(1, "{'descr': '<f4', 'fortran_order': False, 'shape': [1, 2]}", &[]),
            "FILE: not a valid .npy file: 'shape' must be a tuple of non-negative integers, found \"[1, 2]\"",
        ),
        (
            npy(1, "{'descr': '<f4', 'fortran_order': Flase, 'shape': (1, 2)}", &[]),
            "FILE: not a valid .npy file: cannot parse the header dict: expected value at column 35, \
             found \"Flase, 'shape': (1, 2)}\"",
        ),
        (
            npy(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (1, 2)", &[]),
            "FILE: not a valid .npy file: cannot parse the header dict: expected '}' to close the '{' \
             at column 1, found the end of the header",
        ),
        (
            npy(1, "['descr', '<f4']", &[]),
            "FILE: not a valid .npy file: the header is not a dict: \"['descr', '<f4']\"",
        ),
        (
            npy(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (1, 2)} x", &[]),
            "FILE: not a valid .npy file: unexpected text after the header dict at column 59: \"x\"",
        ),
        (
            npy(
                1,
                "{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999999999999, 2)}",
                &[],
            ),
            "FILE: not a valid .npy file: shape (99999999999999999999, 2) is too large",
        ),
        (
            npy(
                1,
                "{'descr': '<f4', 'fortran_order': False, 'shape': (9223372036854775807, 2)}",
                &[],
            ),
            "FILE: not a valid .npy file: shape (9223372036854775807, 2) is too large",
        ),
    ];
    for (bytes, expected) in cases {
        assert_eq!(npy_err(&dir, &bytes), expected);
    }
    // Deep nesting is refused, not a stack overflow.
    let deep = format!(
        "{{'descr': '<f4', 'fortran_order': False, 'shape': {}1{}}}",
        "(".repeat(5000),
        ")".repeat(5000)
    );
    let msg = npy_err(&dir, &npy(1, &deep, &[]));
    assert_eq!(
        msg,
        "FILE: not a valid .npy file: cannot parse the header dict: nesting deeper than 16 levels"
    );
}

#[test]
fn missing_file_names_the_file_and_the_os_error() {
    let dir = tmp();
    let path = dir.path().join("nowhere").join("spk9.npy");
    for err in [
        read_npy(&path).unwrap_err(),
        read_features(&path).unwrap_err(),
    ] {
        let msg = err.to_string();
        assert!(
            msg.starts_with(&format!("{}: cannot read: ", path.display())),
            "{msg}"
        );
        match err {
            FeatureError::Io { error, op, .. } => {
                assert_eq!(error.kind(), std::io::ErrorKind::NotFound);
                assert_eq!(op, "read");
                assert!(msg.ends_with(&error.to_string()));
            }
            other => panic!("expected an io error, got {other:?}"),
        }
    }
    let path = dir.path().join("no_dir").join("out.npy");
    let msg = write_npy(&path, &sample()).unwrap_err().to_string();
    assert!(
        msg.starts_with(&format!("{}: cannot write: ", path.display())),
        "{msg}"
    );
}

/// The 2 × 3 matrix `[[1, 2, 3], [4, 5, 6]] / 8 - 0.25` stored as `descr`,
/// in C or Fortran order.
fn npy_2x3(descr: &str, fortran: bool) -> Vec<u8> {
    let expected = [[1.0f64, 2.0, 3.0], [4.0, 5.0, 6.0]].map(|row| row.map(|v| v / 8.0 - 0.25));
    let order: Vec<f64> = if fortran {
        (0..3)
            .flat_map(|j| (0..2).map(move |i| (i, j)))
            .map(|(i, j)| expected[i][j])
            .collect()
    } else {
        expected.iter().flatten().copied().collect()
    };
    let data = match descr {
        "<f4" => order
            .iter()
            .flat_map(|&v| (v as f32).to_le_bytes())
            .collect(),
        ">f4" => order
            .iter()
            .flat_map(|&v| (v as f32).to_be_bytes())
            .collect(),
        "<f8" => f64_le(&order),
        ">f8" => f64_be(&order),
        _ => unreachable!("{descr}"),
    };
    npy(1, &npy_dict(descr, fortran, "(2, 3)"), &data)
}

#[test]
fn npy_reads_every_byte_order_and_memory_order() {
    let dir = tmp();
    let expected = array![[1.0f32, 2.0, 3.0], [4.0, 5.0, 6.0]].mapv(|v| v / 8.0 - 0.25);
    for descr in ["<f4", ">f4", "<f8", ">f8"] {
        for fortran in [false, true] {
            let path = file(&dir, "o.npy", &npy_2x3(descr, fortran));
            let got = read_npy(&path).unwrap();
            assert_eq!(bits(&got), bits(&expected), "{descr}, fortran {fortran}");
            assert!(got.is_standard_layout(), "{descr}, fortran {fortran}");
        }
    }
}

#[test]
fn npy_header_claiming_more_than_the_file_holds_is_refused_before_allocating() {
    let dir = tmp();
    // A 200-byte file whose header claims 10^11 values: refused with the
    // sizes, not an allocation of 400 GB.
    let mut bytes = npy(1, &npy_dict("<f4", false, "(100000, 1000000)"), &[]);
    let found = 200 - bytes.len();
    bytes.resize(200, 0);
    let path = file(&dir, "huge.npy", &bytes);
    let err = read_npy(&path).unwrap_err();
    assert_eq!(err.path(), path);
    assert_eq!(
        message(&err, &path),
        format!(
            "FILE: truncated: header says 100000 frames × 1000000 columns \
             (400000000000 bytes of f32) but only {found} bytes follow"
        )
    );
    assert!(matches!(
        err,
        FeatureError::Truncated {
            frames: 100_000,
            columns: 1_000_000,
            expected: 400_000_000_000,
            ..
        }
    ));
    // The same through read_features, as f64, big-endian, Fortran order,
    // format 2.0.
    let bytes = npy(2, &npy_dict(">f8", true, "(316228, 316228)"), &[0; 100]);
    let path = file(&dir, "huge2.npy", &bytes);
    assert_eq!(
        message(&read_features(&path).unwrap_err(), &path),
        "FILE: truncated: header says 316228 frames × 316228 columns \
         (800001183872 bytes of f64) but only 100 bytes follow"
    );
    // A header length field that claims 4 GiB is refused before it is read.
    let mut bytes = b"\x93NUMPY\x02\x00\xff\xff\xff\xff".to_vec();
    bytes.extend_from_slice(&[b' '; 188]);
    assert_eq!(
        npy_err(&dir, &bytes),
        "FILE: not a valid .npy file: the header length field says 4294967295 bytes \
         but only 188 bytes follow"
    );
    // Shapes whose byte count overflows.
    for shape in ["(4611686018427387904, 4)", "(4294967296, 4294967296)"] {
        let msg = npy_err(&dir, &npy(1, &npy_dict("<f4", false, shape), &[]));
        assert_eq!(
            msg,
            format!("FILE: not a valid .npy file: shape {shape} is too large")
        );
    }
}

#[test]
fn npy_header_rules_numpy_shares() {
    let dir = tmp();
    let cases: Vec<(Vec<u8>, &str)> = vec![
        (
            npy(
                1,
                "{'descr': '<f4', 'fortran_order': False, 'shape': (1, 1), 'x': 1}",
                &[0; 4],
            ),
            "FILE: not a valid .npy file: unknown key 'x' in the header \
             (the keys are 'descr', 'fortran_order' and 'shape')",
        ),
        (
            npy(1, "{'descr': '<f4', 'shape': (1, 1)}", &[0; 4]),
            "FILE: not a valid .npy file: the header has no 'fortran_order' key",
        ),
        (
            b"\x93NUMPY\x01\x00\x0a\x00{'descr':}".to_vec(),
            "FILE: not a valid .npy file: the header does not end with a newline",
        ),
        (
            b"\x93NUMPY\x01\x01\x0a\x00{'descr':}\n".to_vec(),
            "FILE: not a valid .npy file: unsupported format version 1.1 \
             (versions 1.0, 2.0 and 3.0 are read)",
        ),
        (
            npy(
                1,
                "{'descr': '<f4', 'fortran_order': False, 'shape': (1, 1]}",
                &[0; 4],
            ),
            "FILE: not a valid .npy file: cannot parse the header dict: \
             ']' at column 56 does not close the '(' at column 51",
        ),
        (
            npy(
                1,
                "{'descr': '<f4', 'fortran_order': False, 'shape': (1, 1)}}",
                &[0; 4],
            ),
            "FILE: not a valid .npy file: cannot parse the header dict: \
             '}' at column 58 closes nothing",
        ),
        (
            npy(
                1,
                "{'descr': '<f4, 'fortran_order': False, 'shape': (1, 1)}",
                &[0; 4],
            ),
            "FILE: not a valid .npy file: cannot parse the header dict: \
             the string at column 47 is not closed",
        ),
        (
            npy(
                1,
                "{'descr': '\u{e9}', 'fortran_order': False, 'shape': (1, 1)}",
                &[0; 4],
            ),
            "FILE: not a valid .npy file: the header is not ASCII \
             (versions 1.0 and 2.0 require it; 3.0 allows UTF-8)",
        ),
    ];
    for (bytes, expected) in cases {
        assert_eq!(npy_err(&dir, &bytes), expected);
    }
    // Format 3.0 allows UTF-8: the header is read, the dtype refused.
    let bytes = npy(
        3,
        "{'descr': '\u{e9}', 'fortran_order': False, 'shape': (1, 1)}",
        &[0; 4],
    );
    assert_eq!(
        npy_err(&dir, &bytes),
        "FILE: unsupported dtype '\u{e9}'; features must be float32 ('<f4') or float64 ('<f8')"
    );
}

// ---------------------------------------------------------------- HTK

#[test]
fn htk_round_trip_with_header() {
    let dir = tmp();
    let path = dir.path().join("a.mfc");
    let data = sample();
    let kind = htk_kind::MFCC | htk_kind::E | htk_kind::D | htk_kind::A;
    write_htk(&path, &data, 100_000, kind).unwrap();
    assert_eq!(fs::metadata(&path).unwrap().len(), 12 + 3 * 4 * 4);
    let (header, back) = read_htk_with_header(&path).unwrap();
    assert_eq!(
        header,
        HtkHeader {
            frames: 3,
            samp_period: 100_000,
            samp_size: 16,
            parm_kind: kind,
        }
    );
    assert_eq!(header.columns(), 4);
    assert_eq!(header.base_kind(), htk_kind::MFCC);
    assert_eq!(header.kind_name(), "MFCC_E_D_A");
    assert_eq!(bits(&back), bits(&data));
    assert_eq!(bits(&read_htk(&path).unwrap()), bits(&data));
    // Any input layout is written in logical order.
    write_htk(&path, &data.t(), 100_000, htk_kind::USER).unwrap();
    assert_eq!(read_htk(&path).unwrap(), data.t());
}

/// Bytes written out by hand: 2 frames × 3 columns, 10 ms, USER.
const HAND_HTK: [u8; 36] = [
    0x00, 0x00, 0x00, 0x02, // nSamples = 2
    0x00, 0x01, 0x86, 0xA0, // sampPeriod = 100000 (10 ms)
    0x00, 0x0C, // sampSize = 12 bytes
    0x00, 0x09, // parmKind = USER
    0x3F, 0x80, 0x00, 0x00, // 1.0
    0xC0, 0x20, 0x00, 0x00, // -2.5
    0x3E, 0x80, 0x00, 0x00, // 0.25
    0x42, 0xC8, 0x00, 0x00, // 100.0
    0x00, 0x00, 0x00, 0x00, // 0.0
    0xBF, 0x00, 0x00, 0x00, // -0.5
];

#[test]
fn htk_hand_built_bytes_read_and_write_exactly() {
    let dir = tmp();
    let path = file(&dir, "hand.htk", &HAND_HTK);
    let (header, data) = read_htk_with_header(&path).unwrap();
    assert_eq!(
        header,
        HtkHeader {
            frames: 2,
            samp_period: 100_000,
            samp_size: 12,
            parm_kind: htk_kind::USER,
        }
    );
    assert_eq!(data, array![[1.0f32, -2.5, 0.25], [100.0, 0.0, -0.5]]);

    let out = dir.path().join("out.htk");
    write_htk(&out, &data, 100_000, htk_kind::USER).unwrap();
    assert_eq!(fs::read(&out).unwrap(), HAND_HTK);
}

#[test]
fn htk_checksum_is_skipped() {
    let dir = tmp();
    let mut bytes = HAND_HTK.to_vec();
    bytes[10..12].copy_from_slice(&(htk_kind::USER | htk_kind::K).to_be_bytes());
    bytes.extend_from_slice(&[0xAB, 0xCD]);
    let path = file(&dir, "k.htk", &bytes);
    let (header, data) = read_htk_with_header(&path).unwrap();
    assert_eq!(header.kind_name(), "USER_K");
    assert_eq!(data, array![[1.0f32, -2.5, 0.25], [100.0, 0.0, -0.5]]);

    // Without its CRC the file is short by two bytes.
    bytes.truncate(bytes.len() - 2);
    assert_eq!(
        htk_err(&dir, &bytes),
        "FILE: truncated: header says 2 frames × 3 columns (26 bytes of f32 + 2-byte CRC) but only 24 bytes follow"
    );
}

#[test]
fn htk_refuses_compressed_vq_and_non_float_kinds() {
    let dir = tmp();
    let cases = [
        (
            htk_kind::MFCC | htk_kind::E | htk_kind::C,
            "FILE: unsupported HTK parameter kind MFCC_E_C (parmKind 0o2106): compressed (_C) files \
             store scaled 16-bit integers; save them uncompressed (HTK: SAVECOMPRESSED = F)",
        ),
        (
            htk_kind::PLP | htk_kind::V,
            "FILE: unsupported HTK parameter kind PLP_V (parmKind 0o40013): VQ-tagged (_V) files \
             interleave codebook indices with the floats; save them without VQ indices",
        ),
        (
            htk_kind::WAVEFORM,
            "FILE: unsupported HTK parameter kind WAVEFORM (parmKind 0o0): WAVEFORM files hold \
             16-bit audio samples, not feature vectors; extract features first",
        ),
        (
            htk_kind::DISCRETE,
            "FILE: unsupported HTK parameter kind DISCRETE (parmKind 0o12): IREFC and DISCRETE \
             files hold 16-bit integers, not float feature vectors",
        ),
        (
            htk_kind::IREFC,
            "FILE: unsupported HTK parameter kind IREFC (parmKind 0o5): IREFC and DISCRETE \
             files hold 16-bit integers, not float feature vectors",
        ),
        (
            13 | htk_kind::E,
            "FILE: unsupported HTK parameter kind KIND13_E (parmKind 0o115): unknown base kind; \
             float kinds are LPC, LPREFC, LPCEPSTRA, LPDELCEP, MFCC, FBANK, MELSPEC, USER and PLP",
        ),
    ];
    for (kind, expected) in cases {
        let bytes = htk(2, 100_000, 12, kind, &HAND_HTK[12..]);
        assert_eq!(htk_err(&dir, &bytes), expected);
    }
}

#[test]
fn htk_truncated_and_trailing_name_the_sizes() {
    let dir = tmp();
    let bytes = htk(412, 100_000, 240, htk_kind::USER, &vec![0; 50000]);
    assert_eq!(
        htk_err(&dir, &bytes),
        "FILE: truncated: header says 412 frames × 60 columns (98880 bytes of f32) but only 50000 bytes follow"
    );
    let mut bytes = HAND_HTK.to_vec();
    bytes.push(0);
    assert_eq!(
        htk_err(&dir, &bytes),
        "FILE: 1 unexpected bytes at the end: header says 2 frames × 3 columns (24 bytes of f32) but 25 bytes follow"
    );
}

#[test]
fn htk_bad_headers() {
    let dir = tmp();
    let cases: Vec<(Vec<u8>, &str)> = vec![
        (
            vec![0; 11],
            "FILE: not a valid HTK file: the file is 11 bytes long, shorter than the 12-byte header",
        ),
        (
            htk(-1, 100_000, 12, htk_kind::USER, &[]),
            "FILE: not a valid HTK file: negative frame count -1",
        ),
        (
            htk(1, -5, 12, htk_kind::USER, &[0; 12]),
            "FILE: not a valid HTK file: negative sample period -5",
        ),
        (
            htk(1, 100_000, 0, htk_kind::USER, &[]),
            "FILE: not a valid HTK file: frame size (sampSize) 0 bytes is not positive",
        ),
        (
            htk(1, 100_000, -8, htk_kind::USER, &[]),
            "FILE: not a valid HTK file: frame size (sampSize) -8 bytes is not positive",
        ),
        (
            htk(1, 100_000, 10, htk_kind::USER, &[0; 10]),
            "FILE: not a valid HTK file: frame size (sampSize) 10 bytes is not a whole number of 4-byte floats",
        ),
    ];
    for (bytes, expected) in cases {
        assert_eq!(htk_err(&dir, &bytes), expected);
    }
}

#[test]
fn htk_little_endian_file_is_refused_with_a_hint() {
    let dir = tmp();
    let mut bytes = Vec::new();
    bytes.extend_from_slice(&2i32.to_le_bytes());
    bytes.extend_from_slice(&100_000i32.to_le_bytes());
    bytes.extend_from_slice(&12i16.to_le_bytes());
    bytes.extend_from_slice(&(htk_kind::MFCC | htk_kind::E).to_le_bytes());
    bytes.extend_from_slice(&f32_le(&[1.0, 2.0, 3.0, 4.0, 5.0, 6.0]));
    assert_eq!(
        htk_err(&dir, &bytes),
        "FILE: not a valid HTK file: the header only makes sense read as little-endian \
         (2 frames × 3 columns of MFCC_E); HTK files are big-endian, convert this one"
    );
}

#[test]
fn htk_zero_frames() {
    let dir = tmp();
    let path = dir.path().join("empty.htk");
    write_htk(
        &path,
        &Array2::<f32>::zeros((0, 13)),
        100_000,
        htk_kind::MFCC,
    )
    .unwrap();
    let (header, data) = read_htk_with_header(&path).unwrap();
    assert_eq!((header.frames, header.columns()), (0, 13));
    assert_eq!(data.dim(), (0, 13));
}

#[test]
fn htk_writer_refuses_what_htk_cannot_store_and_writes_nothing() {
    let dir = tmp();
    let path = dir.path().join("w.htk");
    let cases: Vec<(Array2<f32>, u32, u16, &str)> = vec![
        (
            Array2::zeros((2, 0)),
            100_000,
            htk_kind::USER,
            "FILE: cannot write: HTK stores 1 to 8191 columns per frame (sampSize is an i16 of bytes), the data has 0",
        ),
        (
            Array2::zeros((1, 8192)),
            100_000,
            htk_kind::USER,
            "FILE: cannot write: HTK stores 1 to 8191 columns per frame (sampSize is an i16 of bytes), the data has 8192",
        ),
        (
            Array2::zeros((1, 2)),
            u32::MAX,
            htk_kind::USER,
            "FILE: cannot write: sample period 4294967295 does not fit HTK's i32 field",
        ),
        (
            Array2::zeros((1, 2)),
            100_000,
            htk_kind::MFCC | htk_kind::C,
            "FILE: cannot write: HTK parameter kind MFCC_C: compressed (_C) files store scaled \
             16-bit integers; save them uncompressed (HTK: SAVECOMPRESSED = F)",
        ),
        (
            Array2::zeros((1, 2)),
            100_000,
            htk_kind::MFCC | htk_kind::K,
            "FILE: cannot write: HTK parameter kind MFCC_K: the writer computes no CRC; leave out the _K qualifier",
        ),
        (
            Array2::zeros((1, 2)),
            100_000,
            htk_kind::WAVEFORM,
            "FILE: cannot write: HTK parameter kind WAVEFORM: WAVEFORM files hold 16-bit audio \
             samples, not feature vectors; extract features first",
        ),
    ];
    for (data, period, kind, expected) in cases {
        let err = write_htk(&path, &data, period, kind).unwrap_err();
        assert!(matches!(err, FeatureError::Unencodable { .. }));
        assert_eq!(message(&err, &path), expected);
        assert!(listing(dir.path()).is_empty());
    }
    // 8191 columns is the most HTK can hold.
    write_htk(&path, &Array2::zeros((1, 8191)), 100_000, htk_kind::USER).unwrap();
    assert_eq!(read_htk(&path).unwrap().dim(), (1, 8191));
}

#[test]
fn htk_kind_names() {
    assert_eq!(htk_kind_name(htk_kind::MFCC), "MFCC");
    assert_eq!(
        htk_kind_name(htk_kind::MFCC | htk_kind::E | htk_kind::D | htk_kind::A | htk_kind::ZERO),
        "MFCC_E_D_A_0"
    );
    assert_eq!(
        htk_kind_name(htk_kind::PLP | htk_kind::N | htk_kind::Z | htk_kind::T),
        "PLP_N_Z_T"
    );
    assert_eq!(htk_kind_name(htk_kind::FBANK | htk_kind::K), "FBANK_K");
    assert_eq!(htk_kind_name(63), "KIND63");
}

// ---------------------------------------------------------------- dispatch and checks

#[test]
fn read_features_dispatches_on_the_extension() {
    let dir = tmp();
    let data = sample();
    for name in ["a.npy", "b.NPY"] {
        let path = dir.path().join(name);
        write_npy(&path, &data).unwrap();
        assert_eq!(bits(&read_features(&path).unwrap()), bits(&data), "{name}");
    }
    for name in ["c.htk", "d.mfc", "e.fea", "f.plp", "g.MFC"] {
        let path = dir.path().join(name);
        write_htk(&path, &data, 100_000, htk_kind::USER).unwrap();
        assert_eq!(bits(&read_features(&path).unwrap()), bits(&data), "{name}");
    }
    // The extension decides, not the content: an HTK file named .npy is
    // refused as a bad .npy file.
    let path = dir.path().join("h.npy");
    write_htk(&path, &data, 100_000, htk_kind::USER).unwrap();
    assert!(matches!(
        read_features(&path).unwrap_err(),
        FeatureError::NpyHeader { .. }
    ));
    assert_eq!(
        FeatureFormat::from_path("x/y.Fea"),
        Some(FeatureFormat::Htk)
    );
    assert_eq!(FeatureFormat::from_path("x/y.npz"), None);
}

#[test]
fn read_features_unknown_extension_lists_the_accepted_ones() {
    let dir = tmp();
    let path = file(&dir, "spk1.wav", b"RIFF");
    assert_eq!(
        message(&read_features(&path).unwrap_err(), &path),
        "FILE: unknown feature file extension '.wav'; accepted: .npy (NumPy), .htk, .mfc, .fea, .plp (HTK)"
    );
    let path = file(&dir, "spk1", b"");
    assert_eq!(
        message(&read_features(&path).unwrap_err(), &path),
        "FILE: no file extension to tell the feature format; accepted: .npy (NumPy), .htk, .mfc, .fea, .plp (HTK)"
    );
}

#[test]
fn read_features_with_checks_the_dimension() {
    let dir = tmp();
    let path = dir.path().join("spk1_003.npy");
    write_npy(&path, &Array2::<f32>::ones((5, 39))).unwrap();
    let err = read_features_with(&path, &ReadOptions::new().expect_dim(60)).unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "{}: has 39 columns per frame but 60 are expected",
            path.display()
        )
    );
    assert!(matches!(
        err,
        FeatureError::WrongDim {
            found: 39,
            expected: 60,
            ..
        }
    ));
    let ok = read_features_with(&path, &ReadOptions::new().expect_dim(39)).unwrap();
    assert_eq!(ok.dim(), (5, 39));
}

#[test]
fn read_features_with_refuses_empty_files_unless_allowed() {
    let dir = tmp();
    let path = dir.path().join("silence.htk");
    write_htk(
        &path,
        &Array2::<f32>::zeros((0, 60)),
        100_000,
        htk_kind::MFCC,
    )
    .unwrap();
    assert_eq!(
        message(
            &read_features_with(&path, &ReadOptions::default()).unwrap_err(),
            &path
        ),
        "FILE: no frames (0 × 60)"
    );
    let empty = read_features_with(&path, &ReadOptions::new().allow_empty(true)).unwrap();
    assert_eq!(empty.dim(), (0, 60));
    // The dimension is checked first.
    let err = read_features_with(&path, &ReadOptions::new().expect_dim(13)).unwrap_err();
    assert!(matches!(err, FeatureError::WrongDim { found: 60, .. }));
    // read_features itself does not check content.
    assert_eq!(read_features(&path).unwrap().dim(), (0, 60));
}

#[test]
fn read_features_with_names_the_first_non_finite_value() {
    let dir = tmp();
    let path = dir.path().join("bad.npy");
    let mut data = Array2::<f32>::zeros((4, 3));
    data[[1, 2]] = f32::NAN;
    data[[3, 0]] = f32::INFINITY;
    write_npy(&path, &data).unwrap();
    assert_eq!(
        message(
            &read_features_with(&path, &ReadOptions::new()).unwrap_err(),
            &path
        ),
        "FILE: non-finite value NaN at frame 1, column 2 (counting from 0)"
    );
    data[[1, 2]] = 0.0;
    write_npy(&path, &data).unwrap();
    assert_eq!(
        message(
            &read_features_with(&path, &ReadOptions::new()).unwrap_err(),
            &path
        ),
        "FILE: non-finite value inf at frame 3, column 0 (counting from 0)"
    );
    let read = read_features_with(&path, &ReadOptions::new().allow_non_finite(true)).unwrap();
    assert_eq!(read[[3, 0]], f32::INFINITY);

    // f64 values beyond f32's range become infinite, and are caught.
    let path = file(
        &dir,
        "big.npy",
        &npy(
            1,
            &npy_dict("<f8", false, "(1, 2)"),
            &f64_le(&[1.0, -1e300]),
        ),
    );
    assert_eq!(
        message(
            &read_features_with(&path, &ReadOptions::new()).unwrap_err(),
            &path
        ),
        "FILE: non-finite value -inf at frame 0, column 1 (counting from 0)"
    );
}

#[test]
fn options_check_works_on_features_in_memory() {
    let opts = ReadOptions::new().expect_dim(2);
    assert!(opts.check("mem", &array![[1.0f32, 2.0]]).is_ok());
    let err = opts.check("utt7", &array![[1.0f32, 2.0, 3.0]]).unwrap_err();
    assert_eq!(
        err.to_string(),
        "utt7: has 3 columns per frame but 2 are expected"
    );
    let mut opts = ReadOptions::default();
    opts.expected_dim = Some(3);
    assert!(opts.check("x", &array![[1.0f32, 2.0, 3.0]]).is_ok());
}

// ---------------------------------------------------------------- list files

#[test]
fn list_file_semantics() {
    let dir = tmp();
    fs::create_dir(dir.path().join("lists")).unwrap();
    let abs = dir.path().join("abs").join("z.npy");
    let text = format!(
        "\u{feff}# training set, speaker 1\n\
         spk1/a.npy\n\
         \n\
         \t  spk1/b.npy   \r\n\
         spk1/c.npy # second session\n\
         spk1/take#2.npy\n\
         spk1/my file.htk\t# inner space kept\n\
         \x20  # indented comment\n\
         ../feat/d.mfc\n\
         {}\n\
         last.npy",
        abs.display()
    );
    let list = file(&dir, "lists/train.lst", text.as_bytes());
    let base = dir.path().join("lists");
    assert_eq!(
        read_list(&list).unwrap(),
        vec![
            base.join("spk1/a.npy"),
            base.join("spk1/b.npy"),
            base.join("spk1/c.npy"),
            base.join("spk1/take#2.npy"),
            base.join("spk1/my file.htk"),
            base.join("../feat/d.mfc"),
            abs,
            base.join("last.npy"),
        ]
    );
}

#[test]
fn list_file_with_no_entries_is_empty() {
    let dir = tmp();
    let list = file(&dir, "only_comments.lst", b"# nothing yet\n\n   \n");
    assert_eq!(read_list(&list).unwrap(), Vec::<PathBuf>::new());
    let list = file(&dir, "empty.lst", b"");
    assert_eq!(read_list(&list).unwrap(), Vec::<PathBuf>::new());
}

#[test]
fn list_file_errors_name_the_list_and_the_line() {
    let dir = tmp();
    let list = file(&dir, "bad.lst", b"a.npy\nb.npy\nc\xff.npy\n");
    assert_eq!(
        message(&read_list(&list).unwrap_err(), &list),
        "FILE:3: not valid UTF-8 (bad byte at column 2)"
    );
    let list = file(&dir, "nul.lst", b"a.npy\nb\0.npy\n");
    let err = read_list(&list).unwrap_err();
    assert!(matches!(err, FeatureError::ListLine { line: 2, .. }));
    assert_eq!(err.path(), list);
    assert_eq!(
        message(&err, &list),
        "FILE:2: the path contains a NUL character"
    );
    let missing = dir.path().join("missing.lst");
    let msg = message(&read_list(&missing).unwrap_err(), &missing);
    assert!(msg.starts_with("FILE: cannot read: "), "{msg}");
}

// ---------------------------------------------------------------- atomic writes

#[test]
fn atomic_write_leaves_only_the_target() {
    let dir = tmp();
    let path = dir.path().join("model.txt");
    let n = atomic_write(&path, |w| -> std::io::Result<usize> {
        w.write_all(b"first")?;
        Ok(5)
    })
    .unwrap();
    assert_eq!(n, 5);
    assert_eq!(fs::read(&path).unwrap(), b"first");
    atomic_write(&path, |w| w.write_all(b"second version")).unwrap();
    assert_eq!(fs::read(&path).unwrap(), b"second version");
    assert_eq!(listing(dir.path()), ["model.txt"]);
}

#[test]
fn atomic_write_failure_keeps_the_old_file_and_removes_the_temporary() {
    let dir = tmp();
    let path = file(&dir, "model.txt", b"old content");
    let err = atomic_write(&path, |w| -> std::io::Result<()> {
        w.write_all(b"half of the new con")?;
        Err(std::io::Error::other("disk on fire"))
    })
    .unwrap_err();
    assert_eq!(err.to_string(), "disk on fire");
    assert_eq!(fs::read(&path).unwrap(), b"old content");
    assert_eq!(listing(dir.path()), ["model.txt"]);

    // The same when nothing existed before: nothing is left.
    let fresh = dir.path().join("fresh.txt");
    let _ = atomic_write(&fresh, |_| -> Result<(), std::io::Error> {
        Err(std::io::Error::other("no"))
    });
    assert!(!fresh.exists());
    assert_eq!(listing(dir.path()), ["model.txt"]);
}

#[test]
fn atomic_write_panic_keeps_the_old_file_and_removes_the_temporary() {
    let dir = tmp();
    let path = file(&dir, "model.txt", b"old content");
    let result = std::panic::catch_unwind(|| {
        let _ = atomic_write(&path, |w| -> std::io::Result<()> {
            w.write_all(b"partial")?;
            panic!("writer bug");
        });
    });
    assert!(result.is_err());
    assert_eq!(fs::read(&path).unwrap(), b"old content");
    assert_eq!(listing(dir.path()), ["model.txt"]);
}

#[test]
fn atomic_write_with_a_caller_error_type() {
    #[derive(Debug)]
    enum ModelError {
        Io,
        Invalid,
    }
    impl From<std::io::Error> for ModelError {
        fn from(_: std::io::Error) -> Self {
            Self::Io
        }
    }
    let dir = tmp();
    let path = dir.path().join("m.bin");
    let r: Result<(), ModelError> = atomic_write(&path, |_| Err(ModelError::Invalid));
    assert!(matches!(r, Err(ModelError::Invalid)));
    let r: Result<(), ModelError> = atomic_write(dir.path().join("no/such/dir/m.bin"), |_| Ok(()));
    assert!(matches!(r, Err(ModelError::Io)));
    assert!(listing(dir.path()).is_empty());
}

#[test]
fn atomic_write_refuses_a_path_without_a_file_name() {
    let err = atomic_write("/", |_| Ok::<(), std::io::Error>(())).unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput);
}

#[test]
fn writers_replace_existing_files_atomically() {
    let dir = tmp();
    let path = dir.path().join("f.npy");
    write_npy(&path, &Array2::<f32>::ones((2, 2))).unwrap();
    write_npy(&path, &sample()).unwrap();
    assert_eq!(bits(&read_npy(&path).unwrap()), bits(&sample()));
    let htk_path = dir.path().join("f.htk");
    write_htk(&htk_path, &sample(), 100_000, htk_kind::USER).unwrap();
    // A refused write leaves the existing file alone.
    assert!(write_htk(
        &htk_path,
        &Array2::zeros((1, 9000)),
        100_000,
        htk_kind::USER
    )
    .is_err());
    assert_eq!(bits(&read_htk(&htk_path).unwrap()), bits(&sample()));
    assert_eq!(listing(dir.path()), ["f.htk", "f.npy"]);
}

// ---------------------------------------------------------------- errors are good citizens

#[test]
fn feature_error_is_send_sync_and_static() {
    fn assert_traits<T: Send + Sync + 'static + std::error::Error>() {}
    assert_traits::<FeatureError>();
}

// ---------------------------------------------------------------- NumPy cross-check

/// Runs `script` with the Python that has NumPy, `dir` as its argument, and
/// checks that it printed `ok`; `false`, with a notice, when there is no
/// such Python (the caller skips its check).
fn run_numpy(script: &str, dir: &Path) -> bool {
    let Some(python) = python_with_numpy() else {
        eprintln!(
            "skipped: no python3 with numpy (set SHARDKIT_TEST_PYTHON to one to run this check)"
        );
        return false;
    };
    let out = Command::new(&python)
        .args(["-c", script])
        .arg(dir)
        .output()
        .expect("run python");
    assert!(
        out.status.success() && String::from_utf8_lossy(&out.stdout).contains("ok"),
        "numpy side failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    true
}

#[test]
fn numpy_cross_check_when_available() {
    let dir = tmp();
    let script = r#"
import sys, numpy as np
d = sys.argv[1]
a = np.arange(12, dtype=np.float64).reshape(3, 4) / 7.0 - 0.5
np.save(d + "/c4.npy", a.astype("<f4"))
np.save(d + "/c8.npy", a.astype("<f8"))
np.save(d + "/f4.npy", np.asfortranarray(a.astype("<f4")))
np.save(d + "/f8.npy", np.asfortranarray(a.astype(">f8")))
np.save(d + "/i4.npy", a.astype("<i4"))
np.save(d + "/one.npy", a[0].astype("<f4"))
b = np.load(d + "/ours.npy")
assert b.dtype == np.float32 and b.shape == (3, 4), (b.dtype, b.shape)
assert np.array_equal(b, a.astype(np.float32)), b
print("ok")
"#;
    let expected: Array2<f32> =
        Array2::from_shape_fn((3, 4), |(i, j)| ((i * 4 + j) as f64 / 7.0 - 0.5) as f32);
    write_npy(dir.path().join("ours.npy"), &expected).unwrap();
    if !run_numpy(script, dir.path()) {
        return;
    }
    for name in ["c4.npy", "c8.npy", "f4.npy", "f8.npy"] {
        let got = read_npy(dir.path().join(name)).unwrap();
        assert_eq!(bits(&got), bits(&expected), "{name}");
    }
    let i4 = dir.path().join("i4.npy");
    assert!(
        matches!(read_npy(&i4), Err(FeatureError::NpyDtype { ref descr, .. }) if descr == "<i4")
    );
    let one = dir.path().join("one.npy");
    assert!(
        matches!(read_npy(&one), Err(FeatureError::WrongNdim { ref shape, .. }) if shape == &[4])
    );
}

#[test]
fn numpy_cross_check_orders_versions_and_oversized_headers() {
    let dir = tmp();
    let script = r#"
import sys, numpy as np
from numpy.lib import format as fmt
d = sys.argv[1]
a = np.arange(15, dtype=np.float64).reshape(5, 3) / 7.0 - 0.5
for descr in ["<f4", ">f4", "<f8", ">f8"]:
    for order in "CF":
        b = np.asarray(a.astype(descr), order=order)
        assert b.flags.f_contiguous == (order == "F") and not (order == "F" and b.flags.c_contiguous)
        np.save("%s/%s%s.npy" % (d, descr.replace("<", "le").replace(">", "be").replace("f", ""), order), b)
for major in (1, 2, 3):
    with open("%s/v%d.npy" % (d, major), "wb") as f:
        fmt.write_array(f, a.astype("<f4"), version=(major, 0))
# NumPy's own header writer, claiming 10^11 values, then 100 bytes.
with open(d + "/huge.npy", "wb") as f:
    fmt.write_array_header_1_0(f, {"descr": "<f4", "fortran_order": False, "shape": (100000, 1000000)})
    f.write(b"\0" * 100)
try:
    np.load(d + "/huge.npy")
    sys.stderr.write("numpy loaded huge.npy\n")
except Exception as e:
    sys.stderr.write("numpy refuses huge.npy: %s\n" % type(e).__name__)
print("ok")
"#;
    if !run_numpy(script, dir.path()) {
        return;
    }
    let expected: Array2<f32> =
        Array2::from_shape_fn((5, 3), |(i, j)| ((i * 3 + j) as f64 / 7.0 - 0.5) as f32);
    for descr in ["le4", "be4", "le8", "be8"] {
        for order in ["C", "F"] {
            let name = format!("{descr}{order}.npy");
            let got = read_npy(dir.path().join(&name)).unwrap();
            assert_eq!(bits(&got), bits(&expected), "{name}");
        }
    }
    for major in 1..=3 {
        let name = format!("v{major}.npy");
        let bytes = fs::read(dir.path().join(&name)).unwrap();
        assert_eq!(bytes[6], major, "{name} is format {major}.0");
        assert_eq!(
            bits(&read_npy(dir.path().join(&name)).unwrap()),
            bits(&expected)
        );
    }
    let huge = dir.path().join("huge.npy");
    assert_eq!(
        message(&read_npy(&huge).unwrap_err(), &huge),
        "FILE: truncated: header says 100000 frames × 1000000 columns \
         (400000000000 bytes of f32) but only 100 bytes follow"
    );
}

// ---------------------------------------------------------------- no panics on any bytes

/// A valid small `.npy` file (f32 or f64, C or F order) to mutate.
fn valid_npy(f64_data: bool, fortran: bool, frames: usize, columns: usize) -> Vec<u8> {
    let n = frames * columns;
    let (descr, data) = if f64_data {
        ("<f8", f64_le(&vec![1.5; n]))
    } else {
        ("<f4", f32_le(&vec![1.5; n]))
    };
    npy(
        1,
        &npy_dict(descr, fortran, &format!("({frames}, {columns})")),
        &data,
    )
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        let dir = tmp();
        for name in ["x.npy", "x.htk", "x.lst"] {
            let path = file(&dir, name, &bytes);
            let _ = read_features(&path);
            let _ = read_npy(&path);
            let _ = read_htk(&path);
            let _ = read_list(&path);
        }
    }

    #[test]
    fn arbitrary_npy_headers_never_panic(
        major in 0u8..5,
        header in "[{}()\\[\\]',:0-9 a-zA-Z<>|\"\\\\-]{0,120}",
        data in proptest::collection::vec(any::<u8>(), 0..64),
    ) {
        let dir = tmp();
        let path = file(&dir, "h.npy", &npy(major.max(1), &header, &data));
        let _ = read_npy(&path);
        let mut raw = b"\x93NUMPY".to_vec();
        raw.push(major);
        raw.extend_from_slice(header.as_bytes());
        let path = file(&dir, "r.npy", &raw);
        let _ = read_npy(&path);
    }

    #[test]
    fn mutated_npy_files_never_panic(
        f64_data: bool,
        fortran: bool,
        frames in 0usize..6,
        columns in 0usize..6,
        flips in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 0..4),
        cut in any::<prop::sample::Index>(),
        truncate: bool,
    ) {
        let dir = tmp();
        let mut bytes = valid_npy(f64_data, fortran, frames, columns);
        for (at, value) in flips {
            let i = at.index(bytes.len());
            bytes[i] = value;
        }
        if truncate {
            bytes.truncate(cut.index(bytes.len() + 1));
        }
        let path = file(&dir, "m.npy", &bytes);
        let _ = read_npy(&path);
        let _ = read_features_with(&path, &ReadOptions::new().expect_dim(3));
    }

    #[test]
    fn arbitrary_htk_headers_never_panic(
        n in any::<i32>(),
        period in any::<i32>(),
        size in any::<i16>(),
        kind in any::<u16>(),
        data in proptest::collection::vec(any::<u8>(), 0..256),
    ) {
        let dir = tmp();
        let path = file(&dir, "h.htk", &htk(n, period, size, kind, &data));
        if let Ok((header, features)) = read_htk_with_header(&path) {
            prop_assert_eq!(features.dim(), (header.frames, header.columns()));
            prop_assert_eq!(header.frames as i64, i64::from(n));
        }
    }

    #[test]
    fn small_valid_htk_headers_are_read_or_refused_cleanly(
        n in 0i32..8,
        columns in 0i16..8,
        kind in any::<u16>(),
        extra in 0usize..6,
    ) {
        let dir = tmp();
        let len = (n as usize) * (columns as usize) * 4 + extra;
        let path = file(&dir, "s.htk", &htk(n, 100_000, columns * 4, kind, &vec![0x3f; len]));
        let _ = read_htk(&path);
    }

    #[test]
    fn npy_round_trips_any_values(
        frames in 0usize..8,
        columns in 0usize..8,
        seed in proptest::collection::vec(any::<u32>(), 64),
    ) {
        let dir = tmp();
        let data = Array2::from_shape_fn((frames, columns), |(i, j)| f32::from_bits(seed[i * 8 + j]));
        let path = dir.path().join("p.npy");
        write_npy(&path, &data).unwrap();
        prop_assert_eq!(bits(&read_npy(&path).unwrap()), bits(&data));
    }

    #[test]
    fn htk_round_trips_any_values(
        frames in 0usize..8,
        columns in 1usize..8,
        seed in proptest::collection::vec(any::<u32>(), 64),
        period in 0u32..=i32::MAX as u32,
    ) {
        let dir = tmp();
        let data = Array2::from_shape_fn((frames, columns), |(i, j)| f32::from_bits(seed[i * 8 + j]));
        let path = dir.path().join("p.htk");
        write_htk(&path, &data, period, htk_kind::USER | htk_kind::E).unwrap();
        let (header, back) = read_htk_with_header(&path).unwrap();
        prop_assert_eq!(header.samp_period, period);
        prop_assert_eq!(bits(&back), bits(&data));
    }
}
