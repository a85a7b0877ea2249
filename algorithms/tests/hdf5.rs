//! The `hdf5` feature: SIDEKIT's HDF5 protocol files (IdMap, Ndx, Key,
//! Scores) and feature files. Round trips, the layouts as SIDEKIT writes
//! them (written here with the hdf5 crate), errors naming the file and the
//! dataset, and, when python3 has h5py, both directions against h5py.
//!
//! `cargo test -p shardkit-algorithms --features hdf5 --test hdf5`
#![cfg(feature = "hdf5")]

use std::path::Path;

use hdf5::types::{FixedAscii, FloatSize, IntSize, TypeDescriptor};
use hdf5::{File, Group, SimpleExtents};
use ndarray::{arr0, array, Array1, Array2, ArrayView, Dimension};
use shardkit_algorithms::features::{
    read_npy, read_sidekit_h5, sidekit_h5_shows, write_npy, write_sidekit_h5, FeatureError,
    SidekitRead, SidekitShow, SidekitStream,
};
use shardkit_algorithms::protocol::{
    DatasetElement, FrameSpan, IdMap, IdMapEntry, Key, Location, Ndx, ProtocolError, Scores,
    TrialKind,
};
use shardkit_testkit::{py_str, run_python};

// ---------------------------------------------------------------------------
// Helpers: SIDEKIT's layout written with the hdf5 crate, as h5py's
// `create_dataset(name, data=..., maxshape=(None, ...), compression="gzip",
// fletcher32=True)` writes it.

/// The tests take turns. HDF5 opens its files without close-on-exec, so a
/// Python child started by one test (the h5py cross-checks) inherits the
/// files that another test has open, with their locks; that test's next
/// open of the same file then fails ("unable to lock file", errno 11) until
/// the child exits.
static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn sidekit_array<T: hdf5::H5Type, D: Dimension>(
    group: &Group,
    name: &str,
    data: ArrayView<'_, T, D>,
) {
    group
        .new_dataset_builder()
        .empty_as(T::type_descriptor())
        .shape(SimpleExtents::resizable(data.shape()))
        .chunk(data.shape().to_vec())
        .deflate(4)
        .fletcher32()
        .create(name)
        .unwrap()
        .write(data)
        .unwrap();
}

/// numpy's `astype('S')`: fixed-length ASCII, as wide as the longest.
fn sidekit_strings(group: &Group, name: &str, ids: &[&str]) {
    let width = ids.iter().map(|s| s.len()).max().unwrap_or(1);
    let data: Vec<FixedAscii<64>> = ids
        .iter()
        .map(|s| FixedAscii::from_ascii(s).unwrap())
        .collect();
    group
        .new_dataset_builder()
        .empty_as(TypeDescriptor::FixedAscii(width))
        .shape(SimpleExtents::resizable([ids.len()]))
        .chunk(vec![ids.len()])
        .deflate(4)
        .fletcher32()
        .create(name)
        .unwrap()
        .write_raw(&data)
        .unwrap();
}

fn descriptor(file: &File, name: &str) -> TypeDescriptor {
    file.dataset(name)
        .unwrap()
        .dtype()
        .unwrap()
        .to_descriptor()
        .unwrap()
}

fn sample_key() -> Key {
    Key::from_trials([
        ("spk2", "seg1", TrialKind::NonTarget),
        ("spk1", "seg1", TrialKind::Target),
        ("spk1", "seg3", TrialKind::NonTarget),
        ("spk2", "seg2", TrialKind::Target),
        ("spk3-long-model-name", "seg3", TrialKind::Target),
    ])
    .unwrap()
}

fn sample_scores() -> Scores {
    Scores::from_triples([
        ("spk1", "seg1", 1.25),
        ("spk1", "seg3", -0.1),
        ("spk2", "seg1", 1e-300),
        ("spk2", "seg2", 651847949857580.2),
        ("spk3-long-model-name", "seg3", -0.0),
    ])
    .unwrap()
}

fn sample_idmap() -> IdMap {
    IdMap::new(vec![
        IdMapEntry {
            left: "spk1".into(),
            right: "data/seg1".into(),
            span: None,
        },
        IdMapEntry {
            left: "spk1".into(),
            right: "seg2".into(),
            span: Some(FrameSpan { start: 0, stop: 99 }),
        },
        IdMapEntry {
            left: "spk2".into(),
            right: "seg1".into(),
            span: Some(FrameSpan {
                start: 5,
                stop: i32::MAX as u64,
            }),
        },
    ])
    .unwrap()
}

// ---------------------------------------------------------------------------
// Round trips and the layout written.

#[test]
fn idmap_round_trip_and_layout() {
    let _serial = serial();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("idmap.h5");
    let idmap = sample_idmap();
    idmap.write_hdf5(&path).unwrap();
    assert_eq!(IdMap::read_hdf5(&path).unwrap(), idmap);

    let file = File::open(&path).unwrap();
    let mut names = file.member_names().unwrap();
    names.sort();
    assert_eq!(names, ["leftids", "rightids", "start", "stop"]);
    assert_eq!(descriptor(&file, "leftids"), TypeDescriptor::FixedAscii(4));
    assert_eq!(descriptor(&file, "rightids"), TypeDescriptor::FixedAscii(9));
    assert_eq!(
        descriptor(&file, "start"),
        TypeDescriptor::Integer(IntSize::U4)
    );
    assert_eq!(
        descriptor(&file, "stop"),
        TypeDescriptor::Integer(IntSize::U4)
    );
    assert_eq!(
        file.dataset("start").unwrap().read_raw::<i32>().unwrap(),
        [-1, 0, 5]
    );
    assert_eq!(
        file.dataset("stop").unwrap().read_raw::<i32>().unwrap(),
        [-1, 99, i32::MAX]
    );
    for name in ["leftids", "rightids", "start", "stop"] {
        let ds = file.dataset(name).unwrap();
        assert_eq!(ds.shape(), [3]);
        assert!(ds.is_resizable(), "{name}");
        assert_eq!(
            ds.filters(),
            [
                hdf5::filters::Filter::Deflate(4),
                hdf5::filters::Filter::Fletcher32
            ],
            "{name}"
        );
    }
}

#[test]
fn ndx_key_scores_round_trip_and_layout() {
    let _serial = serial();
    let dir = tempfile::tempdir().unwrap();
    let key = sample_key();
    let key_path = dir.path().join("key.h5");
    key.write_hdf5(&key_path).unwrap();
    assert_eq!(Key::read_hdf5(&key_path).unwrap(), key);
    let file = File::open(&key_path).unwrap();
    assert_eq!(
        descriptor(&file, "modelset"),
        TypeDescriptor::FixedAscii(20)
    );
    assert_eq!(descriptor(&file, "segset"), TypeDescriptor::FixedAscii(4));
    assert_eq!(
        descriptor(&file, "trial_mask"),
        TypeDescriptor::Integer(IntSize::U1)
    );
    let mask: Array2<i8> = file.dataset("trial_mask").unwrap().read_2d().unwrap();
    // Models spk1, spk2, spk3-long-model-name; segments seg1, seg2, seg3.
    assert_eq!(mask, array![[1, 0, -1], [-1, 1, 0], [0, 0, 1]]);
    assert!(file.dataset("trial_mask").unwrap().is_resizable());

    let ndx = key.to_ndx();
    let ndx_path = dir.path().join("ndx.h5");
    ndx.write_hdf5(&ndx_path).unwrap();
    assert_eq!(Ndx::read_hdf5(&ndx_path).unwrap(), ndx);
    let file = File::open(&ndx_path).unwrap();
    let mask: Array2<i8> = file.dataset("trial_mask").unwrap().read_2d().unwrap();
    assert_eq!(mask, array![[1, 0, 1], [1, 1, 0], [0, 0, 1]]);

    let scores = sample_scores();
    let scores_path = dir.path().join("scores.h5");
    scores.write_hdf5(&scores_path).unwrap();
    let back = Scores::read_hdf5(&scores_path).unwrap();
    assert_eq!(back, scores);
    for ((_, _, a), (_, _, b)) in back.iter().zip(scores.iter()) {
        assert_eq!(a.to_bits(), b.to_bits());
    }
    let file = File::open(&scores_path).unwrap();
    let mut names = file.member_names().unwrap();
    names.sort();
    assert_eq!(names, ["modelset", "score_mask", "scores", "segset"]);
    assert_eq!(
        descriptor(&file, "score_mask"),
        TypeDescriptor::Integer(IntSize::U1)
    );
    assert_eq!(
        descriptor(&file, "scores"),
        TypeDescriptor::Float(FloatSize::U8)
    );
    let matrix: Array2<f64> = file.dataset("scores").unwrap().read_2d().unwrap();
    assert_eq!(matrix, scores.score_matrix());
    // What made the scores, as the root's attribute.
    let text: hdf5::types::VarLenUnicode = file.attr("provenance").unwrap().read_scalar().unwrap();
    let provenance = shardkit_algorithms::provenance::Provenance::from_json(text.as_str()).unwrap();
    assert!(provenance.software.starts_with("shardkit-algorithms "));
}

