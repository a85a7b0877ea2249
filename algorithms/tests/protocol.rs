//! SIDEKIT / BOSARIS evaluation lists: exact text layouts on hand-written
//! fixtures, round trips, alignment of scores with keys, and every error.

use std::path::{Path, PathBuf};

use proptest::prelude::*;
use shardkit_algorithms::metrics::{eer, DetCurve};
use shardkit_algorithms::protocol::{
    FrameSpan, IdMap, IdMapEntry, Key, Location, Ndx, ProtocolError, Scores, TrialKind,
};

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap()
}

fn line(path: &Path, line: usize) -> Location {
    Location::Line {
        path: path.to_path_buf(),
        line,
    }
}

// ---------------------------------------------------------------- layouts

#[test]
fn ndx_reads_sorts_and_writes_sidekit_layout() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(
        dir.path(),
        "trials.ndx",
        "m2 s1\nm1 s3\n\nm1\ts1\r\nm2 s3\n",
    );
    let ndx = Ndx::read_txt(&path).unwrap();
    assert_eq!(ndx.models(), ["m1", "m2"]);
    assert_eq!(ndx.segments(), ["s1", "s3"]);
    assert_eq!(ndx.len(), 4);
    assert!(ndx.contains("m1", "s3") && !ndx.contains("m3", "s1"));
    let out = dir.path().join("out.ndx");
    ndx.write_txt(&out).unwrap();
    assert_eq!(read(&out), "m1 s1\nm1 s3\nm2 s1\nm2 s3\n");
    assert_eq!(Ndx::read_txt(&out).unwrap(), ndx);
}

#[test]
fn ndx_mask_is_models_by_segments() {
    let ndx = Ndx::from_trials([("b", "x"), ("a", "y"), ("a", "z")]).unwrap();
    let mask = ndx.trial_mask();
    assert_eq!(mask.dim(), (2, 3));
    assert_eq!(
        mask.iter().copied().collect::<Vec<_>>(),
        [false, true, true, true, false, false]
    );
    let trials: Vec<_> = ndx.trials().collect();
    assert_eq!(trials, [("a", "y"), ("a", "z"), ("b", "x")]);
}

#[test]
fn key_writes_targets_then_nontargets_per_model() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(
        dir.path(),
        "trials.key",
        "bob s2 nontarget\nalice s3 target\nalice s1 nontarget\nbob s1 target\nalice s2 target\n",
    );
    let key = Key::read_txt(&path).unwrap();
    assert_eq!(key.len(), 5);
    assert_eq!(key.n_targets(), 3);
    assert_eq!(key.n_nontargets(), 2);
    assert_eq!(key.get("alice", "s1"), Some(TrialKind::NonTarget));
    assert_eq!(key.get("bob", "s3"), None);
    let out = dir.path().join("out.key");
    key.write_txt(&out).unwrap();
    assert_eq!(
        read(&out),
        "alice s2 target\nalice s3 target\nalice s1 nontarget\nbob s1 target\nbob s2 nontarget\n"
    );
    assert_eq!(Key::read_txt(&out).unwrap(), key);
    let ndx = key.to_ndx();
    assert_eq!(ndx.len(), 5);
    assert_eq!(ndx.models(), key.models());
    let tar = key.target_mask();
    let non = key.nontarget_mask();
    assert_eq!(tar.dim(), (2, 3));
    assert!(tar.iter().zip(non.iter()).all(|(t, n)| !(t & n)));
    assert_eq!(
        ndx.trial_mask(),
        ndarray::Zip::from(&tar)
            .and(&non)
            .map_collect(|&t, &n| t | n)
    );
}

