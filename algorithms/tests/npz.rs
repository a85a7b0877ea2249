//! `.npz` archives: round trips, NumPy interoperability (both ways, when
//! python3 with numpy is available) and every error message.

use std::path::Path;

use ndarray::{array, Array1, Array2, Array3, ArrayD, Ix1, Ix2, Ix3, IxDyn, ShapeBuilder};
use shardkit_algorithms::npz::{NpzError, NpzReader, NpzWriter};
use shardkit_testkit::{py_str, run_python};
use zip::CompressionMethod;

#[test]
fn round_trip_keeps_bits_dtypes_and_shapes() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("m.npz");
    let w = array![0.1f64, 1e-300, -0.0, f64::MAX];
    let m = Array2::from_shape_fn((3, 4), |(i, j)| (i as f32 * 0.3 - j as f32).exp());
    let cube = Array3::from_shape_fn((2, 3, 4), |(a, b, c)| (a * 100 + b * 10 + c) as f64);
    // A transposed (Fortran-order) view is written in logical order.
    let fortran = Array2::from_shape_vec((2, 3).f(), vec![1.0f32, 2., 3., 4., 5., 6.]).unwrap();
    let mut npz = NpzWriter::new(&path);
    npz.add("weights", &w).unwrap();
    npz.add("means", &m).unwrap();
    npz.add("cube", &cube).unwrap();
    npz.add("fortran", &fortran).unwrap();
    npz.add("empty", &Array2::<f64>::zeros((0, 5))).unwrap();
    assert_eq!(
        npz.names(),
        ["weights", "means", "cube", "fortran", "empty"]
    );
    npz.finish().unwrap();

    let mut r = NpzReader::open(&path).unwrap();
    assert_eq!(r.names(), ["weights", "means", "cube", "fortran", "empty"]);
    assert!(r.contains("cube") && !r.contains("cube.npy"));
    let w2: Array1<f64> = r.read("weights").unwrap();
    assert_eq!(
        w2.mapv(f64::to_bits),
        w.mapv(f64::to_bits),
        "f64 bits survive"
    );
    let m2: Array2<f32> = r.read("means").unwrap();
    assert_eq!(m2, m);
    let m64: Array2<f64> = r.read("means").unwrap();
    assert_eq!(m64, m.mapv(f64::from), "f32 widens exactly");
    let c2: Array3<f64> = r.read_shaped("cube", &[Some(2), Some(3), None]).unwrap();
    assert_eq!(c2, cube);
    let f2: Array2<f32> = r.read("fortran").unwrap();
    assert_eq!(f2, fortran);
    let any: ArrayD<f64> = r.read("cube").unwrap();
    assert_eq!(any.shape(), [2, 3, 4]);
    let e: Array2<f64> = r.read_shaped("empty", &[Some(0), Some(5)]).unwrap();
    assert_eq!(e.dim(), (0, 5));
}

#[test]
fn f64_read_as_f32_rounds_to_nearest() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("r.npz");
    let mut npz = NpzWriter::new(&path);
    npz.add("x", &array![0.1f64, 1e300]).unwrap();
    npz.finish().unwrap();
    let x: Array1<f32> = NpzReader::open(&path).unwrap().read("x").unwrap();
    assert_eq!(x[0], 0.1f32);
    assert_eq!(x[1], f32::INFINITY);
}

#[test]
fn numpy_reads_what_we_write() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ours.npz");
    let mut npz = NpzWriter::new(&path);
    npz.add("centroids", &array![[1.5f64, -2.0], [0.1, 3.0]])
        .unwrap();
    npz.add("f", &array![[1.0f32, 2.0, 3.0]].reversed_axes())
        .unwrap();
    npz.finish().unwrap();
    let code = format!(
        r#"
import numpy as np
z = np.load({p})
assert sorted(z.files) == ['centroids', 'f'], z.files
c = z['centroids']
assert c.dtype == np.float64 and c.shape == (2, 2)
assert (c == np.array([[1.5, -2.0], [0.1, 3.0]])).all()
f = z['f']
assert f.dtype == np.float32 and f.shape == (3, 1) and (f[:, 0] == [1, 2, 3]).all()
print("ok")
"#,
        p = py_str(&path)
    );
    if let Some(out) = run_python(&code, &[]) {
        assert_eq!(out.trim(), "ok");
    }
}