#[test]
fn non_ascii_identifiers_round_trip_as_utf8() {
    let _serial = serial();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ndx.h5");
    let ndx = Ndx::from_trials([("josé", "séance-1"), ("ana", "séance-1")]).unwrap();
    ndx.write_hdf5(&path).unwrap();
    assert_eq!(Ndx::read_hdf5(&path).unwrap(), ndx);
    let file = File::open(&path).unwrap();
    assert_eq!(
        descriptor(&file, "modelset"),
        TypeDescriptor::FixedUnicode(5)
    );
}

#[test]
fn writing_replaces_atomically_and_refuses_empty() {
    let _serial = serial();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("key.h5");
    std::fs::write(&path, "old").unwrap();
    sample_key().write_hdf5(&path).unwrap();
    assert_eq!(Key::read_hdf5(&path).unwrap(), sample_key());
    // No temporary file is left beside it.
    let left: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(left, ["key.h5"]);

    let empty = Ndx::from_trials(Vec::<(String, String)>::new()).unwrap();
    let err = empty.write_hdf5(dir.path().join("empty.h5")).unwrap_err();
    assert!(
        matches!(err, ProtocolError::EmptyWrite { what: "Ndx", .. }),
        "{err}"
    );
    assert!(!dir.path().join("empty.h5").exists());

    let missing_dir = dir.path().join("no/such/dir/x.h5");
    let err = sample_scores().write_hdf5(&missing_dir).unwrap_err();
    assert!(
        err.to_string()
            .starts_with(&missing_dir.display().to_string()),
        "{err}"
    );
}

// ---------------------------------------------------------------------------
// Files laid out as SIDEKIT writes them.

#[test]
fn reads_sidekit_layouts() {
    let _serial = serial();
    let dir = tempfile::tempdir().unwrap();
    // A Key whose models and segments are not sorted, with a model that has
    // no trial (SIDEKIT keeps such rows; they are dropped here).
    let path = dir.path().join("key.h5");
    {
        let f = File::create(&path).unwrap();
        sidekit_strings(&f, "modelset", &["spk2", "spk1", "idle"]);
        sidekit_strings(&f, "segset", &["seg2", "seg1"]);
        sidekit_array(&f, "trial_mask", array![[1i8, -1], [0, 1], [0, 0]].view());
    }
    let key = Key::read_hdf5(&path).unwrap();
    let want = Key::from_trials([
        ("spk2", "seg2", TrialKind::Target),
        ("spk2", "seg1", TrialKind::NonTarget),
        ("spk1", "seg1", TrialKind::Target),
    ])
    .unwrap();
    assert_eq!(key, want);

    // Ndx with a trial mask of int8 0/1.
    let path = dir.path().join("ndx.h5");
    {
        let f = File::create(&path).unwrap();
        sidekit_strings(&f, "modelset", &["a", "b"]);
        sidekit_strings(&f, "segset", &["x", "y", "z"]);
        sidekit_array(&f, "trial_mask", array![[1i8, 0, 1], [0, 1, 0]].view());
    }
    let ndx = Ndx::read_hdf5(&path).unwrap();
    assert_eq!(
        ndx,
        Ndx::from_trials([("a", "x"), ("a", "z"), ("b", "y")]).unwrap()
    );

    // Scores: cells outside the mask are ignored, even NaN.
    let path = dir.path().join("scores.h5");
    {
        let f = File::create(&path).unwrap();
        sidekit_strings(&f, "modelset", &["a", "b"]);
        sidekit_strings(&f, "segset", &["x", "y"]);
        sidekit_array(&f, "score_mask", array![[1i8, 0], [1, 1]].view());
        sidekit_array(&f, "scores", array![[0.5f64, f64::NAN], [-2.0, 3.0]].view());
    }
    let scores = Scores::read_hdf5(&path).unwrap();
    assert_eq!(
        scores,
        Scores::from_triples([("a", "x", 0.5), ("b", "x", -2.0), ("b", "y", 3.0)]).unwrap()
    );

    // IdMap with int32 bounds, -1 for none.
    let path = dir.path().join("idmap.h5");
    {
        let f = File::create(&path).unwrap();
        sidekit_strings(&f, "leftids", &["spk1", "spk1", "spk2"]);
        sidekit_strings(&f, "rightids", &["data/seg1", "seg2", "seg1"]);
        sidekit_array(&f, "start", array![-1i32, 0, 5].view());
        sidekit_array(&f, "stop", array![-1i32, 99, i32::MAX].view());
    }
    assert_eq!(IdMap::read_hdf5(&path).unwrap(), sample_idmap());
}

// ---------------------------------------------------------------------------
// Errors: each names the file and the dataset.

fn expect_hdf5_error(err: ProtocolError, path: &Path, dataset: &str, says: &str) {
    let text = err.to_string();
    match &err {
        ProtocolError::Hdf5 {
            path: p,
            dataset: d,
            ..
        } => {
            assert_eq!(p, path, "{text}");
            assert_eq!(*d, Some(dataset), "{text}");
        }
        other => panic!("not an Hdf5 error: {other:?}"),
    }
    assert!(text.starts_with(&path.display().to_string()), "{text}");
    assert!(text.contains(&format!("dataset `{dataset}`")), "{text}");
    assert!(text.contains(says), "{text}");
}