#[test]
fn scores_write_as_sidekit_formats_floats() {
    let dir = tempfile::tempdir().unwrap();
    let scores = Scores::from_triples([
        ("m2", "s1", 1e-5),
        ("m1", "s2", -3.0),
        ("m1", "s1", 0.1),
        ("m2", "s2", 1.2345678901234568e17),
    ])
    .unwrap();
    let out = dir.path().join("out.scores");
    scores.write_txt(&out).unwrap();
    // What SIDEKIT's '{} {} {}'.format(model, seg, numpy.float64) writes.
    assert_eq!(
        read(&out),
        "m1 s1 0.1\nm1 s2 -3.0\nm2 s1 1e-05\nm2 s2 1.2345678901234568e+17\n"
    );
    assert_eq!(Scores::read_txt(&out).unwrap(), scores);
}

#[test]
fn scores_read_any_order_and_keyed_by_ids() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(
        dir.path(),
        "sys.scores",
        "m2 s1 -1.5\nm1 s2 4\nm1 s1 2.5e-1\n",
    );
    let scores = Scores::read_txt(&path).unwrap();
    assert_eq!(scores.get("m1", "s1"), Some(0.25));
    assert_eq!(scores.get("m1", "s2"), Some(4.0));
    assert_eq!(scores.get("m2", "s1"), Some(-1.5));
    assert_eq!(scores.get("m2", "s2"), None);
    assert_eq!(scores.get("nobody", "s1"), None);
    assert_eq!(scores.len(), 3);
    let mask = scores.score_mask();
    let mat = scores.score_matrix();
    assert_eq!(mask.iter().filter(|&&b| b).count(), 3);
    assert!(!mask[(1, 1)]);
    assert_eq!(mat[(0, 0)], 0.25);
    assert_eq!(mat[(1, 1)], 0.0);
    match scores.score("m2", "s2") {
        Err(ProtocolError::MissingScore { model, segment }) => {
            assert_eq!((model.as_str(), segment.as_str()), ("m2", "s2"));
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn idmap_reads_two_and_four_columns_and_sidekit_none() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(
        dir.path(),
        "enrol.idmap",
        "spk1 a/seg1\nspk1 a/seg2 0 99\nspk2 b/seg1 None None\nspk2 a/seg2 100 250\n",
    );
    let map = IdMap::read_txt(&path).unwrap();
    assert_eq!(map.len(), 4);
    assert_eq!(map.entries()[0].span, None);
    assert_eq!(
        map.entries()[1].span,
        Some(FrameSpan { start: 0, stop: 99 })
    );
    assert_eq!(map.entries()[2].span, None);
    assert_eq!(map.left_ids(), ["spk1", "spk2"]);
    assert_eq!(map.right_ids(), ["a/seg1", "a/seg2", "b/seg1"]);
    let segs: Vec<_> = map
        .of_left("spk1")
        .unwrap()
        .iter()
        .map(|e| e.right.as_str())
        .collect();
    assert_eq!(segs, ["a/seg1", "a/seg2"]);
    let who: Vec<_> = map
        .of_right("a/seg2")
        .unwrap()
        .iter()
        .map(|e| e.left.as_str())
        .collect();
    assert_eq!(who, ["spk1", "spk2"]);
    let out = dir.path().join("out.idmap");
    map.write_txt(&out).unwrap();
    // Entries keep their order; no bounds → two fields.
    assert_eq!(
        read(&out),
        "spk1 a/seg1\nspk1 a/seg2 0 99\nspk2 b/seg1\nspk2 a/seg2 100 250\n"
    );
    assert_eq!(IdMap::read_txt(&out).unwrap(), map);
}

#[test]
fn idmap_unknown_ids_are_named() {
    let map = IdMap::new(vec![IdMapEntry {
        left: "spk".into(),
        right: "seg".into(),
        span: None,
    }])
    .unwrap();
    let e = map.of_left("ghost").unwrap_err();
    assert!(matches!(&e, ProtocolError::UnknownId { id, .. } if id == "ghost"));
    assert!(e.to_string().contains("`ghost`"), "{e}");
    let e = map.of_right("nowhere").unwrap_err();
    assert!(e.to_string().contains("right id `nowhere`"), "{e}");
}

// ------------------------------------------------------ alignment, metrics

#[test]
fn target_nontarget_follows_the_key_not_the_file_order() {
    let key = Key::from_trials([
        ("m1", "s1", TrialKind::Target),
        ("m1", "s2", TrialKind::NonTarget),
        ("m2", "s1", TrialKind::NonTarget),
        ("m2", "s2", TrialKind::Target),
    ])
    .unwrap();
    // Extra trials the key does not list are ignored.
    let scores = Scores::from_triples([
        ("m2", "s2", 3.0),
        ("m9", "s9", 100.0),
        ("m1", "s2", -1.0),
        ("m2", "s1", 0.5),
        ("m1", "s1", 2.0),
    ])
    .unwrap();
    let (tar, non) = scores.target_nontarget(&key).unwrap();
    assert_eq!(tar, [2.0, 3.0]);
    assert_eq!(non, [-1.0, 0.5]);
    assert_eq!(eer(&tar, &non).unwrap().eer, 0.0);
    assert!(DetCurve::new(&tar, &non).is_ok());

    let aligned = scores.align(&key.to_ndx()).unwrap();
    assert_eq!(aligned.len(), 4);
    assert_eq!(aligned.models(), ["m1", "m2"]);
    assert_eq!(aligned.get("m9", "s9"), None);
    assert_eq!(aligned.get("m2", "s1"), Some(0.5));
}

#[test]
fn a_key_trial_without_score_is_an_error_naming_it() {
    let key = Key::from_trials([
        ("m1", "s1", TrialKind::Target),
        ("m1", "s2", TrialKind::NonTarget),
    ])
    .unwrap();
    let scores = Scores::from_triples([("m1", "s1", 1.0)]).unwrap();
    let e = scores.target_nontarget(&key).unwrap_err();
    assert!(
        matches!(&e, ProtocolError::MissingScore { model, segment } if model == "m1" && segment == "s2"),
        "{e:?}"
    );
    assert!(e.to_string().contains("`m1`") && e.to_string().contains("`s2`"));
    let e = scores.align(&key.to_ndx()).unwrap_err();
    assert!(matches!(e, ProtocolError::MissingScore { .. }));
}

// ------------------------------------------------------------------ errors

#[test]
fn wrong_field_counts_name_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let cases: [(&str, &str, usize, usize); 4] = [
        ("a.ndx", "m s\nm s t\n", 2, 3),
        ("a.key", "m s target\n\nm s\n", 3, 2),
        ("a.scores", "m s 1.0\nm s2 1.0 extra\n", 2, 4),
        ("a.idmap", "l r\nl r 3\n", 2, 3),
    ];
    for (name, text, bad_line, fields) in cases {
        let path = write(dir.path(), name, text);
        let e = match name {
            "a.ndx" => Ndx::read_txt(&path).unwrap_err(),
            "a.key" => Key::read_txt(&path).unwrap_err(),
            "a.scores" => Scores::read_txt(&path).unwrap_err(),
            _ => IdMap::read_txt(&path).unwrap_err(),
        };
        match &e {
            ProtocolError::FieldCount { at, found, .. } => {
                assert_eq!(at, &line(&path, bad_line), "{name}");
                assert_eq!(*found, fields, "{name}");
            }
            other => panic!("{name}: {other:?}"),
        }
        let msg = e.to_string();
        assert!(
            msg.contains(name) && msg.contains(&format!("line {bad_line}")),
            "{msg}"
        );
    }
}

