//! Evaluation protocols as SIDEKIT and the BOSARIS toolkit write them:
//! [`IdMap`] (models or speakers ↔ segments), [`Ndx`] (the trials to
//! score), [`Key`] (target and non-target trials) and [`Scores`] (a score
//! per trial), read from and written to their text forms; and [`Cohort`],
//! the list of impostor ids of score normalisation
//! ([`crate::backend::ScoreNorm`]).
//!
//! ```
//! use shardkit_algorithms::metrics::DetCurve;
//! use shardkit_algorithms::protocol::{Key, Scores};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let dir = std::env::temp_dir().join(format!("shardkit-protocol-doc-{}", std::process::id()));
//! std::fs::create_dir_all(&dir)?;
//! std::fs::write(
//!     dir.join("trials.key"),
//!     "spk1 seg1 target\nspk1 seg2 nontarget\nspk2 seg1 nontarget\nspk2 seg2 target\n",
//! )?;
//! std::fs::write(
//!     dir.join("system.scores"),
//!     "spk2 seg2 2.5\nspk1 seg1 1.25\nspk2 seg1 -0.5\nspk1 seg2 0.75\n",
//! )?;
//! let key = Key::read_txt(dir.join("trials.key"))?;
//! let scores = Scores::read_txt(dir.join("system.scores"))?;
//! // Scores are found by (model, segment), whatever the lines' order.
//! assert_eq!(scores.get("spk1", "seg2"), Some(0.75));
//! let (targets, nontargets) = scores.target_nontarget(&key)?;
//! assert_eq!(targets, [1.25, 2.5]);
//! assert_eq!(nontargets, [0.75, -0.5]);
//! assert_eq!(DetCurve::new(&targets, &nontargets)?.eer().eer, 0.0);
//! // Only the scores of the key's trials, written as SIDEKIT writes them.
//! scores.align(&key.to_ndx())?.write_txt(dir.join("aligned.scores"))?;
//! assert_eq!(
//!     std::fs::read_to_string(dir.join("aligned.scores"))?,
//!     "spk1 seg1 1.25\nspk1 seg2 0.75\nspk2 seg1 -0.5\nspk2 seg2 2.5\n",
//! );
//! # std::fs::remove_dir_all(&dir)?;
//! # Ok(())
//! # }
//! ```
//!
//! ## Text forms
//!
//! One entry per line, fields separated by white space (spaces or tabs;
//! `\r\n` line ends are accepted); blank lines are skipped but counted in
//! line numbers. Identifiers are single fields: an identifier that is empty
//! or holds white space cannot be built in memory either.
//!
//! | type | line | written in the order |
//! |---|---|---|
//! | [`IdMap`] | `left right` or `left right start stop` | the entries' order |
//! | [`Ndx`] | `model segment` | models sorted, then their segments sorted |
//! | [`Key`] | `model segment target` or `model segment nontarget` | models sorted; for each, target then non-target segments, sorted |
//! | [`Scores`] | `model segment score` | models sorted, then their segments sorted |
//! | [`Cohort`] | `id` (a plain id list: SIDEKIT has no cohort file type) | the order given |
//!
//! These are the layouts of SIDEKIT's `read_txt` / `write_txt`
//! (`sidekit/bosaris/idmap.py`, `ndx.py`, `key.py`, `scores.py`); scores
//! are printed as Python prints a `float`, and `IdMap` reads SIDEKIT's
//! `None None` for missing bounds. Where SIDEKIT is silent, this module is
//! strict ([`ProtocolError`], each naming the file and line):
//!
//! - a line with the wrong number of fields is an error (SIDEKIT ignores
//!   extra fields of `Ndx` and `Scores` lines);
//! - a key word other than `target` or `nontarget` is an error (SIDEKIT
//!   drops the trial);
//! - a trial listed twice is an error (SIDEKIT keeps one of them), as is an
//!   `IdMap` entry repeated exactly or a cohort id listed twice;
//! - a score that is not a finite number is an error;
//! - a file with no entry is an error ([`ProtocolError::Empty`]): an empty
//!   list is almost always the wrong file. Objects built in memory may be
//!   empty, but writing one is refused ([`ProtocolError::EmptyWrite`]), so
//!   every file written reads back.
//!
//! Models and segments of [`Ndx`], [`Key`] and [`Scores`] are kept sorted
//! and unique (as `numpy.unique` leaves SIDEKIT's `modelset` and `segset`);
//! a score is found by its (model, segment), never by a position. Unlike
//! SIDEKIT's dense matrices, trials are stored sparsely, so a list where
//! every test segment is its own model (VoxCeleb's lists) costs its trials,
//! not models × segments; the dense masks and score matrix
//! ([`Ndx::trial_mask`], [`Scores::score_matrix`]…) are built on request. A trial
//! of an [`Ndx`] or a [`Key`] with no score is an error naming it
//! ([`ProtocolError::MissingScore`]). Files are written atomically
//! ([`shardkit::write_atomic`]).
//!
//! ## HDF5 forms
//!
//! With the crate's `hdf5` feature (which needs the system's HDF5 library,
//! `libhdf5-dev`), each type also has `read_hdf5` and `write_hdf5`
//! (`IdMap::read_hdf5`, `Ndx::write_hdf5`…) for the files SIDEKIT's
//! `write` methods create and its `read` methods read
//! (`sidekit/bosaris/idmap.py`, `ndx.py`, `key.py`, `scores.py`):
//!
//! | type | dataset | element type, shape |
//! |---|---|---|
//! | [`IdMap`] | `leftids`, `rightids` | strings, (entries) |
//! | | `start`, `stop` | int32, (entries); -1 in both for no bounds |
//! | [`Ndx`] | `modelset`, `segset` | strings, (models), (segments) |
//! | | `trial_mask` | int8, (models, segments): 1 a trial, 0 none |
//! | [`Key`] | `modelset`, `segset` | strings |
//! | | `trial_mask` | int8, (models, segments): 1 target, -1 non-target, 0 none |
//! | [`Scores`] | `modelset`, `segset` | strings |
//! | | `score_mask` | int8, (models, segments): 1 scored, 0 not |
//! | | `scores` | float64, (models, segments); 0 where not scored |
//!
//! Strings are written as numpy's `astype('S')` writes them: fixed-length,
//! as wide as the longest, null-padded, ASCII (UTF-8 where an identifier
//! is not ASCII, which SIDEKIT can neither write nor read). Every dataset is
//! resizable (`maxshape=(None,)`), chunked as h5py chunks such a dataset,
//! gzip-compressed (level 4,
//! h5py's default) with Fletcher-32 checksums, as SIDEKIT's
//! `create_dataset` calls ask. Files are written atomically too. Reading
//! also accepts variable-length strings, integers of any width for masks
//! and bounds, and float32 scores; it is as strict as the text readers
//! (mask values other than those above, an identifier listed twice or a
//! non-finite score inside the mask are errors), and every error names the
//! file and the dataset (`ProtocolError::Hdf5`, or a
//! [`Location::Element`]).
//!
//! BOSARIS's MATLAB toolkit (and SIDEKIT's `write_matlab`/`read_matlab`)
//! names the identifiers of Ndx, Key and Scores files `ID/row_ids` and
//! `ID/column_ids` (with the same `trial_mask`, `score_mask`, `scores`;
//! masks may be unsigned): `Ndx::read_hdf5`, `Key::read_hdf5` and
//! `Scores::read_hdf5` read that form too, taking a file without
//! `modelset` but with `ID/row_ids` for one, and `Scores::write_hdf5_bosaris`
//! writes it. (BOSARIS's old Key form, `target_mask` and
//! `nontarget_mask`, is not read.)
#![warn(missing_docs)]

mod cohort;
mod errors;
#[cfg(feature = "hdf5")]
mod hdf5;
mod idmap;
mod key;
mod ndx;
mod scores;
mod table;
mod text;

pub use cohort::Cohort;
pub use errors::{DatasetElement, Location, ProtocolError};
pub use idmap::{FrameSpan, IdMap, IdMapEntry};
pub use key::{Key, TrialKind};
pub use ndx::Ndx;
pub use scores::Scores;