#[test]
fn missing_dataset_wrong_shape_and_bad_values_are_named() {
    let _serial = serial();
    let dir = tempfile::tempdir().unwrap();

    let path = dir.path().join("no_segset.h5");
    {
        let f = File::create(&path).unwrap();
        sidekit_strings(&f, "modelset", &["a"]);
        sidekit_array(&f, "trial_mask", array![[1i8]].view());
    }
    let err = Ndx::read_hdf5(&path).unwrap_err();
    expect_hdf5_error(
        err,
        &path,
        "segset",
        "missing (beside it: modelset, trial_mask)",
    );

    let path = dir.path().join("shape.h5");
    {
        let f = File::create(&path).unwrap();
        sidekit_strings(&f, "modelset", &["a", "b"]);
        sidekit_strings(&f, "segset", &["x", "y", "z"]);
        sidekit_array(&f, "trial_mask", array![[1i8, 0], [0, 1]].view());
    }
    let err = Key::read_hdf5(&path).unwrap_err();
    expect_hdf5_error(err, &path, "trial_mask", "shape [2, 2]");
    let err = Ndx::read_hdf5(&path).unwrap_err();
    expect_hdf5_error(err, &path, "trial_mask", "expected [2, 3]");

    let path = dir.path().join("one_d.h5");
    {
        let f = File::create(&path).unwrap();
        sidekit_strings(&f, "modelset", &["a"]);
        sidekit_strings(&f, "segset", &["x"]);
        sidekit_array(&f, "trial_mask", array![1i8].view());
    }
    let err = Ndx::read_hdf5(&path).unwrap_err();
    expect_hdf5_error(err, &path, "trial_mask", "2-D");

    let path = dir.path().join("value.h5");
    {
        let f = File::create(&path).unwrap();
        sidekit_strings(&f, "modelset", &["a"]);
        sidekit_strings(&f, "segset", &["x", "y"]);
        sidekit_array(&f, "trial_mask", array![[1i8, 2]].view());
    }
    let err = Key::read_hdf5(&path).unwrap_err();
    expect_hdf5_error(
        err,
        &path,
        "trial_mask",
        "element [0, 1] (counting from 0) is 2",
    );

    let path = dir.path().join("float_mask.h5");
    {
        let f = File::create(&path).unwrap();
        sidekit_strings(&f, "modelset", &["a"]);
        sidekit_strings(&f, "segset", &["x"]);
        sidekit_array(&f, "trial_mask", array![[1.0f32]].view());
    }
    let err = Ndx::read_hdf5(&path).unwrap_err();
    expect_hdf5_error(err, &path, "trial_mask", "integers are expected");

    let path = dir.path().join("dup.h5");
    {
        let f = File::create(&path).unwrap();
        sidekit_strings(&f, "modelset", &["a", "a"]);
        sidekit_strings(&f, "segset", &["x"]);
        sidekit_array(&f, "trial_mask", array![[1i8], [1]].view());
    }
    let err = Ndx::read_hdf5(&path).unwrap_err();
    expect_hdf5_error(
        err,
        &path,
        "modelset",
        "identifier `a` is elements [0] and [1]",
    );

    let path = dir.path().join("ints_as_ids.h5");
    {
        let f = File::create(&path).unwrap();
        sidekit_array(&f, "modelset", array![1i32].view());
        sidekit_strings(&f, "segset", &["x"]);
        sidekit_array(&f, "trial_mask", array![[1i8]].view());
    }
    let err = Ndx::read_hdf5(&path).unwrap_err();
    expect_hdf5_error(err, &path, "modelset", "strings are expected");

    let path = dir.path().join("nan.h5");
    {
        let f = File::create(&path).unwrap();
        sidekit_strings(&f, "modelset", &["a"]);
        sidekit_strings(&f, "segset", &["x", "y"]);
        sidekit_array(&f, "score_mask", array![[1i8, 1]].view());
        sidekit_array(&f, "scores", array![[0.5f64, f64::INFINITY]].view());
    }
    let err = Scores::read_hdf5(&path).unwrap_err();
    match &err {
        ProtocolError::BadScore { at, .. } => assert_eq!(
            at,
            &Location::Element(Box::new(DatasetElement {
                path: path.clone(),
                dataset: "scores",
                index: vec![0, 1]
            }))
        ),
        other => panic!("{other:?}"),
    }
    assert!(
        err.to_string().starts_with(&format!(
            "{}, dataset `scores`, element [0, 1]",
            path.display()
        )),
        "{err}"
    );

    let path = dir.path().join("no_scores.h5");
    {
        let f = File::create(&path).unwrap();
        sidekit_strings(&f, "modelset", &["a"]);
        sidekit_strings(&f, "segset", &["x"]);
        sidekit_array(&f, "score_mask", array![[0i8]].view());
        sidekit_array(&f, "scores", array![[0.0f64]].view());
    }
    let err = Scores::read_hdf5(&path).unwrap_err();
    assert!(
        matches!(err, ProtocolError::Empty { what: "scores", .. }),
        "{err}"
    );

    let path = dir.path().join("lengths.h5");
    {
        let f = File::create(&path).unwrap();
        sidekit_strings(&f, "leftids", &["a", "b"]);
        sidekit_strings(&f, "rightids", &["x", "y"]);
        sidekit_array(&f, "start", array![0i32, 1].view());
        sidekit_array(&f, "stop", array![5i32].view());
    }
    let err = IdMap::read_hdf5(&path).unwrap_err();
    expect_hdf5_error(err, &path, "stop", "1 elements, but `leftids` has 2");

    let path = dir.path().join("half_bounds.h5");
    {
        let f = File::create(&path).unwrap();
        sidekit_strings(&f, "leftids", &["a"]);
        sidekit_strings(&f, "rightids", &["x"]);
        sidekit_array(&f, "start", array![-1i32].view());
        sidekit_array(&f, "stop", array![7i32].view());
    }
    let err = IdMap::read_hdf5(&path).unwrap_err();
    expect_hdf5_error(err, &path, "start", "element [0] (counting from 0) is -1");

    let path = dir.path().join("reversed.h5");
    {
        let f = File::create(&path).unwrap();
        sidekit_strings(&f, "leftids", &["a"]);
        sidekit_strings(&f, "rightids", &["x"]);
        sidekit_array(&f, "start", array![9i32].view());
        sidekit_array(&f, "stop", array![7i32].view());
    }
    let err = IdMap::read_hdf5(&path).unwrap_err();
    assert!(
        matches!(
            err,
            ProtocolError::StartAfterStop {
                start: 9,
                stop: 7,
                ..
            }
        ),
        "{err}"
    );
    assert!(
        err.to_string().starts_with(&path.display().to_string()),
        "{err}"
    );
}

#[test]
fn not_hdf5_and_missing_files() {
    let _serial = serial();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("trials.key");
    std::fs::write(&path, "spk1 seg1 target\n").unwrap();
    let err = Key::read_hdf5(&path).unwrap_err();
    match &err {
        ProtocolError::Hdf5 { dataset: None, .. } => {}
        other => panic!("{other:?}"),
    }
    assert!(
        err.to_string()
            .starts_with(&format!("{}: cannot open as an HDF5 file", path.display())),
        "{err}"
    );

    let missing = dir.path().join("missing.h5");
    let err = Scores::read_hdf5(&missing).unwrap_err();
    assert!(matches!(err, ProtocolError::Io { op: "read", .. }), "{err}");
}

#[test]
fn idmap_bounds_over_int32_are_refused() {
    let _serial = serial();
    let dir = tempfile::tempdir().unwrap();
    let idmap = IdMap::new(vec![IdMapEntry {
        left: "a".into(),
        right: "x".into(),
        span: Some(FrameSpan {
            start: 0,
            stop: 1 << 31,
        }),
    }])
    .unwrap();
    let path = dir.path().join("big.h5");
    let err = idmap.write_hdf5(&path).unwrap_err();
    expect_hdf5_error(err, &path, "stop", "does not fit SIDEKIT's int32");
    assert!(!path.exists());
}

// ---------------------------------------------------------------------------
// Feature files.

/// A file with two shows, one of them nested (`spk1/s1`), uncompressed.
fn write_feature_file(
    path: &Path,
    compression: Option<i64>,
) -> (Array2<f32>, Array1<f32>, Array1<i8>) {
    let cep = Array2::from_shape_fn((6, 3), |(t, c)| t as f32 * 0.5 - c as f32 * 1.25);
    let energy = Array1::from_shape_fn(6, |t| 10.0 + t as f32);
    let vad = array![0i8, 1, 1, 0, 1, 0];
    let f = File::create(path).unwrap();
    if let Some(c) = compression {
        f.new_dataset_builder()
            .with_data(&arr0(c))
            .create("compression")
            .unwrap();
    }
    let spk1 = f.create_group("spk1").unwrap();
    let show = spk1.create_group("s1").unwrap();
    sidekit_array(&show, "cep", cep.view());
    sidekit_array(&show, "energy", energy.view());
    sidekit_array(&show, "vad", vad.view());
    sidekit_array(
        &show,
        "cep_mean",
        cep.mean_axis(ndarray::Axis(0)).unwrap().view(),
    );
    let other = f.create_group("spk2").unwrap();
    sidekit_array(&other, "fb", (&cep * 2.0).view());
    (cep, energy, vad)
}

