//! Every reader of user files, fed arbitrary bytes and damaged copies of
//! valid files: it returns a value or an error, never panics, and never
//! allocates what the file cannot hold (a header claiming 10^11 elements
//! would abort the process, which a test run would show).

use std::path::Path;

use ndarray::Array2;
use proptest::prelude::*;
use shardkit_algorithms::backend::Backend;
use shardkit_algorithms::features::{read_htk, read_list, read_npy, write_htk, write_npy};
use shardkit_algorithms::frontend::read_wav;
use shardkit_algorithms::gmm::DiagGmm;
use shardkit_algorithms::ivector::TvModel;
use shardkit_algorithms::npz::NpzReader;

/// Runs every reader on `bytes` written as a file of each extension they
/// know; any result is fine, a panic fails the test.
fn read_all(dir: &Path, bytes: &[u8]) {
    let at = |name: &str| {
        let path = dir.join(name);
        std::fs::write(&path, bytes).unwrap();
        path
    };
    let _ = read_wav(at("x.wav"));
    let _ = read_npy(at("x.npy"));
    let _ = read_htk(at("x.htk"));
    let _ = read_list(at("x.lst"));
    let npz = at("x.npz");
    if let Ok(reader) = NpzReader::open(&npz) {
        let _ = reader.names();
    }
    let _ = DiagGmm::load(&npz);
    let _ = TvModel::load(&npz);
    let _ = Backend::load(&npz);
}

/// Valid files of every format, as bytes: the starting points of the
/// damaged copies.
fn valid_files(dir: &Path) -> Vec<Vec<u8>> {
    let x = Array2::from_shape_fn((7, 3), |(i, j)| i as f32 - 0.5 * j as f32);
    let npy = dir.join("v.npy");
    write_npy(&npy, &x).unwrap();
    let htk = dir.join("v.htk");
    write_htk(&htk, &x, 100_000, 9).unwrap();
    let gmm = dir.join("v.npz");
    DiagGmm::new(
        ndarray::array![0.5, 0.5],
        Array2::zeros((2, 3)),
        Array2::ones((2, 3)),
    )
    .unwrap()
    .save(&gmm)
    .unwrap();
    let wav = dir.join("v.wav");
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate: 8000,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut w = hound::WavWriter::create(&wav, spec).unwrap();
    for n in 0..400 {
        w.write_sample(((n * 37) % 2000) as i16 - 1000).unwrap();
    }
    w.finalize().unwrap();
    [npy, htk, gmm, wav]
        .iter()
        .map(|p| std::fs::read(p).unwrap())
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
        let dir = tempfile::tempdir().unwrap();
        read_all(dir.path(), &bytes);
    }

    /// Valid files with a few bytes changed or cut short: these reach the
    /// readers' deeper checks (header fields, lengths, member sizes).
    #[test]
    fn damaged_valid_files_never_panic(
        which in 0usize..4,
        edits in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..6),
        cut in proptest::option::of(any::<prop::sample::Index>()),
    ) {
        let dir = tempfile::tempdir().unwrap();
        let mut bytes = valid_files(dir.path()).swap_remove(which);
        for (at, value) in edits {
            let i = at.index(bytes.len());
            bytes[i] = value;
        }
        if let Some(cut) = cut {
            bytes.truncate(cut.index(bytes.len()));
        }
        read_all(dir.path(), &bytes);
    }
}