#[test]
fn bad_scores_are_errors() {
    let dir = tempfile::tempdir().unwrap();
    for bad in ["abc", "nan", "inf", "-inf", "1.0.0", "0x10"] {
        let path = write(dir.path(), "s.scores", &format!("m s1 1\nm s2 {bad}\n"));
        let e = Scores::read_txt(&path).unwrap_err();
        match &e {
            ProtocolError::BadScore { at, text } => {
                assert_eq!(at, &line(&path, 2));
                assert_eq!(text, bad);
            }
            other => panic!("{bad}: {other:?}"),
        }
        assert!(e.to_string().contains("not a finite number"), "{e}");
    }
    let e = Scores::from_triples([("m", "s", 0.0), ("m", "t", f64::NAN)]).unwrap_err();
    assert!(
        matches!(
            e,
            ProtocolError::BadScore {
                at: Location::Item(1),
                ..
            }
        ),
        "{e:?}"
    );
}

#[test]
fn unknown_key_words_are_errors() {
    let dir = tempfile::tempdir().unwrap();
    for word in ["Target", "tgt", "imp", "non-target", "1"] {
        let path = write(dir.path(), "k.key", &format!("m s1 target\nm s2 {word}\n"));
        let e = Key::read_txt(&path).unwrap_err();
        match &e {
            ProtocolError::BadTrialType { at, word: w } => {
                assert_eq!(at, &line(&path, 2));
                assert_eq!(w, word);
            }
            other => panic!("{word}: {other:?}"),
        }
        assert!(e.to_string().contains("`target` or `nontarget`"), "{e}");
    }
}