#[test]
fn reads_uncompressed_feature_files() {
    let _serial = serial();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("feat.h5");
    let (cep, energy, vad) = write_feature_file(&path, Some(0));

    assert_eq!(sidekit_h5_shows(&path).unwrap(), ["spk1/s1", "spk2"]);
    let plain = read_sidekit_h5(&path, "spk1/s1", &SidekitRead::new()).unwrap();
    assert_eq!(plain, cep);

    let with_energy =
        read_sidekit_h5(&path, "spk1/s1", &SidekitRead::new().with_energy(true)).unwrap();
    assert_eq!(with_energy.dim(), (6, 4));
    assert_eq!(with_energy.column(0), energy);
    assert_eq!(with_energy.slice(ndarray::s![.., 1..]), cep);

    let speech = read_sidekit_h5(
        &path,
        "spk1/s1",
        &SidekitRead::new().with_energy(true).vad_only(true),
    )
    .unwrap();
    let keep: Vec<usize> = (0..6).filter(|&t| vad[t] != 0).collect();
    assert_eq!(keep, [1, 2, 4]);
    assert_eq!(speech, with_energy.select(ndarray::Axis(0), &keep));

    let fb = read_sidekit_h5(&path, "spk2", &SidekitRead::new().stream(SidekitStream::Fb)).unwrap();
    assert_eq!(fb, &cep * 2.0);

    // No `compression` dataset: uncompressed, as SIDEKIT assumes.
    let bare = dir.path().join("bare.h5");
    write_feature_file(&bare, None);
    assert_eq!(
        read_sidekit_h5(&bare, "spk1/s1", &SidekitRead::new()).unwrap(),
        cep
    );
}

#[test]
fn reads_htk_and_percentile_compressed_feature_files() {
    let _serial = serial();
    let dir = tempfile::tempdir().unwrap();
    // htk: int16 codes, NAME_comp = [A, B], value = (code + B) / A.
    let path = dir.path().join("htk.h5");
    {
        let f = File::create(&path).unwrap();
        f.new_dataset_builder()
            .with_data(&arr0(1i64))
            .create("compression")
            .unwrap();
        let show = f.create_group("utt").unwrap();
        sidekit_array(&show, "cep", array![[-32767i16, 0], [100, 32767]].view());
        sidekit_array(&show, "cep_comp", array![2.5f32, 4.0].view());
        sidekit_array(&show, "energy", array![10i16, -10].view());
        sidekit_array(&show, "energy_comp", array![0.5f32, 1.0].view());
    }
    let got = read_sidekit_h5(&path, "utt", &SidekitRead::new().with_energy(true)).unwrap();
    let want = array![
        [
            (10.0f32 + 1.0) / 0.5,
            (-32767.0f32 + 4.0) / 2.5,
            (0.0f32 + 4.0) / 2.5
        ],
        [
            (-10.0f32 + 1.0) / 0.5,
            (100.0f32 + 4.0) / 2.5,
            (32767.0f32 + 4.0) / 2.5
        ]
    ];
    assert_eq!(got, want);

    // percentile: uint8 codes between per-column percentiles.
    let path = dir.path().join("percentile.h5");
    let (min, range) = (-2.0f32, 8.0f32);
    let header = array![[0i64, 16384, 32768, 65535], [8192, 8192, 40000, 60000]];
    let codes = array![[0u8, 64], [65, 192], [193, 255], [32, 128]];
    {
        let f = File::create(&path).unwrap();
        f.new_dataset_builder()
            .with_data(&arr0(2i64))
            .create("compression")
            .unwrap();
        let show = f.create_group("utt").unwrap();
        sidekit_array(&show, "cep", codes.view());
        sidekit_array(&show, "cep_header", header.view());
        sidekit_array(&show, "cep_min_range", array![min, range].view());
    }
    let got = read_sidekit_h5(&path, "utt", &SidekitRead::new()).unwrap();
    let h = header
        .mapv(|c| (f64::from(min) + c as f64 * f64::from(range) * 1.525_902_189_669_64e-5) as f32);
    let decode = |c: u8, col: usize| -> f32 {
        let x = f32::from(c);
        let p = |k: usize| h[(col, k)];
        match c {
            0..=64 => p(0) + (p(1) - p(0)) * x / 64.0,
            65..=192 => p(1) + (p(2) - p(1)) * (x - 64.0) / 128.0,
            _ => p(2) + (p(3) - p(2)) * (x - 192.0) * (1.0f64 / 63.0) as f32,
        }
    };
    assert_eq!(
        got,
        Array2::from_shape_fn((4, 2), |(t, c)| decode(codes[(t, c)], c))
    );
    // The ends of each column's range are its 0th and 100th percentiles.
    assert_eq!(got[(0, 0)], min);
    assert_eq!(got[(2, 1)], h[(1, 3)]);
}

fn expect_feature_error(
    err: FeatureError,
    path: &Path,
    show: Option<&str>,
    dataset: Option<&str>,
    says: &str,
) {
    let text = err.to_string();
    match &err {
        FeatureError::Hdf5 {
            path: p,
            show: s,
            dataset: d,
            ..
        } => {
            assert_eq!(p, path, "{text}");
            assert_eq!(s.as_deref(), show, "{text}");
            assert_eq!(d.as_deref(), dataset, "{text}");
        }
        other => panic!("not an Hdf5 error: {other:?}"),
    }
    assert_eq!(err.path(), path);
    assert!(text.starts_with(&path.display().to_string()), "{text}");
    assert!(text.contains(says), "{text}");
}

#[test]
fn feature_file_errors_name_file_show_and_dataset() {
    let _serial = serial();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("feat.h5");
    write_feature_file(&path, Some(0));

    let err = read_sidekit_h5(&path, "spk9", &SidekitRead::new()).unwrap_err();
    expect_feature_error(err, &path, Some("spk9"), None, "not in the file");
    let err = read_sidekit_h5(&path, "spk1/s9", &SidekitRead::new()).unwrap_err();
    expect_feature_error(err, &path, Some("spk1/s9"), None, "no `s9` in group `spk1`");

    // spk2 has fb only.
    let err = read_sidekit_h5(&path, "spk2", &SidekitRead::new()).unwrap_err();
    expect_feature_error(
        err,
        &path,
        Some("spk2"),
        Some("cep"),
        "missing (beside it: fb)",
    );
    let read = SidekitRead::new().stream(SidekitStream::Fb).vad_only(true);
    let err = read_sidekit_h5(&path, "spk2", &read).unwrap_err();
    expect_feature_error(err, &path, Some("spk2"), Some("vad"), "missing");
    let read = SidekitRead::new()
        .stream(SidekitStream::Fb)
        .with_energy(true);
    let err = read_sidekit_h5(&path, "spk2", &read).unwrap_err();
    expect_feature_error(err, &path, Some("spk2"), Some("energy"), "missing");

    // Streams of different lengths.
    let bad = dir.path().join("bad.h5");
    {
        let f = File::create(&bad).unwrap();
        let show = f.create_group("utt").unwrap();
        sidekit_array(&show, "cep", Array2::<f32>::zeros((4, 2)).view());
        sidekit_array(&show, "energy", Array1::<f32>::zeros(3).view());
        sidekit_array(&show, "vad", Array1::<i8>::ones(5).view());
    }
    let err = read_sidekit_h5(&bad, "utt", &SidekitRead::new().with_energy(true)).unwrap_err();
    expect_feature_error(
        err,
        &bad,
        Some("utt"),
        Some("energy"),
        "3 frames, but `cep` has 4",
    );
    let err = read_sidekit_h5(&bad, "utt", &SidekitRead::new().vad_only(true)).unwrap_err();
    expect_feature_error(
        err,
        &bad,
        Some("utt"),
        Some("vad"),
        "5 labels, but `cep` has 4 frames",
    );

    // An unknown compression, and a compressed stream without its scales.
    let odd = dir.path().join("odd.h5");
    {
        let f = File::create(&odd).unwrap();
        f.new_dataset_builder()
            .with_data(&arr0(7i64))
            .create("compression")
            .unwrap();
        f.create_group("utt").unwrap();
    }
    let err = read_sidekit_h5(&odd, "utt", &SidekitRead::new()).unwrap_err();
    expect_feature_error(
        err,
        &odd,
        None,
        Some("compression"),
        "[7], but SIDEKIT writes 0",
    );
    let htk = dir.path().join("htk.h5");
    {
        let f = File::create(&htk).unwrap();
        f.new_dataset_builder()
            .with_data(&arr0(1i64))
            .create("compression")
            .unwrap();
        let show = f.create_group("utt").unwrap();
        sidekit_array(&show, "cep", Array2::<i16>::zeros((2, 2)).view());
    }
    let err = read_sidekit_h5(&htk, "utt", &SidekitRead::new()).unwrap_err();
    expect_feature_error(err, &htk, Some("utt"), Some("cep_comp"), "missing");

    let text = dir.path().join("feat.txt");
    std::fs::write(&text, "not hdf5").unwrap();
    let err = read_sidekit_h5(&text, "utt", &SidekitRead::new()).unwrap_err();
    expect_feature_error(err, &text, None, None, "cannot open as an HDF5 file");
    let err = read_sidekit_h5(dir.path().join("none.h5"), "utt", &SidekitRead::new()).unwrap_err();
    assert!(matches!(err, FeatureError::Io { .. }), "{err}");
}