#[test]
fn we_read_what_numpy_writes() {
    let dir = tempfile::tempdir().unwrap();
    let plain = dir.path().join("plain.npz");
    let packed = dir.path().join("packed.npz");
    let code = format!(
        r#"
import numpy as np
a = np.arange(12, dtype=np.float64).reshape(3, 4) / 7
b = np.asfortranarray(np.arange(6, dtype=np.float32).reshape(2, 3))
big = np.arange(5, dtype='>f8')
ints = np.arange(4, dtype=np.int64)
np.savez({plain}, a=a, b=b, big=big, ints=ints)
np.savez_compressed({packed}, a=a, b=b)
"#,
        plain = py_str(&plain),
        packed = py_str(&packed)
    );
    if run_python(&code, &[]).is_none() {
        return;
    }
    let expect_a = Array2::from_shape_fn((3, 4), |(i, j)| (i * 4 + j) as f64 / 7.0);
    let expect_b = Array2::from_shape_fn((2, 3), |(i, j)| (i * 3 + j) as f32);
    for path in [&plain, &packed] {
        let mut r = NpzReader::open(path).unwrap();
        let a: Array2<f64> = r.read("a").unwrap();
        assert_eq!(a, expect_a, "{}", path.display());
        let b: Array2<f32> = r.read("b").unwrap();
        assert_eq!(b, expect_b);
    }
    let mut r = NpzReader::open(&plain).unwrap();
    let big: Array1<f64> = r.read("big").unwrap();
    assert_eq!(big, array![0.0, 1.0, 2.0, 3.0, 4.0]);
    let err = r.read::<f64, Ix1>("ints").unwrap_err();
    assert!(matches!(err, NpzError::Dtype { .. }));
    assert!(
        err.to_string().ends_with(
            "plain.npz: array 'ints' has dtype '<i8'; only float32 ('<f4') and float64 ('<f8') arrays are read"
        ),
        "{err}"
    );
}

#[test]
fn missing_and_ill_shaped_arrays_are_named() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ubm.npz");
    let mut npz = NpzWriter::new(&path);
    npz.add("means", &Array2::<f64>::zeros((4, 3))).unwrap();
    npz.add("weights", &Array1::<f64>::zeros(4)).unwrap();
    npz.finish().unwrap();
    let mut r = NpzReader::open(&path).unwrap();

    let err = r.read::<f64, Ix2>("variances").unwrap_err();
    assert!(matches!(&err, NpzError::Missing { name, .. } if name == "variances"));
    assert!(err
        .to_string()
        .ends_with("ubm.npz: no array named 'variances' (the archive holds 'means', 'weights')"));
    assert_eq!(err.path(), path);

    let err = r
        .read_shaped::<f64, Ix2>("means", &[Some(4), Some(60)])
        .unwrap_err();
    assert!(
        err.to_string()
            .ends_with("ubm.npz: array 'means' has shape (4, 3) but (4, 60) is expected"),
        "{err}"
    );
    let err = r.read::<f64, Ix2>("weights").unwrap_err();
    assert!(
        err.to_string().ends_with(
            "ubm.npz: array 'weights' has shape (4,) but (_, _) (`_`: any length) is expected"
        ),
        "{err}"
    );
    let err = r
        .read_shaped::<f64, Ix3>("means", &[None, None])
        .unwrap_err();
    assert!(matches!(err, NpzError::Shape { .. }), "{err}");
    let ok: ArrayD<f64> = r.read_shaped::<f64, IxDyn>("weights", &[Some(4)]).unwrap();
    assert_eq!(ok.len(), 4);
}

