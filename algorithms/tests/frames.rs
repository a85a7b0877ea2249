//! The one frame source: rows, segments in memory and feature files give
//! the same frames, the same checks and — where their blocks coincide —
//! the same bits in every algorithm; a file that changes between passes is
//! caught and named.

use std::path::PathBuf;

use ndarray::{s, Array2};
use shardkit::Executor;
use shardkit_algorithms::features::{write_npy, FeatureError, ReadOptions};
use shardkit_algorithms::frames::{Frames, FramesError};
use shardkit_algorithms::gmm::ubm::{em, train_ubm, EmConfig, UbmError};
use shardkit_algorithms::gmm::{DiagGmm, Pruning};
use shardkit_algorithms::ivector::baum_welch;
use shardkit_algorithms::kmeans::{Init, KMeans};
use shardkit_testkit::{known_gmm, sample_gmm};

/// Frames of a known mixture cut into utterances of uneven lengths, and the
/// same utterances as `.npy` files.
fn utterances(dir: &std::path::Path) -> (Array2<f32>, Vec<Array2<f32>>, Vec<PathBuf>) {
    let frames = sample_gmm(&known_gmm(), 4000, 11);
    let mut parts = Vec::new();
    let mut files = Vec::new();
    let mut at = 0;
    for (i, len) in [500, 1200, 1, 799, 1500].into_iter().enumerate() {
        let part = frames.slice(s![at..at + len, ..]).to_owned();
        let path = dir.join(format!("utt{i}.npy"));
        write_npy(&path, &part).unwrap();
        parts.push(part);
        files.push(path);
        at += len;
    }
    (frames, parts, files)
}

#[test]
fn segments_in_memory_and_files_are_the_same_frames() {
    let dir = tempfile::tempdir().unwrap();
    let (frames, parts, files) = utterances(dir.path());
    let views: Vec<_> = parts.iter().map(|p| p.view()).collect();
    let memory = Frames::segments(&views);
    let disk = Frames::files(&files);
    assert_eq!((memory.len(), disk.len()), (5, 5));
    assert_eq!(memory.known_dim(), Some(3));
    assert_eq!(disk.known_dim(), None);
    assert_eq!(disk.dim().unwrap(), Some(3));
    assert_eq!(disk.paths(), Some(&files[..]));
    for i in 0..5 {
        assert_eq!(memory.segment(i).unwrap(), disk.segment(i).unwrap());
    }
    let rows = Frames::rows(frames.view());
    assert_eq!(rows.len(), 1);
    assert_eq!(rows.segment(0).unwrap(), frames);
    // A transposed view comes back in standard layout, same values.
    let t = frames.t().to_owned();
    let fortran = t.t();
    let segment = Frames::rows(fortran).segment(0).unwrap();
    assert!(segment.is_standard_layout());
    assert_eq!(segment, frames);
}

/// Segments in memory are weighed as the `.npy` files of the same frames,
/// so both cut the same blocks: every algorithm gives the same bits.
#[test]
fn algorithms_give_the_same_bits_on_segments_and_files() {
    let dir = tempfile::tempdir().unwrap();
    let (_, parts, files) = utterances(dir.path());
    let views: Vec<_> = parts.iter().map(|p| p.view()).collect();
    let (memory, disk) = (Frames::segments(&views), Frames::files(&files));

    let config = EmConfig::new().iterations(vec![2, 3]);
    let a = train_ubm(&memory, 4, &config, &mut |_| {}).unwrap();
    let b = train_ubm(&disk, 4, &config, &mut |_| {}).unwrap();
    assert_eq!(a.model, b.model);

    let pruned = config.pruning(Some(Pruning {
        top_n: 2,
        ..Pruning::default()
    }));
    let a = train_ubm(&memory, 4, &pruned, &mut |_| {}).unwrap();
    let b = Executor::threads(2)
        .unwrap()
        .install(|| train_ubm(&disk, 4, &pruned, &mut |_| {}))
        .unwrap();
    assert_eq!(a.model, b.model);

    let params = KMeans::new(5).init(Init::parallel()).seed(3);
    let a = params.fit(&memory).unwrap();
    let b = params.fit(&disk).unwrap();
    assert_eq!(a.centroids(), b.centroids());

    let ubm = a_ubm();
    assert_eq!(
        baum_welch(&memory, &ubm).unwrap(),
        baum_welch(&disk, &ubm).unwrap()
    );
}

fn a_ubm() -> DiagGmm {
    let frames = sample_gmm(&known_gmm(), 2000, 5);
    let config = EmConfig::new().iterations(vec![3, 3]);
    train_ubm(&Frames::rows(frames.view()), 4, &config, &mut |_| {})
        .unwrap()
        .model
}

#[test]
fn checks_name_the_segment() {
    let good = Array2::<f32>::ones((4, 3));
    let mut bad = Array2::<f32>::ones((6, 3));
    bad[[5, 2]] = f32::INFINITY;
    let narrow = Array2::<f32>::ones((2, 2));
    let empty = Array2::<f32>::ones((0, 3));

    let views = [good.view(), bad.view()];
    let err = Frames::segments(&views).segment(1).unwrap_err();
    assert_eq!(
        err.to_string(),
        "in-memory segment 1: non-finite value inf at frame 5, column 2 (counting from 0)"
    );
    let allowed = Frames::segments(&views).options(ReadOptions::new().allow_non_finite(true));
    assert!(allowed.segment(1).is_ok());

    let views = [good.view(), narrow.view()];
    let err = Frames::segments(&views)
        .expect_dim(3)
        .segment(1)
        .unwrap_err();
    assert!(matches!(
        err,
        FramesError::Features(FeatureError::WrongDim {
            found: 2,
            expected: 3,
            ..
        })
    ));
    let err = Frames::rows(empty.view()).segment(0).unwrap_err();
    assert_eq!(err.to_string(), "in-memory rows: no frames (0 × 3)");
    let ok = Frames::rows(empty.view()).options(ReadOptions::new().allow_empty(true));
    assert_eq!(ok.segment(0).unwrap().nrows(), 0);

    // The first bad value of rows in memory, found by a parallel scan, is
    // the first in row-major order whatever the pool.
    let mut rows = Array2::<f32>::ones((50_000, 4));
    rows[[40_000, 1]] = f32::NAN;
    rows[[30_000, 3]] = f32::NEG_INFINITY;
    for threads in [1, 3] {
        let err = Executor::threads(threads)
            .unwrap()
            .install(|| KMeans::new(2).fit(&Frames::rows(rows.view())))
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "in-memory rows: non-finite value -inf at frame 30000, column 3 (counting from 0)"
        );
    }
}

/// A file rewritten with another number of frames between two passes of
/// pruned EM (whose stored selection has one row per frame) is an error
/// naming the file, not a wrong selection.
#[test]
fn a_file_that_changes_between_passes_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let (_, _, files) = utterances(dir.path());
    let config = EmConfig::new().pruning(Some(Pruning {
        top_n: 2,
        ..Pruning::default()
    }));
    let start = a_ubm();
    let target = files[3].clone();
    let mut iteration = 0;
    let err = em(&Frames::files(&files), start, 3, &config, &mut |_| {
        iteration += 1;
        if iteration == 1 {
            write_npy(&target, &Array2::<f32>::ones((10, 3))).unwrap();
        }
    })
    .unwrap_err();
    assert!(
        matches!(
            &err,
            UbmError::Frames(FramesError::FileChanged {
                expected: 799,
                found: 10,
                ..
            })
        ),
        "{err}"
    );
    assert!(err
        .to_string()
        .starts_with(&format!("{}: had 799 frames", target.display())));
}
