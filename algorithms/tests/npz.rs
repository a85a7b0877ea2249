//! `.npz` archives: round trips, NumPy interoperability (both ways, when
//! python3 with numpy is available) and every error message.

use std::path::Path;
use std::process::Command;

use ndarray::{array, Array1, Array2, Array3, ArrayD, Ix1, Ix2, Ix3, IxDyn, ShapeBuilder};
use shardkit_algorithms::npz::{NpzError, NpzReader, NpzWriter};

/// Runs `code` with python3 and numpy, or returns `None` (printing a skip
/// notice) when they are not available.
fn python(code: &str) -> Option<String> {
    let probe = Command::new("python3")
        .args(["-c", "import numpy"])
        .output();
    if !probe.is_ok_and(|o| o.status.success()) {
        eprintln!("skipped: python3 with numpy is not available");
        return None;
    }
    let out = Command::new("python3")
        .args(["-c", code])
        .output()
        .expect("python3 runs");
    assert!(
        out.status.success(),
        "python failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    Some(String::from_utf8_lossy(&out.stdout).into_owned())
}

fn py_path(p: &Path) -> String {
    format!("{:?}", p.to_str().expect("utf-8 temp path"))
}

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
        p = py_path(&path)
    );
    if let Some(out) = python(&code) {
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
        plain = py_path(&plain),
        packed = py_path(&packed)
    );
    if python(&code).is_none() {
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
        let Some(out) = python(&format!(
            "import numpy as np; z = np.load({}); \
             print(sorted(z.files), z['weights'].dtype, z['means'].shape, z['variances'][1, 1])",
            py_path(&path)
        )) else {
            return;
        };
        assert_eq!(
            out.trim(),
            "['means', 'variances', 'weights'] float64 (3, 2) 0.0001"
        );
    }

    #[test]
    fn loads_a_float32_model_from_numpy() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("np.npz");
        if python(&format!(
            "import numpy as np; np.savez_compressed({}, weights=np.float32([0.5, 0.5]), \
             means=np.float32([[1, 2], [3, 4]]), variances=np.ones((2, 2), np.float32), extra=np.zeros(3))",
            py_path(&path)
        ))
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