#[test]
fn empty_archive_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("empty.npz");
    NpzWriter::new(&path).finish().unwrap();
    let mut r = NpzReader::open(&path).unwrap();
    assert!(r.names().is_empty());
    let err = r.read::<f32, Ix1>("x").unwrap_err();
    assert!(
        err.to_string()
            .ends_with("no array named 'x' (the archive is empty)"),
        "{err}"
    );
}

#[test]
fn files_that_are_not_archives() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nope.npz");
    let err = NpzReader::open(&missing).unwrap_err();
    assert!(matches!(err, NpzError::Io { op: "read", .. }));
    assert!(err
        .to_string()
        .starts_with(&format!("{}: cannot read: ", missing.display())));

    let text = dir.path().join("text.npz");
    std::fs::write(&text, b"hello, this is not a zip file at all").unwrap();
    let err = NpzReader::open(&text).unwrap_err();
    assert!(matches!(err, NpzError::NotAnArchive { .. }), "{err}");
    assert!(err
        .to_string()
        .starts_with(&format!("{}: not a valid .npz archive: ", text.display())));

    // A zip whose member is not an npy file.
    let fake = dir.path().join("fake.npz");
    {
        use std::io::Write;
        let mut z = zip::ZipWriter::new(std::fs::File::create(&fake).unwrap());
        z.start_file(
            "x.npy",
            zip::write::SimpleFileOptions::default()
                .compression_method(zip::CompressionMethod::Stored),
        )
        .unwrap();
        z.write_all(b"\x93NUMPY garbage").unwrap();
        z.finish().unwrap();
    }
    let mut r = NpzReader::open(&fake).unwrap();
    let err = r.read::<f64, Ix1>("x").unwrap_err();
    assert!(matches!(err, NpzError::BadArray { .. }), "{err}");
    assert!(
        err.to_string()
            .starts_with(&format!("{}: array 'x' cannot be read: ", fake.display())),
        "{err}"
    );
}

/// Writes a zip archive of `(name, bytes, method)` members to `path`.
fn zip_archive(path: &Path, members: &[(&str, &[u8], CompressionMethod)]) {
    use std::io::Write;
    let mut z = zip::ZipWriter::new(std::fs::File::create(path).unwrap());
    for &(name, bytes, method) in members {
        z.start_file(
            name,
            zip::write::SimpleFileOptions::default().compression_method(method),
        )
        .unwrap();
        z.write_all(bytes).unwrap();
    }
    z.finish().unwrap();
}

/// A `.npy` file (format 1.0) of `descr` and `shape`, then `data`.
fn npy_bytes(descr: &str, shape: &str, data: &[u8]) -> Vec<u8> {
    let header = format!("{{'descr': '{descr}', 'fortran_order': False, 'shape': {shape}, }}\n");
    let mut out = b"\x93NUMPY\x01\x00".to_vec();
    out.extend_from_slice(&u16::try_from(header.len()).unwrap().to_le_bytes());
    out.extend_from_slice(header.as_bytes());
    out.extend_from_slice(data);
    out
}

#[test]
fn oversized_member_headers_are_refused_before_allocating() {
    let dir = tempfile::tempdir().unwrap();
    // Headers claiming 10^11 float64 values (800 GB), stored and deflated.
    let small = npy_bytes("<f8", "(100000, 1000000)", &[0; 16]);
    let long = npy_bytes("<f8", "(100000, 1000000)", &[0; 4096]);
    let path = dir.path().join("huge.npz");
    zip_archive(
        &path,
        &[
            ("stored.npy", &small, CompressionMethod::Stored),
            ("deflated.npy", &long, CompressionMethod::Deflated),
        ],
    );
    let mut r = NpzReader::open(&path).unwrap();
    for (name, found) in [("stored", 16), ("deflated", 4096)] {
        let err = r.read::<f64, Ix2>(name).unwrap_err();
        assert!(
            matches!(&err, NpzError::BadArray { name: n, .. } if n == name),
            "{err}"
        );
        assert_eq!(
            err.to_string(),
            format!(
                "{}: array '{name}' cannot be read: truncated: its header says shape \
                 (100000, 1000000) (800000000000 bytes of f64) but only {found} bytes follow",
                path.display()
            )
        );
    }
    // The other way round, and as float32 into f32.
    let trailing = npy_bytes("<f4", "(2, 2)", &[0; 20]);
    zip_archive(&path, &[("t.npy", &trailing, CompressionMethod::Deflated)]);
    let err = read_2d_error(&path, "t");
    assert!(
        err.ends_with(
            "array 't' cannot be read: 4 unexpected bytes at the end: its header says \
             shape (2, 2) (16 bytes of f32) but 20 bytes follow"
        ),
        "{err}"
    );
}