#[test]
fn duplicated_trials_name_both_lines() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(
        dir.path(),
        "d.key",
        "m s1 target\nm s2 nontarget\n\nm s1 nontarget\n",
    );
    let e = Key::read_txt(&path).unwrap_err();
    match &e {
        ProtocolError::Duplicate {
            at,
            first,
            left,
            right,
            ..
        } => {
            assert_eq!(at, &line(&path, 4));
            assert_eq!(**first, line(&path, 1));
            assert_eq!((left.as_str(), right.as_str()), ("m", "s1"));
        }
        other => panic!("{other:?}"),
    }
    assert!(e.to_string().contains("(m, s1)"), "{e}");

    let path = write(dir.path(), "d.scores", "m s 1\nm s 1\n");
    assert!(matches!(
        Scores::read_txt(&path),
        Err(ProtocolError::Duplicate { .. })
    ));
    let path = write(dir.path(), "d.ndx", "m s\nm s\n");
    assert!(matches!(
        Ndx::read_txt(&path),
        Err(ProtocolError::Duplicate { .. })
    ));
    let path = write(dir.path(), "d.idmap", "l r 0 9\nl r 0 10\nl r 0 9\n");
    match IdMap::read_txt(&path) {
        Err(ProtocolError::Duplicate { at, first, .. }) => {
            assert_eq!(at, line(&path, 3));
            assert_eq!(*first, line(&path, 1));
        }
        other => panic!("{other:?}"),
    }
    let e = Ndx::from_trials([("a", "b"), ("c", "d"), ("a", "b")]).unwrap_err();
    assert!(matches!(
        e,
        ProtocolError::Duplicate {
            at: Location::Item(2),
            ..
        }
    ));
}

#[test]
fn empty_files_are_errors_and_empty_objects_are_not_written() {
    let dir = tempfile::tempdir().unwrap();
    for text in ["", "\n  \n\t\n"] {
        let path = write(dir.path(), "empty.txt", text);
        assert!(matches!(
            Ndx::read_txt(&path),
            Err(ProtocolError::Empty { .. })
        ));
        assert!(matches!(
            Key::read_txt(&path),
            Err(ProtocolError::Empty { .. })
        ));
        assert!(matches!(
            Scores::read_txt(&path),
            Err(ProtocolError::Empty { .. })
        ));
        assert!(matches!(
            IdMap::read_txt(&path),
            Err(ProtocolError::Empty { .. })
        ));
    }
    let ndx = Ndx::from_trials(Vec::<(String, String)>::new()).unwrap();
    assert!(ndx.is_empty());
    let out = dir.path().join("never.ndx");
    assert!(matches!(
        ndx.write_txt(&out),
        Err(ProtocolError::EmptyWrite { .. })
    ));
    assert!(!out.exists());
    let scores = Scores::from_triples(Vec::<(String, String, f64)>::new()).unwrap();
    assert!(matches!(
        scores.write_txt(&out),
        Err(ProtocolError::EmptyWrite { .. })
    ));
    assert!(matches!(
        IdMap::default().write_txt(&out),
        Err(ProtocolError::EmptyWrite { .. })
    ));
}