/// The rows `rows` of `x`.
fn rows(x: &Array2<f32>, rows: &[usize]) -> Array2<f32> {
    x.select(ndarray::Axis(0), rows)
}

#[test]
fn reads_segments_with_edge_padding() {
    let _serial = serial();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("feat.h5");
    // 6 frames; vad = [0, 1, 1, 0, 1, 0].
    let (cep, _, _) = write_feature_file(&path, Some(0));
    let read =
        |start, stop| read_sidekit_h5(&path, "spk1/s1", &SidekitRead::new().frames(start, stop));
    // Inside the show: frames start..stop, the stop not included.
    assert_eq!(read(Some(2), Some(4)).unwrap(), rows(&cep, &[2, 3]));
    assert_eq!(read(None, Some(2)).unwrap(), rows(&cep, &[0, 1]));
    assert_eq!(read(Some(4), None).unwrap(), rows(&cep, &[4, 5]));
    assert_eq!(read(None, None).unwrap(), cep);
    // Before the first frame: the first repeated; after the last: the last.
    assert_eq!(
        read(Some(-2), Some(3)).unwrap(),
        rows(&cep, &[0, 0, 0, 1, 2])
    );
    assert_eq!(
        read(Some(4), Some(9)).unwrap(),
        rows(&cep, &[4, 5, 5, 5, 5])
    );
    assert_eq!(
        read(Some(-1), Some(7)).unwrap(),
        rows(&cep, &[0, 0, 1, 2, 3, 4, 5, 5])
    );
    // An empty range reads no frame, as SIDEKIT's slice.
    assert_eq!(read(Some(3), Some(3)).unwrap().dim(), (0, 3));

    // The vad labels are padded as the frames, then select them: frames
    // [0, 0, 1, 2, 3, 4, 5, 5, 5] have labels [0, 0, 1, 1, 0, 1, 0, 0, 0].
    let speech = SidekitRead::new().vad_only(true).frames(Some(-1), Some(8));
    assert_eq!(
        read_sidekit_h5(&path, "spk1/s1", &speech).unwrap(),
        rows(&cep, &[1, 2, 4])
    );
    // Frames [1, 2, 3] of an IdMap span 1..4, energy first.
    let span = FrameSpan { start: 1, stop: 4 };
    let got = read_sidekit_h5(
        &path,
        "spk1/s1",
        &SidekitRead::new().with_energy(true).span(span),
    )
    .unwrap();
    assert_eq!(got.column(0).to_vec(), [11.0, 12.0, 13.0]);
    assert_eq!(got.slice(ndarray::s![.., 1..]), rows(&cep, &[1, 2, 3]));

    // Nothing to pad from, a stop before the start, a negative stop.
    for (start, stop, says) in [
        (Some(6), Some(8), "none of them is in the show"),
        (Some(-3), Some(0), "none of them is in the show"),
        (Some(3), Some(1), "the stop is before the start"),
        (Some(-5), Some(-1), "a negative stop"),
    ] {
        let err = read(start, stop).unwrap_err();
        expect_feature_error(err, &path, Some("spk1/s1"), Some("cep"), says);
    }
}

/// Two shows: `spk1/utt1` (cep, energy, vad) and `utt2` (fb only).
fn written_shows() -> (Array2<f32>, Array1<f32>, Vec<bool>, Array2<f32>) {
    let cep = Array2::from_shape_fn((7, 3), |(t, c)| (t * 3 + c) as f32 * 0.37 - 2.0);
    let energy = Array1::from_shape_fn(7, |t| 60.0 - t as f32 * 1.5);
    let vad = vec![false, true, true, false, true, true, false];
    let fb = Array2::from_shape_fn((4, 5), |(t, c)| (t as f32).mul_add(0.1, c as f32));
    (cep, energy, vad, fb)
}

#[test]
fn writes_feature_files_in_sidekit_layout() {
    let _serial = serial();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("written.h5");
    let (cep, energy, vad, fb) = written_shows();
    let shows = [
        SidekitShow::new("spk1/utt1")
            .cep(cep.view())
            .energy(energy.view())
            .vad(&vad),
        SidekitShow::new("utt2").fb(fb.view()),
    ];
    write_sidekit_h5(&path, &shows).unwrap();

    // Read back: the same bits.
    assert_eq!(sidekit_h5_shows(&path).unwrap(), ["spk1/utt1", "utt2"]);
    assert_eq!(
        read_sidekit_h5(&path, "spk1/utt1", &SidekitRead::new()).unwrap(),
        cep
    );
    let speech = read_sidekit_h5(
        &path,
        "spk1/utt1",
        &SidekitRead::new().with_energy(true).vad_only(true),
    )
    .unwrap();
    let keep = [1, 2, 4, 5];
    assert_eq!(speech.column(0), energy.select(ndarray::Axis(0), &keep));
    assert_eq!(speech.slice(ndarray::s![.., 1..]), rows(&cep, &keep));
    let read_fb = SidekitRead::new().stream(SidekitStream::Fb);
    assert_eq!(read_sidekit_h5(&path, "utt2", &read_fb).unwrap(), fb);

    // The layout: compression 0; means and deviations over speech frames.
    let f = File::open(&path).unwrap();
    let compression = f.dataset("compression").unwrap();
    assert!(compression.shape().is_empty());
    assert_eq!(compression.read_scalar::<i64>().unwrap(), 0);
    assert_eq!(
        descriptor(&f, "spk1/utt1/vad"),
        TypeDescriptor::Integer(IntSize::U1)
    );
    assert_eq!(
        f.dataset("spk1/utt1/vad")
            .unwrap()
            .read_raw::<i8>()
            .unwrap(),
        [0, 1, 1, 0, 1, 1, 0]
    );
    let mean = f
        .dataset("spk1/utt1/cep_mean")
        .unwrap()
        .read_raw::<f32>()
        .unwrap();
    let std = f
        .dataset("spk1/utt1/cep_std")
        .unwrap()
        .read_raw::<f32>()
        .unwrap();
    for c in 0..3 {
        let x: Vec<f64> = keep.iter().map(|&t| f64::from(cep[(t, c)])).collect();
        let m = x.iter().sum::<f64>() / 4.0;
        let v = x.iter().map(|a| (a - m) * (a - m)).sum::<f64>() / 4.0;
        assert_eq!(mean[c], m as f32);
        assert_eq!(std[c], v.sqrt() as f32);
    }
    // 60 - 1.5 t over t = 1, 2, 4, 5: mean 55.5, variance 22.5 / 4.
    let energy_mean = f.dataset("spk1/utt1/energy_mean").unwrap();
    assert!(energy_mean.shape().is_empty());
    assert_eq!(energy_mean.read_scalar::<f32>().unwrap(), 55.5);
    let energy_std = f.dataset("spk1/utt1/energy_std").unwrap();
    assert_eq!(
        energy_std.read_scalar::<f32>().unwrap(),
        5.625f64.sqrt() as f32
    );
    // utt2 has no vad: its moments are over every frame.
    let fb_mean = f
        .dataset("utt2/fb_mean")
        .unwrap()
        .read_raw::<f32>()
        .unwrap();
    let column: f64 = fb.column(1).iter().map(|&v| f64::from(v)).sum();
    assert_eq!(fb_mean[1], (column / 4.0) as f32);
    assert!((fb_mean[1] - 1.15).abs() < 1e-6);
    assert!(!f.link_exists("utt2/vad") && !f.link_exists("utt2/cep"));
    drop(f);

    // Refused: no show, a show twice, no stream, streams of other lengths.
    let err = write_sidekit_h5(&path, &[]).unwrap_err();
    expect_feature_error(err, &path, None, None, "no show to write");
    let twice = [shows[1].clone(), shows[1].clone()];
    let err = write_sidekit_h5(&path, &twice).unwrap_err();
    expect_feature_error(err, &path, Some("utt2"), None, "given twice");
    let err = write_sidekit_h5(&path, &[SidekitShow::new("bare")]).unwrap_err();
    expect_feature_error(err, &path, Some("bare"), None, "no stream");
    let short = [true; 6];
    let bad = [SidekitShow::new("x").cep(cep.view()).vad(&short)];
    let err = write_sidekit_h5(&path, &bad).unwrap_err();
    expect_feature_error(
        err,
        &path,
        Some("x"),
        Some("vad"),
        "6 frames, but `cep` has 7",
    );
    // The file written first is left as it was.
    assert_eq!(sidekit_h5_shows(&path).unwrap(), ["spk1/utt1", "utt2"]);
}