/// The message of reading `name` from the archive at `path` as a 2-D f32
/// array, which must fail.
fn read_2d_error(path: &Path, name: &str) -> String {
    let mut npz = NpzReader::open(path).unwrap();
    npz.read::<f32, Ix2>(name).unwrap_err().to_string()
}

/// The offsets of every `signature` in `bytes`.
fn find_all(bytes: &[u8], signature: &[u8]) -> Vec<usize> {
    bytes
        .windows(signature.len())
        .enumerate()
        .filter(|(_, w)| *w == signature)
        .map(|(i, _)| i)
        .collect()
}

#[test]
fn a_directory_that_overstates_a_member_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("lying.npz");
    // A header claiming 536870000 float64 values (4.3 GB) over 200 zero
    // bytes, and an archive directory that agrees with it: only the
    // directory's size against the compressed size tells.
    let n = 536_870_000u32;
    let member = npy_bytes("<f8", &format!("({n},)"), &[0; 200]);
    let claimed = (member.len() - 200) as u32 + 8 * n;
    zip_archive(&path, &[("x.npy", &member, CompressionMethod::Deflated)]);
    let mut bytes = std::fs::read(&path).unwrap();
    // Uncompressed size: at 22 in the local header, at 24 in the directory.
    for (signature, at) in [(&b"PK\x03\x04"[..], 22), (&b"PK\x01\x02"[..], 24)] {
        for offset in find_all(&bytes, signature) {
            bytes[offset + at..offset + at + 4].copy_from_slice(&claimed.to_le_bytes());
        }
    }
    std::fs::write(&path, &bytes).unwrap();
    let err = NpzReader::open(&path)
        .unwrap()
        .read::<f64, Ix1>("x")
        .unwrap_err();
    let msg = err.to_string();
    assert!(matches!(err, NpzError::BadArray { .. }), "{msg}");
    assert!(
        msg.starts_with(&format!(
            "{}: array 'x' cannot be read: the archive's directory gives it {claimed} bytes, \
             more than its ",
            path.display()
        )) && msg.ends_with(" compressed bytes can hold"),
        "{msg}"
    );
}