#[test]
fn idmap_bad_frames_are_errors() {
    let dir = tempfile::tempdir().unwrap();
    for (text, which) in [
        ("l r -1 5\n", "start"),
        ("l r 0 x\n", "stop"),
        ("l r 1.5 3\n", "start"),
        ("l r None 3\n", "start"),
    ] {
        let path = write(dir.path(), "f.idmap", text);
        match IdMap::read_txt(&path) {
            Err(ProtocolError::BadFrame { at, which: w, .. }) => {
                assert_eq!(at, line(&path, 1));
                assert_eq!(w, which, "{text}");
            }
            other => panic!("{text}: {other:?}"),
        }
    }
    let path = write(dir.path(), "f.idmap", "l r 0 5\nl r 9 5\n");
    assert!(matches!(
        IdMap::read_txt(&path),
        Err(ProtocolError::StartAfterStop {
            start: 9,
            stop: 5,
            ..
        })
    ));
}

#[test]
fn identifiers_must_be_single_fields() {
    for bad in ["", "two words", "tab\there"] {
        let e = Ndx::from_trials([("m", bad)]).unwrap_err();
        assert!(matches!(e, ProtocolError::BadId { .. }), "{bad:?}: {e:?}");
        let e = Scores::from_triples([(bad, "s", 1.0)]).unwrap_err();
        assert!(matches!(e, ProtocolError::BadId { .. }));
    }
    let e = IdMap::new(vec![IdMapEntry {
        left: "a b".into(),
        right: "r".into(),
        span: None,
    }])
    .unwrap_err();
    assert!(matches!(e, ProtocolError::BadId { .. }));
}

#[test]
fn missing_files_and_bad_bytes_are_errors() {
    let dir = tempfile::tempdir().unwrap();
    let e = Scores::read_txt(dir.path().join("absent.scores")).unwrap_err();
    assert!(matches!(e, ProtocolError::Io { op: "read", .. }), "{e:?}");
    assert!(e.to_string().contains("absent.scores"));
    let path = dir.path().join("bytes.ndx");
    std::fs::write(&path, b"m s\nm \xff\xfe\n").unwrap();
    match Ndx::read_txt(&path) {
        Err(ProtocolError::NotUtf8 { at }) => assert_eq!(at, line(&path, 2)),
        other => panic!("{other:?}"),
    }
    // Writing into a folder that does not exist.
    let ndx = Ndx::from_trials([("m", "s")]).unwrap();
    let e = ndx
        .write_txt(dir.path().join("no/such/dir/x.ndx"))
        .unwrap_err();
    assert!(matches!(e, ProtocolError::Io { op: "write", .. }), "{e:?}");
}

#[test]
fn writing_replaces_a_file_atomically() {
    let dir = tempfile::tempdir().unwrap();
    let out = write(dir.path(), "k.key", "old content\n");
    let key = Key::from_trials([("m", "s", TrialKind::Target)]).unwrap();
    key.write_txt(&out).unwrap();
    assert_eq!(read(&out), "m s target\n");
    // No temporary file is left beside it.
    let names: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names, ["k.key"]);
}

// --------------------------------------------------------------- proptest