// ---------------------------------------------------------------------------
// Cross-checks with h5py (skipped when python3 has no h5py).

#[test]
fn sidekit_reads_the_feature_files_we_write() {
    let _serial = serial();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("written.h5");
    let (cep, energy, vad, fb) = written_shows();
    write_sidekit_h5(
        &path,
        &[
            SidekitShow::new("spk1/utt1")
                .cep(cep.view())
                .energy(energy.view())
                .vad(&vad),
            SidekitShow::new("utt2").fb(fb.view()),
        ],
    )
    .unwrap();
    let energy_cep = ndarray::concatenate(
        ndarray::Axis(1),
        &[energy.view().insert_axis(ndarray::Axis(1)), cep.view()],
    )
    .unwrap();
    write_npy(dir.path().join("energy_cep.npy"), &energy_cep).unwrap();
    write_npy(dir.path().join("fb.npy"), &fb).unwrap();
    // SIDEKIT's read_hdf5_segment (compression 'none'), written anew: the
    // length from the show's first member, every dataset of the list with
    // its NAME_mean and NAME_std, stacked energy, cep, fb, bnf; the vad.
    let code = format!(
        r#"
import h5py, numpy as np
def read_hdf5_segment(h5f, show, dataset_list, start=None, stop=None):
    assert {{0: "none", 1: "htk", 2: "percentile"}}[h5f["compression"][()]] == "none"
    length = h5f[show + "/" + next(h5f[show].__iter__())].shape[0]
    start = 0 if start is None else start
    stop = length if stop is None else stop
    feat = []
    for data_id in ["energy", "cep", "fb", "bnf"]:
        if data_id in dataset_list:
            data = h5f[show + "/" + data_id][start:stop]
            feat.append(data[:, np.newaxis] if data.ndim == 1 else data)
            h5f[show + "/" + data_id + "_mean"][()]
            h5f[show + "/" + data_id + "_std"][()]
    feat = np.hstack(feat)
    if show + "/vad" in h5f:
        label = h5f[show + "/vad"][()].astype("bool").squeeze()[start:stop]
    else:
        label = np.ones(feat.shape[0], dtype="bool")
    return feat, label
with h5py.File({path}, "r") as f:
    feat, label = read_hdf5_segment(f, "spk1/utt1", ["energy", "cep", "vad"])
    assert feat.dtype == np.float32
    assert np.array_equal(feat, np.load({energy_cep})), feat
    assert label.tolist() == [False, True, True, False, True, True, False]
    assert np.allclose(f["spk1/utt1/cep_mean"][()], feat[label, 1:].mean(0), rtol=1e-6)
    assert np.allclose(f["spk1/utt1/cep_std"][()], feat[label, 1:].std(0), rtol=1e-6)
    assert np.allclose(f["spk1/utt1/energy_mean"][()], feat[label, 0].mean(), rtol=1e-6)
    feat, label = read_hdf5_segment(f, "utt2", ["fb"])
    assert np.array_equal(feat, np.load({fb})) and label.all()
    for name in ("spk1/utt1/cep", "spk1/utt1/energy", "spk1/utt1/vad", "utt2/fb"):
        d = f[name]
        assert d.compression == "gzip" and d.fletcher32 and d.maxshape == (None,) * d.ndim, name
    assert f["spk1/utt1/vad"].dtype == np.int8
print("ok")
"#,
        path = py_str(&path),
        energy_cep = py_str(&dir.path().join("energy_cep.npy")),
        fb = py_str(&dir.path().join("fb.npy")),
    );
    if let Some(out) = run_python(&code, &["h5py"]) {
        assert_eq!(out.trim(), "ok");
    }
}

#[test]
fn segments_match_a_numpy_read_hdf5_segment() {
    let _serial = serial();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("feat.h5");
    let cases: [(Option<i64>, Option<i64>); 8] = [
        (None, None),
        (Some(0), Some(37)),
        (Some(5), Some(20)),
        (Some(-4), Some(10)),
        (Some(30), Some(45)),
        (Some(-3), Some(40)),
        (None, Some(50)),
        (Some(-7), None),
    ];
    let py = |v: Option<i64>| v.map_or("None".to_owned(), |v| v.to_string());
    let list = cases
        .iter()
        .map(|&(a, b)| format!("({}, {})", py(a), py(b)))
        .collect::<Vec<_>>()
        .join(", ");
    // SIDEKIT's read_hdf5_segment (uncompressed), then FeaturesServer's
    // `feat[label]`, written anew with numpy: each result saved as .npy.
    let code = format!(
        r#"
import h5py, numpy as np
rng = np.random.default_rng(5)
n = 37
cep = rng.standard_normal((n, 4)).astype("float32")
energy = rng.standard_normal(n).astype("float32")
vad = (rng.random(n) < 0.6).astype("int8")
vad[0] = 1; vad[-1] = 1
opts = dict(compression="gzip", fletcher32=True)
with h5py.File({file}, "w") as f:
    f.create_dataset("compression", data=0)
    f.create_dataset("a/b/cep", data=cep, maxshape=(None, None), **opts)
    f.create_dataset("a/b/energy", data=energy, maxshape=(None,), **opts)
    f.create_dataset("a/b/vad", data=vad, maxshape=(None,), **opts)
def segment(start, stop):
    length = cep.shape[0]
    if start is None: start = 0
    before = -start if start < 0 else 0
    start = max(start, 0)
    if stop is None: stop = length
    after = stop - length if stop > length else 0
    stop = min(stop, length)
    feat = np.hstack([energy[start:stop, None], cep[start:stop]])
    label = vad.astype(bool)[start:stop]
    feat = np.pad(feat, ((before, after), (0, 0)), mode="edge")
    label = np.pad(label, (before, after), mode="edge")
    return feat, feat[label]
for i, (start, stop) in enumerate([{list}]):
    feat, speech = segment(start, stop)
    np.save({dir} + "/all%d.npy" % i, feat)
    np.save({dir} + "/speech%d.npy" % i, speech)
print("ok")
"#,
        file = py_str(&file),
        dir = py_str(dir.path()),
    );
    let Some(out) = run_python(&code, &["h5py"]) else {
        return;
    };
    assert_eq!(out.trim(), "ok");
    for (i, &(start, stop)) in cases.iter().enumerate() {
        for (vad, name) in [(false, "all"), (true, "speech")] {
            let read = SidekitRead::new()
                .with_energy(true)
                .vad_only(vad)
                .frames(start, stop);
            let got = read_sidekit_h5(&file, "a/b", &read).unwrap();
            let want = read_npy(dir.path().join(format!("{name}{i}.npy"))).unwrap();
            assert_eq!(got.dim(), want.dim(), "{start:?}..{stop:?} {name}");
            assert!(
                got.iter()
                    .zip(&want)
                    .all(|(a, b)| a.to_bits() == b.to_bits()),
                "{start:?}..{stop:?} {name}"
            );
        }
    }
}