#[test]
fn numpy_archives_of_every_byte_order_and_memory_order() {
    let dir = tempfile::tempdir().unwrap();
    let plain = dir.path().join("orders.npz");
    let packed = dir.path().join("orders_packed.npz");
    let huge = dir.path().join("huge.npz");
    let code = format!(
        r#"
import zipfile, numpy as np
from numpy.lib import format as fmt
a = np.arange(24, dtype=np.float64).reshape(2, 3, 4) / 7 - 1
arrays = {{}}
for descr in ["<f4", ">f4", "<f8", ">f8"]:
    for order in "CF":
        b = np.asarray(a.astype(descr), order=order)
        assert b.flags.f_contiguous == (order == "F") and b.flags.c_contiguous == (order == "C")
        arrays[descr.replace("<", "le").replace(">", "be").replace("f", "") + order] = b
np.savez({plain}, **arrays)
np.savez_compressed({packed}, **arrays)
# A member whose header (NumPy's own writer) claims 10^11 values.
with zipfile.ZipFile({huge}, "w", compression=zipfile.ZIP_DEFLATED) as z:
    with z.open("x.npy", "w") as f:
        fmt.write_array_header_1_0(f, {{"descr": "<f4", "fortran_order": False, "shape": (100000, 1000000)}})
        f.write(b"\0" * 100)
"#,
        plain = py_str(&plain),
        packed = py_str(&packed),
        huge = py_str(&huge),
    );
    if run_python(&code, &[]).is_none() {
        return;
    }
    let expected = Array3::from_shape_fn((2, 3, 4), |(i, j, k)| {
        ((i * 12 + j * 4 + k) as f64 / 7.0 - 1.0) as f32
    });
    for path in [&plain, &packed] {
        let mut r = NpzReader::open(path).unwrap();
        for descr in ["le4", "be4", "le8", "be8"] {
            for order in ["C", "F"] {
                let name = format!("{descr}{order}");
                let got: Array3<f32> = r.read(&name).unwrap();
                assert_eq!(got, expected, "{} {name}", path.display());
                let wide: Array3<f64> = r.read(&name).unwrap();
                assert_eq!(wide.mapv(|v| v as f32), expected, "{name} as f64");
            }
        }
    }
    let err = read_2d_error(&huge, "x");
    assert!(
        err.ends_with(
            "array 'x' cannot be read: truncated: its header says shape (100000, 1000000) \
             (400000000000 bytes of f32) but only 100 bytes follow"
        ),
        "{err}"
    );
}

#[test]
fn bad_names_are_refused_before_writing() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("n.npz");
    let mut npz = NpzWriter::new(&path);
    let a = array![1.0f32];
    for (name, why) in [
        ("", "the name is empty"),
        ("a/b", "names cannot contain '/' or '\\'"),
        (
            "x.npy",
            "NumPy strips a '.npy' ending when reading; leave it out",
        ),
    ] {
        let err = npz.add(name, &a).unwrap_err();
        assert_eq!(
            err.to_string(),
            format!(
                "{}: cannot add an array named {name:?}: {why}",
                path.display()
            )
        );
    }
    npz.add("a", &a).unwrap();
    let err = npz.add("a", &a).unwrap_err();
    assert!(err
        .to_string()
        .ends_with("an array of that name was already added"));
    assert!(!path.exists(), "nothing is written before finish");
}

#[test]
fn failed_write_names_the_file_and_keeps_the_old_one() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("no_such_dir").join("m.npz");
    let err = NpzWriter::new(&path).finish().unwrap_err();
    assert!(matches!(err, NpzError::Io { op: "write", .. }));
    let msg = err.to_string();
    assert!(
        msg.starts_with(&format!("{}: cannot write: ", path.display())),
        "{msg}"
    );
    assert_eq!(msg.matches("m.npz").count(), 1, "the path once: {msg}");

    let kept = dir.path().join("kept.npz");
    let mut npz = NpzWriter::new(&kept);
    npz.add("x", &array![1.0f64]).unwrap();
    npz.finish().unwrap();
    let before = std::fs::read(&kept).unwrap();
    // Replacing it works and is complete.
    let mut npz = NpzWriter::new(&kept);
    npz.add("x", &array![2.0f64]).unwrap();
    npz.finish().unwrap();
    assert_ne!(std::fs::read(&kept).unwrap(), before);
    let x: Array1<f64> = NpzReader::open(&kept).unwrap().read("x").unwrap();
    assert_eq!(x, array![2.0]);
}

mod gmm_files {
    use super::*;
    use shardkit_algorithms::gmm::{DiagGmm, GmmError, GmmFileError};

    fn model() -> DiagGmm {
        DiagGmm::new(
            array![0.1, 0.2, 0.7],
            array![[0.0, 1.0], [-2.5, 3.25], [1e-3, 7.0]],
            array![[1.0, 0.5], [2.0, 1e-4], [3.0, 4.0]],
        )
        .unwrap()
    }