fn id() -> impl Strategy<Value = String> {
    "[a-zA-Z0-9_./-]{1,6}"
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn scores_round_trip(triples in proptest::collection::vec((id(), id(), any::<f64>()), 1..40)) {
        let mut seen = std::collections::HashSet::new();
        let triples: Vec<_> = triples
            .into_iter()
            .filter(|(m, s, v)| v.is_finite() && seen.insert((m.clone(), s.clone())))
            .collect();
        prop_assume!(!triples.is_empty());
        let scores = Scores::from_triples(triples.clone()).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.txt");
        scores.write_txt(&path).unwrap();
        let back = Scores::read_txt(&path).unwrap();
        for (m, s, v) in &triples {
            prop_assert_eq!(back.get(m, s).map(f64::to_bits), Some(v.to_bits()));
        }
        prop_assert_eq!(&back, &scores);
        let path2 = dir.path().join("s2.txt");
        back.write_txt(&path2).unwrap();
        prop_assert_eq!(read(&path), read(&path2));
    }

    #[test]
    fn key_and_ndx_round_trip(trials in proptest::collection::vec((id(), id(), any::<bool>()), 1..40)) {
        let mut seen = std::collections::HashSet::new();
        let trials: Vec<_> = trials
            .into_iter()
            .filter(|(m, s, _)| seen.insert((m.clone(), s.clone())))
            .map(|(m, s, t)| (m, s, if t { TrialKind::Target } else { TrialKind::NonTarget }))
            .collect();
        let key = Key::from_trials(trials.clone()).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("k.txt");
        key.write_txt(&path).unwrap();
        let back = Key::read_txt(&path).unwrap();
        prop_assert_eq!(&back, &key);
        for (m, s, k) in &trials {
            prop_assert_eq!(back.get(m, s), Some(*k));
        }
        let ndx = key.to_ndx();
        let path = dir.path().join("n.txt");
        ndx.write_txt(&path).unwrap();
        prop_assert_eq!(Ndx::read_txt(&path).unwrap(), ndx);
    }

    #[test]
    fn idmap_round_trip(entries in proptest::collection::vec((id(), id(), proptest::option::of((0u64..1000, 0u64..1000))), 1..30)) {
        let mut seen = std::collections::HashSet::new();
        let entries: Vec<IdMapEntry> = entries
            .into_iter()
            .map(|(left, right, span)| IdMapEntry {
                left,
                right,
                span: span.map(|(a, b)| FrameSpan { start: a.min(b), stop: a.max(b) }),
            })
            .filter(|e| seen.insert(e.clone()))
            .collect();
        let map = IdMap::new(entries).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("i.txt");
        map.write_txt(&path).unwrap();
        prop_assert_eq!(IdMap::read_txt(&path).unwrap(), map);
    }

    #[test]
    fn arbitrary_text_never_panics(text in "[ -~\n\t]{0,200}") {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.txt");
        std::fs::write(&path, &text).unwrap();
        let _ = Ndx::read_txt(&path);
        let _ = Key::read_txt(&path);
        let _ = Scores::read_txt(&path);
        let _ = IdMap::read_txt(&path);
    }
}

// ------------------------------------------------ from masks and matrices