#[test]
fn h5py_reads_what_we_write() {
    let _serial = serial();
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("key.h5");
    let scores = dir.path().join("scores.h5");
    let idmap = dir.path().join("idmap.h5");
    sample_key().write_hdf5(&key).unwrap();
    sample_scores().write_hdf5(&scores).unwrap();
    sample_idmap().write_hdf5(&idmap).unwrap();
    // Read as SIDEKIT's `read` methods read them.
    let code = format!(
        r#"
import h5py, numpy as np
with h5py.File({key}, "r") as f:
    m = f["modelset"][()]
    assert m.dtype == np.dtype("S20"), m.dtype
    assert m.astype("U100").tolist() == ["spk1", "spk2", "spk3-long-model-name"]
    assert f["segset"][()].astype("U100").tolist() == ["seg1", "seg2", "seg3"]
    t = f["trial_mask"]
    assert t.dtype == np.int8 and t.maxshape == (None, None)
    assert t.compression == "gzip" and t.compression_opts == 4 and t.fletcher32
    tm = t[()]
    assert (tm == 1).tolist() == [[True, False, False], [False, True, False], [False, False, True]]
    assert (tm == -1).tolist() == [[False, False, True], [True, False, False], [False, False, False]]
with h5py.File({scores}, "r") as f:
    assert f["score_mask"].dtype == np.int8
    s = f["scores"]
    assert s.dtype == np.float64 and s.maxshape == (None, None)
    mask = f["score_mask"][()].astype(bool)
    got = s[()][mask].tolist()
    assert got == [1.25, -0.1, 1e-300, 651847949857580.2, -0.0], got
    import json
    assert json.loads(f.attrs["provenance"])["software"].startswith("shardkit-algorithms ")
with h5py.File({idmap}, "r") as f:
    assert f["leftids"].maxshape == (None,)
    assert f["start"].dtype == np.int32 and f["stop"].dtype == np.int32
    assert f["rightids"][()].astype("U255").tolist() == ["data/seg1", "seg2", "seg1"]
    assert f["start"][()].tolist() == [-1, 0, 5]
    assert f["stop"][()].tolist() == [-1, 99, 2**31 - 1]
# Chunked as h5py chunks a resizable dataset.
from h5py._hl.filters import guess_chunk
for path in ({key}, {scores}, {idmap}):
    with h5py.File(path, "r") as f:
        for name, d in f.items():
            assert d.chunks == guess_chunk(d.shape, None, d.dtype.itemsize), (path, name, d.chunks)
print("ok")
"#,
        key = py_str(&key),
        scores = py_str(&scores),
        idmap = py_str(&idmap),
    );
    if let Some(out) = run_python(&code, &["h5py"]) {
        assert_eq!(out.trim(), "ok");
    }
}

#[test]
fn we_read_what_h5py_writes() {
    let _serial = serial();
    let dir = tempfile::tempdir().unwrap();
    let p = |n: &str| dir.path().join(n);
    // SIDEKIT's write methods, feature writer and its readers' decoding,
    // written anew with numpy and h5py; the decoded features are saved as
    // .npy to compare with.
    let code = format!(
        r#"
import h5py, numpy as np
opts = dict(compression="gzip", fletcher32=True)
def ds(f, name, data):
    f.create_dataset(name, data=data, maxshape=(None,) * np.ndim(data), **opts)
models = np.array(["spk2", "spk1"]); segs = np.array(["b", "a", "c"])
tar = np.array([[True, False, False], [False, True, True]])
non = np.array([[False, True, False], [True, False, False]])
with h5py.File({key}, "w") as f:
    ds(f, "modelset", models.astype("S")); ds(f, "segset", segs.astype("S"))
    ds(f, "trial_mask", tar.astype("int8") - non.astype("int8"))
with h5py.File({ndx}, "w") as f:
    ds(f, "modelset", models.astype("S")); ds(f, "segset", segs.astype("S"))
    ds(f, "trial_mask", (tar | non).astype("int8"))
with h5py.File({scores}, "w") as f:
    ds(f, "modelset", models.astype("S")); ds(f, "segset", segs.astype("S"))
    ds(f, "score_mask", (tar | non).astype("int8"))
    ds(f, "scores", np.arange(6, dtype=float).reshape(2, 3) / 3)
with h5py.File({vlen}, "w") as f:
    # Variable-length UTF-8 strings (h5py's default for str objects;
    # HDF5 filters cannot apply to them).
    f.create_dataset("modelset", data=np.array(["spk2", "spk1"], dtype=h5py.string_dtype()))
    f.create_dataset("segset", data=np.array(["b", "a", "c"], dtype=h5py.string_dtype()))
    ds(f, "trial_mask", (tar | non).astype("int8"))
with h5py.File({idmap}, "w") as f:
    ds(f, "leftids", np.array(["m1", "m2"]).astype("S"))
    ds(f, "rightids", np.array(["s1", "s2"]).astype("S"))
    ds(f, "start", np.array([-1, 10], dtype="int32"))
    ds(f, "stop", np.array([-1, 20], dtype="int32"))

rng = np.random.default_rng(7)
cep = rng.normal(size=(50, 4)).astype("float32")
energy = rng.normal(size=50).astype("float32")
vad = (rng.random(50) > 0.4).astype("int8")
def percentile_encode(f, name, data):
    if data.ndim == 1:
        data = data[:, None]
    lo, span = data.min(), np.ptp(data)
    head = np.stack([np.percentile(data, q, axis=0, method="lower") for q in (0, 25, 75, 100)], axis=1)
    ds(f, name + "_header", ((head - lo) / span * 65535 + 0.499).astype(int))
    ds(f, name + "_min_range", np.array([lo, span]).astype("float32"))
    codes = np.zeros(data.shape, dtype=np.uint8)
    for j in range(data.shape[1]):
        p0, p25, p75, p100 = head[j]
        x = data[:, j]
        c = np.where(x < p25, np.clip(((x - p0) / (p25 - p0)) * 64 + 0.5, 0, 64),
            np.where(x < p75, np.clip(((x - p25) / (p75 - p25)) * 128 + 0.5 + 64, 64, 192),
                     np.clip(((x - p75) / (p100 - p75)) * 63 + 0.5 + 192, 192, 255)))
        codes[:, j] = c.astype(np.uint8)
    ds(f, name, codes)
def percentile_decode(f, name):
    lo, span = f[name + "_min_range"][()]
    head = np.full(f[name + "_header"].shape, lo)
    head += f[name + "_header"][()] * span * 1.52590218966964e-05
    c = f[name][()].T
    a = (head[:, [0]] + (head[:, [1]] - head[:, [0]]) * c * (1 / 64)) * (c <= 64)
    b = (head[:, [1]] + (head[:, [2]] - head[:, [1]]) * (c - 64) * (1 / 128)) * ((c > 64) & (c <= 192))
    d = (head[:, [2]] + (head[:, [3]] - head[:, [2]]) * (c - 192) * (1 / 63)) * (c > 192)
    return (a + b + d).T.astype("float32")
def htk_encode(f, name, data):
    a = 2 * 32767. / (data.max() - data.min())
    b = (data.max() + data.min()) * 32767. / (data.max() - data.min())
    ds(f, name + "_comp", np.array([a, b]).astype("float32"))
    ds(f, name, (a * data - b).astype("short"))
def htk_decode(f, name):
    a, b = f[name + "_comp"][()]
    x = (f[name][()] + b) / a
    return (x[:, None] if x.ndim == 1 else x).astype("float32")
for kind, path, out in (("none", {plain}, {plain_npy}), ("htk", {htk}, {htk_npy}), ("percentile", {pct}, {pct_npy})):
    with h5py.File(path, "w") as f:
        f.create_dataset("compression", data={{"none": 0, "htk": 1, "percentile": 2}}[kind])
        g = "id00001/vid/00001"
        if kind == "none":
            ds(f, g + "/cep", cep); ds(f, g + "/energy", energy)
        elif kind == "htk":
            htk_encode(f, g + "/cep", cep); htk_encode(f, g + "/energy", energy)
        else:
            percentile_encode(f, g + "/cep", cep); percentile_encode(f, g + "/energy", energy)
        ds(f, g + "/vad", vad)
        if kind == "none":
            e, c = energy[:, None], cep
        elif kind == "htk":
            e, c = htk_decode(f, g + "/energy"), htk_decode(f, g + "/cep")
        else:
            e, c = percentile_decode(f, g + "/energy"), percentile_decode(f, g + "/cep")
        feat = np.hstack([e, c]).astype("float32")
        np.save(out, feat[vad.astype(bool)])
print("ok")
"#,
        key = py_str(&p("key.h5")),
        ndx = py_str(&p("ndx.h5")),
        vlen = py_str(&p("vlen.h5")),
        scores = py_str(&p("scores.h5")),
        idmap = py_str(&p("idmap.h5")),
        plain = py_str(&p("plain.h5")),
        plain_npy = py_str(&p("plain.npy")),
        htk = py_str(&p("htk.h5")),
        htk_npy = py_str(&p("htk.npy")),
        pct = py_str(&p("pct.h5")),
        pct_npy = py_str(&p("pct.npy")),
    );
    let Some(out) = run_python(&code, &["h5py"]) else {
        return;
    };
    assert_eq!(out.trim(), "ok");

    let key = Key::read_hdf5(p("key.h5")).unwrap();
    let want = Key::from_trials([
        ("spk2", "b", TrialKind::Target),
        ("spk2", "a", TrialKind::NonTarget),
        ("spk1", "b", TrialKind::NonTarget),
        ("spk1", "a", TrialKind::Target),
        ("spk1", "c", TrialKind::Target),
    ])
    .unwrap();
    assert_eq!(key, want);
    assert_eq!(Ndx::read_hdf5(p("ndx.h5")).unwrap(), want.to_ndx());
    assert_eq!(Ndx::read_hdf5(p("vlen.h5")).unwrap(), want.to_ndx());
    let scores = Scores::read_hdf5(p("scores.h5")).unwrap();
    assert_eq!(scores.len(), 5);
    assert_eq!(scores.get("spk1", "c"), Some(5.0 / 3.0));
    assert_eq!(scores.get("spk2", "a"), Some(1.0 / 3.0));
    assert_eq!(scores.get("spk2", "c"), None);
    let idmap = IdMap::read_hdf5(p("idmap.h5")).unwrap();
    assert_eq!(idmap.entries()[0].span, None);
    assert_eq!(
        idmap.entries()[1].span,
        Some(FrameSpan {
            start: 10,
            stop: 20
        })
    );

    let read = SidekitRead::new().with_energy(true).vad_only(true);
    for (h5, npy) in [
        ("plain.h5", "plain.npy"),
        ("htk.h5", "htk.npy"),
        ("pct.h5", "pct.npy"),
    ] {
        assert_eq!(sidekit_h5_shows(p(h5)).unwrap(), ["id00001/vid/00001"]);
        let got = read_sidekit_h5(p(h5), "id00001/vid/00001", &read).unwrap();
        let want = read_npy(p(npy)).unwrap();
        assert_eq!(got.dim(), want.dim(), "{h5}");
        for ((i, a), b) in got.indexed_iter().zip(want.iter()) {
            assert_eq!(a.to_bits(), b.to_bits(), "{h5} at {i:?}: {a} vs {b}");
        }
    }
}