    #[test]
    fn round_trip_keeps_every_bit_and_numpy_reads_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ubm.npz");
        let gmm = model();
        gmm.save(&path).unwrap();
        assert_eq!(DiagGmm::load(&path).unwrap(), gmm);
        let Some(out) = run_python(
            &format!(
                "import numpy as np; z = np.load({}); \
             print(sorted(z.files), z['weights'].dtype, z['means'].shape, z['variances'][1, 1])",
                py_str(&path)
            ),
            &[],
        ) else {
            return;
        };
        assert_eq!(
            out.trim(),
            "['means', 'provenance', 'variances', 'weights'] float64 (3, 2) 0.0001"
        );
    }

    #[test]
    fn loads_a_float32_model_from_numpy() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("np.npz");
        if run_python(&format!(
            "import numpy as np; np.savez_compressed({}, weights=np.float32([0.5, 0.5]), \
             means=np.float32([[1, 2], [3, 4]]), variances=np.ones((2, 2), np.float32), extra=np.zeros(3))",
            py_str(&path)
        ), &[])
        .is_none()
        {
            return;
        }
        let gmm = DiagGmm::load(&path).unwrap();
        assert_eq!(gmm.means(), array![[1.0, 2.0], [3.0, 4.0]]);
        assert_eq!(gmm.weights(), array![0.5, 0.5]);
    }

    #[test]
    fn errors_name_the_file_and_the_array() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("bad.npz");
        let write = |w: Array1<f64>, m: Array2<f64>, v: Array2<f64>| {
            let mut npz = NpzWriter::new(&path);
            npz.add("weights", &w).unwrap();
            npz.add("means", &m).unwrap();
            npz.add("variances", &v).unwrap();
            npz.finish().unwrap();
        };

        // Variances of another shape than the means.
        write(
            array![0.5, 0.5],
            Array2::zeros((2, 3)),
            Array2::ones((2, 2)),
        );
        let err = DiagGmm::load(&path).unwrap_err();
        assert!(matches!(err, GmmFileError::Npz(NpzError::Shape { .. })));
        let msg = err.to_string();
        assert!(
            msg.contains("bad.npz") && msg.contains("'variances'"),
            "{msg}"
        );

        // Means with another number of rows than the weights.
        write(array![1.0], Array2::zeros((2, 3)), Array2::ones((2, 3)));
        let msg = DiagGmm::load(&path).unwrap_err().to_string();
        assert!(msg.contains("bad.npz") && msg.contains("'means'"), "{msg}");

        // Parts of the right shapes that are not a mixture.
        write(
            array![0.5, 0.5],
            Array2::zeros((2, 1)),
            array![[1.0], [0.0]],
        );
        let err = DiagGmm::load(&path).unwrap_err();
        assert!(matches!(
            err,
            GmmFileError::Invalid {
                source: GmmError::BadVariance { component: 1, .. },
                ..
            }
        ));
        let msg = err.to_string();
        assert!(
            msg.starts_with(&format!(
                "{}: not a valid GMM: variance (1, 0)",
                path.display()
            )),
            "{msg}"
        );

        // No such file.
        let missing = dir.path().join("missing.npz");
        let msg = DiagGmm::load(&missing).unwrap_err().to_string();
        assert!(msg.starts_with(&missing.display().to_string()), "{msg}");
    }

    #[test]
    fn a_failed_save_names_the_file_and_leaves_no_temporary() {
        let dir = tempfile::tempdir().unwrap();
        // The target is a folder in the way: the final rename fails.
        let path = dir.path().join("ubm.npz");
        std::fs::create_dir(&path).unwrap();
        std::fs::write(path.join("keep"), b"x").unwrap();
        let err = model().save(&path).unwrap_err();
        assert!(
            err.to_string().starts_with(&path.display().to_string()),
            "{err}"
        );
        let names: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, ["ubm.npz"], "no temporary file is left behind");
        assert_eq!(std::fs::read(path.join("keep")).unwrap(), b"x");
    }
}