#[test]
fn ndx_and_key_from_masks_match_their_trials() {
    use ndarray::array;
    // Unsorted identifiers; the row of `m0` has no trial and is not kept.
    let models = ["m2", "m1", "m0"];
    let segments = ["s2", "s1"];
    let mask = array![[true, false], [true, true], [false, false]];
    let ndx = Ndx::from_mask(&models, &segments, mask.view()).unwrap();
    assert_eq!(
        ndx,
        Ndx::from_trials([("m2", "s2"), ("m1", "s2"), ("m1", "s1")]).unwrap()
    );
    assert_eq!(ndx.models(), ["m1", "m2"]);

    let tar = array![[true, false], [false, true], [false, false]];
    let non = array![[false, true], [true, false], [false, false]];
    let key = Key::from_masks(&models, &segments, tar.view(), non.view()).unwrap();
    assert_eq!(key.get("m2", "s2"), Some(TrialKind::Target));
    assert_eq!(key.get("m2", "s1"), Some(TrialKind::NonTarget));
    assert_eq!(key.get("m1", "s1"), Some(TrialKind::Target));
    assert_eq!(key.len(), 4);

    let both = array![[true, false], [false, false], [false, false]];
    match Key::from_masks(&models, &segments, both.view(), both.view()) {
        Err(ProtocolError::Conflict { model, segment }) => {
            assert_eq!((model.as_str(), segment.as_str()), ("m2", "s2"));
        }
        other => panic!("{other:?}"),
    }
    let e = Key::from_masks(&models, &segments, tar.view(), non.t()).unwrap_err();
    assert!(matches!(e, ProtocolError::Shape { .. }), "{e:?}");
    let e = Ndx::from_mask(&["a", "a", "b"], &segments, mask.view()).unwrap_err();
    assert!(
        matches!(&e, ProtocolError::DuplicateId { kind: "model", id } if id == "a"),
        "{e:?}"
    );
    let e = Ndx::from_mask(&models, &["s"], mask.view()).unwrap_err();
    assert!(e.to_string().contains("3 × 2"), "{e}");
}

#[test]
fn scores_from_a_back_end_matrix_align_with_a_key() {
    use ndarray::array;
    let models = ["spk_b", "spk_a"];
    let tests = ["t1", "t2", "t3"];
    let matrix = array![[0.1, 0.9, -0.2], [0.8, 0.0, 0.3]];
    let scores = Scores::from_matrix(&models, &tests, matrix.view()).unwrap();
    assert_eq!(scores.len(), 6);
    assert_eq!(scores.get("spk_a", "t1"), Some(0.8));
    assert_eq!(scores.get("spk_b", "t2"), Some(0.9));
    let key = Key::from_trials([
        ("spk_a", "t1", TrialKind::Target),
        ("spk_b", "t2", TrialKind::Target),
        ("spk_a", "t2", TrialKind::NonTarget),
        ("spk_b", "t3", TrialKind::NonTarget),
    ])
    .unwrap();
    let (tar, non) = scores.target_nontarget(&key).unwrap();
    assert_eq!(tar, [0.8, 0.9]);
    assert_eq!(non, [0.0, -0.2]);
    let aligned = scores.align(&key.to_ndx()).unwrap();
    assert_eq!(aligned.len(), 4);
    assert_eq!(aligned.get("spk_a", "t3"), None);

    let bad = array![[0.0, f64::INFINITY, 0.0], [0.0, 0.0, 0.0]];
    let e = Scores::from_matrix(&models, &tests, bad.view()).unwrap_err();
    assert!(
        matches!(
            e,
            ProtocolError::BadScore {
                at: Location::Item(1),
                ..
            }
        ),
        "{e:?}"
    );
    let e = Scores::from_matrix(&models, &["t1", "t2"], matrix.view()).unwrap_err();
    assert!(matches!(e, ProtocolError::Shape { .. }), "{e:?}");
}

#[test]
fn lists_cost_their_trials_not_models_times_segments() {
    // 30,000 models × 30,000 segments, one trial each: a dense f64 matrix
    // would take 7 GB.
    let n = 30_000;
    let triples: Vec<_> = (0..n)
        .map(|i| {
            (
                format!("enrol{i:05}"),
                format!("test{i:05}"),
                i as f64 * 0.5,
            )
        })
        .collect();
    let scores = Scores::from_triples(triples).unwrap();
    assert_eq!(scores.len(), n);
    assert_eq!(scores.models().len(), n);
    assert_eq!(scores.get("enrol12345", "test12345"), Some(6172.5));
    assert_eq!(scores.get("enrol12345", "test12346"), None);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("big.scores");
    scores.write_txt(&path).unwrap();
    assert_eq!(Scores::read_txt(&path).unwrap(), scores);
}