#[test]
fn bosaris_matlab_layout_both_ways() {
    let _serial = serial();
    let dir = tempfile::tempdir().unwrap();
    let ours = dir.path().join("ours-bosaris.h5");
    let scores = sample_scores();
    scores.write_hdf5_bosaris(&ours).unwrap();
    // Read back, auto-detected; the datasets are BOSARIS's.
    assert_eq!(Scores::read_hdf5(&ours).unwrap(), scores);
    let f = File::open(&ours).unwrap();
    assert!(!f.link_exists("modelset") && !f.link_exists("segset"));
    assert!(f.link_exists("ID") && f.link_exists("score_mask") && f.link_exists("scores"));
    drop(f);

    // BOSARIS's MATLAB save_hdf5 (uint8 mask, variable-length strings) and
    // SIDEKIT's read_matlab, written anew with h5py.
    let theirs = dir.path().join("theirs.h5");
    let key = dir.path().join("key.h5");
    let code = format!(
        r#"
import h5py, numpy as np
with h5py.File({ours}, "r") as f:
    modelset = f["ID/row_ids"][()].astype("U100")
    segset = f["ID/column_ids"][()].astype("U100")
    mask = f["score_mask"][()].astype(bool)
    mat = f["scores"][()]
    assert mat.shape == mask.shape == (modelset.shape[0], segset.shape[0])
    for i, m in enumerate(modelset):
        for j, s in enumerate(segset):
            if mask[i, j]:
                print(m, s, repr(float(mat[i, j])))
vlen = h5py.string_dtype("ascii")
with h5py.File({theirs}, "w") as f:
    f.create_dataset("scores", data=np.array([[1.5, -2.0, 7.0], [0.25, 3.0, 9.0]]))
    f.create_dataset("score_mask", data=np.array([[1, 1, 0], [0, 1, 1]], dtype="uint8"))
    f.create_dataset("ID/row_ids", data=np.array(["m1", "m2"], dtype=object), dtype=vlen)
    f.create_dataset("ID/column_ids", data=np.array(["s1", "s2", "s3"], dtype=object), dtype=vlen)
with h5py.File({key}, "w") as f:
    f.create_dataset("trial_mask", data=np.array([[1, -1], [0, 1]], dtype="int8"))
    f.create_dataset("file_format", data="2.0")
    f.create_dataset("ID/row_ids", data=np.array(["m1", "m2"]).astype("S"))
    f.create_dataset("ID/column_ids", data=np.array(["s1", "s2"]).astype("S"))
"#,
        ours = py_str(&ours),
        theirs = py_str(&theirs),
        key = py_str(&key),
    );
    let Some(out) = run_python(&code, &["h5py"]) else {
        return;
    };
    let mut seen = 0;
    for line in out.lines() {
        let fields: Vec<&str> = line.split(' ').collect();
        let [model, segment, value] = fields[..] else {
            panic!("{line}")
        };
        let value: f64 = value.parse().unwrap();
        let want = scores.get(model, segment).unwrap();
        assert_eq!(value.to_bits(), want.to_bits(), "{line}");
        seen += 1;
    }
    assert_eq!(seen, scores.len());

    let read = Scores::read_hdf5(&theirs).unwrap();
    assert_eq!(read.len(), 4);
    assert_eq!(read.get("m1", "s1"), Some(1.5));
    assert_eq!(read.get("m1", "s2"), Some(-2.0));
    assert_eq!(read.get("m2", "s3"), Some(9.0));
    assert_eq!(read.get("m1", "s3"), None);
    let key = Key::read_hdf5(&key).unwrap();
    let want = Key::from_trials([
        ("m1", "s1", TrialKind::Target),
        ("m1", "s2", TrialKind::NonTarget),
        ("m2", "s2", TrialKind::Target),
    ])
    .unwrap();
    assert_eq!(key, want);
    // A key's -1 is no Ndx mask value.
    assert!(Ndx::read_hdf5(dir.path().join("key.h5")).is_err());
}
