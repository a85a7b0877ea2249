//! Provenance in result files: text members of `.npz` archives, what a
//! saved model carries before and after a program declares its run, that
//! NumPy reads it, and that the plan digest does not depend on threads.
//!
//! One test function: the plan digest and the declared run are
//! process-wide, and other tests running at once would change them.

use ndarray::{array, Array2};
use shardkit::Executor;
use shardkit_algorithms::frames::Frames;
use shardkit_algorithms::kmeans::{KMeans, KMeansModel};
use shardkit_algorithms::npz::{NpzReader, NpzWriter};
use shardkit_algorithms::provenance::{self, Provenance};
use shardkit_testkit::{py_str, run_python};

#[test]
fn result_files_say_what_made_them() {
    let dir = tempfile::tempdir().unwrap();

    // Text members: any characters, the empty string, NumPy's form.
    let path = dir.path().join("text.npz");
    let mut npz = NpzWriter::new(&path);
    npz.add_text("greek", "λόγος → 1 €").unwrap();
    npz.add_text("empty", "").unwrap();
    npz.add("x", &array![1.0f64]).unwrap();
    assert!(npz.add_text("x", "again").is_err(), "names stay unique");
    npz.finish().unwrap();
    let mut r = NpzReader::open(&path).unwrap();
    assert_eq!(r.read_text("greek").unwrap(), "λόγος → 1 €");
    assert_eq!(r.read_text("empty").unwrap(), "");
    let e = r.read_text("x").unwrap_err().to_string();
    assert!(e.contains("not a text scalar"), "{e}");
    let e = r
        .read::<f64, ndarray::Ix1>("greek")
        .unwrap_err()
        .to_string();
    assert!(e.contains("greek"), "{e}");

    // A model saved by a library process: software and program, no run.
    let model = KMeansModel::from_centroids(array![[0.0, 1.0], [2.0, 3.0]]).unwrap();
    let saved = dir.path().join("plain.npz");
    model.save(&saved).unwrap();
    let p = Provenance::of_npz(&saved)
        .unwrap()
        .expect("a provenance member");
    assert_eq!(
        p.software,
        format!("shardkit-algorithms {}", env!("CARGO_PKG_VERSION"))
    );
    assert_eq!(p.program, "provenance", "the test binary, its hash removed");
    assert!(p.configuration.is_empty() && p.inputs.is_empty() && p.plan.is_empty());
    // The model reads back as before.
    assert_eq!(
        KMeansModel::load(&saved).unwrap().centroids(),
        model.centroids()
    );
    // An archive without one (NumPy's own) has none.
    assert_eq!(Provenance::of_npz(&path).unwrap(), None);

    // A declared run: its settings, inputs and plan digest.
    let input = dir.path().join("input.bin");
    std::fs::write(&input, b"frames").unwrap();
    let inputs = provenance::fingerprint_files(&[&input]).unwrap();
    provenance::record_run("clusters = 2", inputs.clone());
    let rows = Array2::from_shape_fn((500, 2), |(i, j)| ((i * 7 + j * 3) % 11) as f32);
    let fit_on = |threads: usize| {
        Executor::threads(threads)
            .unwrap()
            .install(|| KMeans::new(2).seed(1).fit(&Frames::rows(rows.view())))
            .unwrap()
    };
    let before = shardkit::plan_digest();
    let one = fit_on(1);
    let after_one = shardkit::plan_digest();
    assert!(
        after_one.kinds >= before.kinds + 2,
        "a fit makes several kinds of pass"
    );
    // The same fit on 3 threads makes no pass of another kind or cut.
    let three = fit_on(3);
    assert_eq!(shardkit::plan_digest(), after_one, "threads change no pass");
    // Other data (another number of blocks) does.
    let more = Array2::from_shape_fn((5000, 2), |(i, j)| ((i * 7 + j * 3) % 11) as f32);
    KMeans::new(2)
        .seed(1)
        .fit(&Frames::rows(more.view()))
        .unwrap();
    assert_ne!(shardkit::plan_digest(), after_one);
    // What a checkpoint carries restores the set in a new run (here: the
    // same process, where it adds nothing new).
    let kinds = shardkit::plan_kinds();
    shardkit::merge_plan_kinds(&kinds);
    assert_eq!(shardkit::plan_kinds(), kinds);
    assert_eq!(one.centroids(), three.centroids());
    let declared = dir.path().join("declared.npz");
    one.save(&declared).unwrap();
    let p = Provenance::of_npz(&declared).unwrap().unwrap();
    assert_eq!(p.configuration, "clusters = 2");
    assert_eq!(p.inputs, inputs);
    assert_eq!(p.plan, shardkit::plan_digest().to_string());
    assert_eq!(Provenance::from_json(&p.to_json()).unwrap(), p);
    // Any text survives the JSON, and a damaged text is an error.
    let tricky = "a \"quoted\" \\ path\nline\ttab\u{1} λ € \u{1F600}";
    provenance::record_run(tricky, "");
    let p = provenance::current();
    assert_eq!(Provenance::from_json(&p.to_json()).unwrap(), p);
    assert_eq!(p.configuration, tricky);
    let tricky_file = dir.path().join("tricky.npz");
    one.save(&tricky_file).unwrap();
    for bad in [
        "",
        "{",
        "{\"software\": 1}",
        "{} x",
        "[\"a\"]",
        "{\"plan\": \"\\q\"}",
    ] {
        assert!(Provenance::from_json(bad).is_err(), "{bad}");
    }
    provenance::record_run("clusters = 2", inputs.clone());

    // NumPy reads it as a string scalar holding JSON.
    let code = format!(
        r#"
import json, numpy as np
z = np.load({p})
assert sorted(z.files) == ['centroids', 'provenance'], z.files
p = json.loads(str(z['provenance']))
assert p['configuration'] == 'clusters = 2', p
assert p['software'].startswith('shardkit-algorithms '), p
q = json.loads(str(np.load({q})['provenance']))
assert q['configuration'] == 'a "quoted" \\ path\nline\ttab\x01 λ € \U0001F600', q
t = np.load({t})
assert str(t['greek']) == 'λόγος → 1 €' and str(t['empty']) == ''
print("ok")
"#,
        p = py_str(&declared),
        t = py_str(&path),
        q = py_str(&tricky_file)
    );
    if let Some(out) = run_python(&code, &[]) {
        assert_eq!(out.trim(), "ok");
    }
}
