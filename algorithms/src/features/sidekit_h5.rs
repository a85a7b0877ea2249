//! SIDEKIT's HDF5 feature files (the `hdf5` feature), as
//! `sidekit/frontend/io.py` writes them (`write_hdf5`) and reads them
//! (`read_hdf5`, `read_hdf5_segment`): read in all three compressions,
//! written uncompressed.

use std::path::Path;

use ::hdf5::{File, Group};
use ndarray::{Array1, Array2, ArrayView1, ArrayView2, Axis};

use super::errors::FeatureError;
use crate::h5;

/// The feature stream of a show to read (SIDEKIT's datasets `cep`, `fb`,
/// `bnf`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum SidekitStream {
    /// Cepstral coefficients (`cep`).
    #[default]
    Cep,
    /// Log filter-bank energies (`fb`).
    Fb,
    /// Bottleneck features (`bnf`).
    Bnf,
}

impl SidekitStream {
    /// The dataset's name in a show's group.
    pub fn dataset(self) -> &'static str {
        match self {
            SidekitStream::Cep => "cep",
            SidekitStream::Fb => "fb",
            SidekitStream::Bnf => "bnf",
        }
    }
}

/// What [`read_sidekit_h5`] reads of a show.
///
/// The default reads `cep`, without energy, every frame.
///
/// ```
/// use shardkit_algorithms::features::{SidekitRead, SidekitStream};
/// let read = SidekitRead::new().with_energy(true).vad_only(true).frames(Some(-2), Some(300));
/// assert_eq!(read.stream, SidekitStream::Cep);
/// assert!(read.energy && read.vad_only);
/// assert_eq!((read.start, read.stop), (Some(-2), Some(300)));
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct SidekitRead {
    /// The stream read.
    pub stream: SidekitStream,
    /// Whether the `energy` dataset is read too, as the first column (where
    /// SIDEKIT's readers put it: they stack `energy`, `cep`, `fb`, `bnf` in
    /// that order).
    pub energy: bool,
    /// Whether only the frames whose `vad` label is set are kept (SIDEKIT's
    /// `keep_all_features=False`). The show must then have a `vad` dataset.
    pub vad_only: bool,
    /// The first frame read (SIDEKIT's `read_hdf5_segment` `start`; `None`:
    /// 0). Below 0, the first frame is repeated in front, `-start` times.
    pub start: Option<i64>,
    /// The frame after the last one read (`stop`; `None`: the show's
    /// length). Past the length, the last frame is repeated at the end.
    pub stop: Option<i64>,
}

impl SidekitRead {
    /// The default: `cep`, no energy, every frame.
    pub fn new() -> Self {
        Self::default()
    }

    /// Reads `stream` instead of `cep`.
    pub fn stream(mut self, stream: SidekitStream) -> Self {
        self.stream = stream;
        self
    }

    /// Reads (`true`) the energy as the first column, or not.
    pub fn with_energy(mut self, energy: bool) -> Self {
        self.energy = energy;
        self
    }

    /// Keeps (`true`) only the frames the `vad` dataset marks as speech, or
    /// every frame.
    pub fn vad_only(mut self, vad_only: bool) -> Self {
        self.vad_only = vad_only;
        self
    }

    /// Reads frames `start..stop` only, as SIDEKIT's `read_hdf5_segment`
    /// reads them: `None` is the show's edge; frames before the first or
    /// after the last are copies of the first or the last (numpy's
    /// `pad(mode='edge')`), so that `stop - start` frames are read (before
    /// [`vad_only`](Self::vad_only) keeps the speech frames among them,
    /// their labels padded the same way).
    pub fn frames(mut self, start: Option<i64>, stop: Option<i64>) -> Self {
        self.start = start;
        self.stop = stop;
        self
    }

    /// Reads the frames of an IdMap entry's span: `span.start..span.stop`,
    /// as SIDEKIT's `StatServer` slices a segment's features
    /// (`cep[start:stop]`: the frame `stop` is not read).
    pub fn span(self, span: crate::protocol::FrameSpan) -> Self {
        // Spans come from IdMaps, whose bounds SIDEKIT stores as int32.
        let frame = |f: u64| Some(i64::try_from(f).unwrap_or(i64::MAX));
        self.frames(frame(span.start), frame(span.stop))
    }
}

/// The frames a segment read takes from a show of `len` frames, in order,
/// as SIDEKIT's `read_hdf5_segment` takes them: `start..stop` within the
/// show, the first of them repeated in front where `start < 0` and the
/// last repeated at the end where `stop > len`.
fn segment_frames(len: usize, start: Option<i64>, stop: Option<i64>) -> Result<Vec<usize>, String> {
    let len_i = i64::try_from(len).unwrap_or(i64::MAX);
    let start = start.unwrap_or(0);
    let stop = stop.unwrap_or(len_i);
    if stop < start {
        return Err(format!(
            "frames {start}..{stop}: the stop is before the start"
        ));
    }
    if stop < 0 {
        // Python would count a negative stop from the end.
        return Err(format!(
            "frames {start}..{stop}: a negative stop (SIDEKIT's slice would count it from the end)"
        ));
    }
    let before = usize::try_from(-start.min(0)).unwrap_or(usize::MAX);
    let after = usize::try_from((stop - len_i).max(0)).unwrap_or(usize::MAX);
    let lo = usize::try_from(start.max(0)).unwrap_or(usize::MAX).min(len);
    let hi = usize::try_from(stop.min(len_i)).unwrap_or(0);
    if lo >= hi && before + after > 0 {
        return Err(format!(
            "frames {start}..{stop} of a show of {len}: none of them is in the show, so there is no edge frame to repeat"
        ));
    }
    let total = before
        .checked_add(hi.saturating_sub(lo))
        .and_then(|n| n.checked_add(after))
        .filter(|&n| n <= 1 << 40)
        .ok_or_else(|| format!("frames {start}..{stop}: too many to read"))?;
    let mut frames = Vec::with_capacity(total);
    frames.extend(std::iter::repeat_n(lo, before));
    frames.extend(lo..hi);
    frames.extend(std::iter::repeat_n(hi.saturating_sub(1), after));
    Ok(frames)
}

/// How a file stores its features: its root dataset `compression`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Compression {
    /// 0, or no `compression` dataset: float32 as computed.
    None,
    /// 1: int16 with a scale and a bias (`NAME_comp`).
    Htk,
    /// 2: uint8 codes between per-column percentiles (`NAME_header`,
    /// `NAME_min_range`).
    Percentile,
}

/// Where a failure is: the file, the show, the dataset.
struct Place<'a> {
    path: &'a Path,
    show: Option<&'a str>,
}

impl Place<'_> {
    fn err(&self, dataset: Option<&str>, reason: impl Into<String>) -> FeatureError {
        FeatureError::Hdf5 {
            path: self.path.to_path_buf(),
            show: self.show.map(str::to_owned),
            dataset: dataset.map(str::to_owned),
            reason: reason.into(),
        }
    }
}

fn open(path: &Path) -> Result<File, FeatureError> {
    std::fs::metadata(path).map_err(|e| FeatureError::io(path, "read", e))?;
    let place = Place { path, show: None };
    h5::open(path).map_err(|reason| place.err(None, reason))
}

/// The root dataset `compression` (absent: none).
fn compression(file: &File, place: &Place<'_>) -> Result<Compression, FeatureError> {
    if !file.link_exists("compression") {
        return Ok(Compression::None);
    }
    let name = Some("compression");
    let ds = h5::dataset(file, "compression").map_err(|r| place.err(name, r))?;
    let values = h5::read_ints(&ds).map_err(|r| place.err(name, r))?;
    match values.as_slice() {
        [0] => Ok(Compression::None),
        [1] => Ok(Compression::Htk),
        [2] => Ok(Compression::Percentile),
        other => Err(place.err(
            name,
            format!("{other:?}, but SIDEKIT writes 0 (none), 1 (htk) or 2 (percentile)"),
        )),
    }
}

/// The group of `show`, which may hold `/` (nested groups, as h5py makes
/// them).
fn show_group(file: &File, place: &Place<'_>, show: &str) -> Result<Group, FeatureError> {
    let mut group: Group = (**file).clone();
    let mut walked = String::new();
    for part in show.split('/').filter(|p| !p.is_empty()) {
        if !group.link_exists(part) {
            let reason = if walked.is_empty() {
                "not in the file".to_owned()
            } else {
                format!("not in the file (there is no `{part}` in group `{walked}`)")
            };
            return Err(place.err(None, reason));
        }
        group = group
            .group(part)
            .map_err(|e| place.err(None, format!("`{part}` is not a group: {e}")))?;
        if !walked.is_empty() {
            walked.push('/');
        }
        walked.push_str(part);
    }
    if walked.is_empty() {
        return Err(place.err(None, "an empty show name"));
    }
    Ok(group)
}

/// The shows (segment ids) of a SIDEKIT feature file: every group, at any
/// depth, that holds a `cep`, `fb`, `bnf`, `energy` or `vad` dataset,
/// named by its path without the leading `/` (`spk1/session1` for a show
/// id with a `/`), sorted.
///
/// # Errors
///
/// [`FeatureError::Io`] if the file cannot be read, [`FeatureError::Hdf5`]
/// naming the file if it is not HDF5 or cannot be walked.
pub fn sidekit_h5_shows(path: impl AsRef<Path>) -> Result<Vec<String>, FeatureError> {
    let path = path.as_ref();
    let file = open(path)?;
    let place = Place { path, show: None };
    let mut shows = Vec::new();
    let mut pending: Vec<(String, Group)> = vec![(String::new(), (*file).clone())];
    while let Some((name, group)) = pending.pop() {
        let groups = group
            .groups()
            .map_err(|e| place.err(None, format!("cannot list `{name}`: {e}")))?;
        let members = group
            .member_names()
            .map_err(|e| place.err(None, format!("cannot list `{name}`: {e}")))?;
        let is_show = !name.is_empty()
            && ["cep", "fb", "bnf", "energy", "vad"]
                .iter()
                .any(|d| members.iter().any(|m| m == d) && group.dataset(d).is_ok());
        if is_show {
            shows.push(name.clone());
        }
        for child in groups {
            let child_name = child.name();
            let child_name = child_name.trim_start_matches('/').to_owned();
            pending.push((child_name, child));
        }
    }
    shows.sort();
    Ok(shows)
}

/// One stream of a show (`cep`, `fb`, `bnf` or `energy`) as frames ×
/// columns, decoded as SIDEKIT decodes it.
fn read_stream(
    show: &Group,
    place: &Place<'_>,
    name: &str,
    compression: Compression,
) -> Result<Array2<f32>, FeatureError> {
    let fail = |dataset: &str| {
        let dataset = dataset.to_owned();
        move |reason: String| place.err(Some(&dataset), reason)
    };
    let ds = h5::dataset(show, name).map_err(fail(name))?;
    let shape = ds.shape();
    let (frames, columns) = match shape.as_slice() {
        [n] => (*n, 1),
        [n, d] => (*n, *d),
        other => {
            return Err(place.err(
                Some(name),
                format!(
                    "shape {other:?}, but frames × columns (or frames, for one column) is expected"
                ),
            ))
        }
    };
    let values: Vec<f32> = match compression {
        Compression::None => h5::read_f32(&ds).map_err(fail(name))?,
        Compression::Htk => {
            // `NAME_comp` = [A, B]; a value is (code + B) / A, in float32.
            let comp = format!("{name}_comp");
            let ab = h5::dataset(show, &comp).map_err(fail(&comp))?;
            let ab = h5::read_f32(&ab).map_err(fail(&comp))?;
            let [a, b] = ab[..] else {
                return Err(place.err(
                    Some(&comp),
                    format!("{} values, but SIDEKIT writes 2 (scale, bias)", ab.len()),
                ));
            };
            let codes = h5::read_ints(&ds).map_err(fail(name))?;
            codes.iter().map(|&c| (c as f32 + b) / a).collect()
        }
        Compression::Percentile => {
            return percentile(show, place, name, &ds, (frames, columns));
        }
    };
    Array2::from_shape_vec((frames, columns), values)
        .map_err(|e| place.err(Some(name), format!("cannot read: {e}")))
}

/// SIDEKIT's percentile compression: uint8 codes; per column, the 0th,
/// 25th, 75th and 100th percentiles (`NAME_header`, columns × 4, each a
/// 16-bit code between `NAME_min_range` = [min, range]); codes 0..=64 lie
/// between the first two, 65..=192 the middle two, 193..=255 the last two.
fn percentile(
    show: &Group,
    place: &Place<'_>,
    name: &str,
    ds: &::hdf5::Dataset,
    (frames, columns): (usize, usize),
) -> Result<Array2<f32>, FeatureError> {
    let fail = |dataset: &str| {
        let dataset = dataset.to_owned();
        move |reason: String| place.err(Some(&dataset), reason)
    };
    let header_name = format!("{name}_header");
    let range_name = format!("{name}_min_range");
    let range_ds = h5::dataset(show, &range_name).map_err(fail(&range_name))?;
    let min_range = h5::read_f32(&range_ds).map_err(fail(&range_name))?;
    let [min, range] = min_range[..] else {
        return Err(place.err(
            Some(&range_name),
            format!(
                "{} values, but SIDEKIT writes 2 (min, range)",
                min_range.len()
            ),
        ));
    };
    let header_ds = h5::dataset(show, &header_name).map_err(fail(&header_name))?;
    let header_shape = h5::shape_2d(&header_ds).map_err(fail(&header_name))?;
    if header_shape != (columns, 4) {
        return Err(place.err(
            Some(&header_name),
            format!(
                "shape [{}, {}], but `{name}` has {columns} columns: expected [{columns}, 4]",
                header_shape.0, header_shape.1
            ),
        ));
    }
    let codes = h5::read_ints(&header_ds).map_err(fail(&header_name))?;
    // numpy: float32 header = min, then += code * range * 2^-16-ish in
    // float64, rounded back to float32.
    let header: Vec<f32> = codes
        .iter()
        .map(|&c| (f64::from(min) + c as f64 * f64::from(range) * 1.525_902_189_669_64e-5) as f32)
        .collect();
    let data = h5::read_ints(ds).map_err(fail(name))?;
    let mut out = Array2::<f32>::zeros((frames, columns));
    for ((f, c), v) in out.indexed_iter_mut() {
        let code = data[f * columns + c];
        let h = &header[c * 4..c * 4 + 4];
        let x = code as f32;
        *v = if code <= 64 {
            h[0] + (h[1] - h[0]) * x * (1.0 / 64.0)
        } else if code <= 192 {
            h[1] + (h[2] - h[1]) * (x - 64.0) * (1.0 / 128.0)
        } else {
            h[2] + (h[3] - h[2]) * (x - 192.0) * (1.0f64 / 63.0) as f32
        };
    }
    Ok(out)
}

/// Reads one show of a SIDEKIT HDF5 feature file as frames × columns: the
/// chosen stream (`cep` by default), with the energy as the first column
/// if asked, and only the speech frames of the `vad` dataset if asked.
///
/// The layout is SIDEKIT's (`sidekit/frontend/io.py`, `write_hdf5`): one
/// group per show (a show id with `/` makes nested groups), holding
/// `cep`, `fb`, `bnf` (frames × columns), `energy` and `vad` (frames; vad
/// as int8, nonzero for speech); a root dataset `compression` says how the
/// streams are stored: 0 (or absent) float32; 1 (`htk`) int16 codes with
/// `NAME_comp` = [A, B], a value being (code + B) / A; 2 (`percentile`,
/// SIDEKIT's default) uint8 codes with `NAME_header` and `NAME_min_range`.
/// All three are decoded as SIDEKIT decodes them, in float32.
///
/// [`SidekitRead::frames`] (or [`SidekitRead::span`]) reads a segment of
/// the show, as `read_hdf5_segment` does: frames `start..stop`, padded
/// with copies of the edge frames where the bounds reach beyond the show;
/// the `vad` labels are taken from the same frames.
///
/// # Errors
///
/// [`FeatureError::Io`] if the file cannot be read; [`FeatureError::Hdf5`]
/// naming the file, the show and the dataset for a file that is not HDF5,
/// a show it does not hold, a missing dataset (`vad` too, when
/// `vad_only`), a wrong type or shape, streams whose frame counts
/// differ, or segment bounds that read nothing to pad from (all beyond the
/// show), a stop before the start, or a negative stop.
///
/// # Examples
///
/// ```no_run
/// use shardkit_algorithms::features::{read_sidekit_h5, SidekitRead};
///
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let read = SidekitRead::new().with_energy(true).vad_only(true);
/// let frames = read_sidekit_h5("feat/train.h5", "spk1/session1", &read)?;
/// println!("{} speech frames of {} columns", frames.nrows(), frames.ncols());
/// # Ok(())
/// # }
/// ```
pub fn read_sidekit_h5(
    path: impl AsRef<Path>,
    show: &str,
    read: &SidekitRead,
) -> Result<Array2<f32>, FeatureError> {
    let path = path.as_ref();
    let file = open(path)?;
    let place = Place {
        path,
        show: Some(show),
    };
    let compression = compression(&file, &Place { path, show: None })?;
    let group = show_group(&file, &place, show)?;
    let stream = read.stream.dataset();
    let mut frames = read_stream(&group, &place, stream, compression)?;
    if read.energy {
        let energy = read_stream(&group, &place, "energy", compression)?;
        if energy.nrows() != frames.nrows() {
            return Err(place.err(
                Some("energy"),
                format!(
                    "{} frames, but `{stream}` has {}",
                    energy.nrows(),
                    frames.nrows()
                ),
            ));
        }
        frames = ndarray::concatenate(Axis(1), &[energy.view(), frames.view()])
            .map_err(|e| place.err(Some("energy"), format!("cannot join: {e}")))?;
    }
    let stored_frames = frames.nrows();
    let segment = (read.start.is_some() || read.stop.is_some())
        .then(|| segment_frames(frames.nrows(), read.start, read.stop))
        .transpose()
        .map_err(|reason| place.err(Some(stream), reason))?;
    if let Some(rows) = &segment {
        frames = frames.select(Axis(0), rows);
    }
    if read.vad_only {
        let ds = h5::dataset(&group, "vad").map_err(|r| place.err(Some("vad"), r))?;
        let n = match ds.shape().as_slice() {
            [n] | [n, 1] => *n,
            other => {
                return Err(place.err(
                    Some("vad"),
                    format!("shape {other:?}, but one label per frame is expected"),
                ))
            }
        };
        if n != stored_frames {
            return Err(place.err(
                Some("vad"),
                format!("{n} labels, but `{stream}` has {stored_frames} frames"),
            ));
        }
        let labels = h5::read_ints(&ds).map_err(|r| place.err(Some("vad"), r))?;
        let keep: Vec<usize> = match &segment {
            Some(rows) => (0..rows.len()).filter(|&i| labels[rows[i]] != 0).collect(),
            None => (0..n).filter(|&i| labels[i] != 0).collect(),
        };
        frames = frames.select(Axis(0), &keep);
    }
    Ok(frames)
}

/// One show of a SIDEKIT HDF5 feature file to write with
/// [`write_sidekit_h5`]: its name and its streams, each optional, all of
/// the same number of frames.
///
/// ```
/// use ndarray::{array, Array1};
/// use shardkit_algorithms::features::SidekitShow;
/// let cep = array![[1.0f32, 2.0], [3.0, 4.0]];
/// let energy = Array1::from(vec![0.5f32, 0.25]);
/// let show = SidekitShow::new("spk1/utt1").cep(cep.view()).energy(energy.view()).vad(&[true, false]);
/// assert_eq!(show.show, "spk1/utt1");
/// assert!(show.fb.is_none());
/// ```
#[derive(Clone, Debug, Default)]
#[non_exhaustive]
pub struct SidekitShow<'a> {
    /// The show's name (its group; a `/` makes nested groups).
    pub show: &'a str,
    /// Cepstral coefficients, frames × columns (`cep`).
    pub cep: Option<ArrayView2<'a, f32>>,
    /// Log filter-bank energies, frames × columns (`fb`).
    pub fb: Option<ArrayView2<'a, f32>>,
    /// Bottleneck features, frames × columns (`bnf`).
    pub bnf: Option<ArrayView2<'a, f32>>,
    /// One energy per frame (`energy`).
    pub energy: Option<ArrayView1<'a, f32>>,
    /// Speech (`true`) or not, per frame (`vad`).
    pub vad: Option<&'a [bool]>,
}

impl<'a> SidekitShow<'a> {
    /// A show named `show`, with no stream yet.
    pub fn new(show: &'a str) -> Self {
        Self {
            show,
            ..Self::default()
        }
    }

    /// Its cepstral coefficients.
    pub fn cep(mut self, cep: ArrayView2<'a, f32>) -> Self {
        self.cep = Some(cep);
        self
    }

    /// Its filter-bank energies.
    pub fn fb(mut self, fb: ArrayView2<'a, f32>) -> Self {
        self.fb = Some(fb);
        self
    }

    /// Its bottleneck features.
    pub fn bnf(mut self, bnf: ArrayView2<'a, f32>) -> Self {
        self.bnf = Some(bnf);
        self
    }

    /// Its energy per frame.
    pub fn energy(mut self, energy: ArrayView1<'a, f32>) -> Self {
        self.energy = Some(energy);
        self
    }

    /// Its speech labels per frame.
    pub fn vad(mut self, vad: &'a [bool]) -> Self {
        self.vad = Some(vad);
        self
    }

    /// The number of frames of its streams, checked to agree.
    fn frames(&self, place: &Place<'_>) -> Result<usize, FeatureError> {
        let counts = [
            ("cep", self.cep.map(|x| x.nrows())),
            ("fb", self.fb.map(|x| x.nrows())),
            ("bnf", self.bnf.map(|x| x.nrows())),
            ("energy", self.energy.map(|x| x.len())),
            ("vad", self.vad.map(<[bool]>::len)),
        ];
        let mut first: Option<(&str, usize)> = None;
        for (name, n) in counts {
            let Some(n) = n else { continue };
            match first {
                None => first = Some((name, n)),
                Some((other, m)) if m != n => {
                    return Err(place.err(
                        Some(name),
                        format!("{n} frames, but `{other}` has {m}: a show's streams have one row per frame"),
                    ))
                }
                Some(_) => {}
            }
        }
        first
            .map(|(_, n)| n)
            .ok_or_else(|| place.err(None, "no stream to write (cep, fb, bnf, energy or vad)"))
    }
}

/// The mean and standard deviation (population, numpy's `std`) of each
/// column over the speech frames, computed in f64 and stored as float32,
/// as SIDEKIT's FeaturesExtractor stores `NAME_mean` and `NAME_std` (NaN
/// where no frame is speech, as numpy gives).
fn speech_moments(x: ArrayView2<'_, f32>, speech: &[usize]) -> (Array1<f32>, Array1<f32>) {
    let n = speech.len() as f64;
    let mut mean = Array1::<f32>::zeros(x.ncols());
    let mut std = Array1::<f32>::zeros(x.ncols());
    for (c, column) in x.columns().into_iter().enumerate() {
        let m = speech.iter().map(|&t| f64::from(column[t])).sum::<f64>() / n;
        let v = speech
            .iter()
            .map(|&t| (f64::from(column[t]) - m).powi(2))
            .sum::<f64>()
            / n;
        mean[c] = m as f32;
        std[c] = v.sqrt() as f32;
    }
    (mean, std)
}

/// Writes shows in SIDEKIT's HDF5 feature layout, uncompressed (SIDEKIT's
/// `write_hdf5(..., compression='none')`), atomically: a root scalar
/// `compression` = 0, and per show a group holding, for each stream given,
/// `cep`, `fb`, `bnf` (frames × columns, float32) with `NAME_mean` and
/// `NAME_std` (per column, over the speech frames: every frame without
/// `vad`), `energy` (float32 per frame) with scalar `energy_mean` and
/// `energy_std`, and `vad` (int8, 1 for speech). Datasets are gzip'ed with
/// Fletcher-32 checksums and resizable, as SIDEKIT's h5py calls make them.
/// SIDEKIT's `read_hdf5_segment` (FeaturesServer) and
/// [`read_sidekit_h5`] read the file; SIDEKIT's `htk` and `percentile`
/// compressions (lossy) are not written.
///
/// # Errors
///
/// [`FeatureError::Hdf5`] naming the file (and the show, and the dataset)
/// for no show, an empty or repeated show name, a show with no stream or
/// with streams of different frame counts, or a failure of the HDF5
/// library; [`FeatureError::Io`] if the file cannot be written (a file
/// already at `path` is then left as it was).
///
/// # Examples
///
/// ```no_run
/// use ndarray::Array2;
/// use shardkit_algorithms::features::{read_sidekit_h5, write_sidekit_h5, SidekitRead, SidekitShow};
///
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let cep = Array2::<f32>::zeros((300, 20));
/// write_sidekit_h5("feat/spk1_utt1.h5", &[SidekitShow::new("spk1_utt1").cep(cep.view())])?;
/// assert_eq!(read_sidekit_h5("feat/spk1_utt1.h5", "spk1_utt1", &SidekitRead::new())?, cep);
/// # Ok(())
/// # }
/// ```
pub fn write_sidekit_h5(
    path: impl AsRef<Path>,
    shows: &[SidekitShow<'_>],
) -> Result<(), FeatureError> {
    let path = path.as_ref();
    let file_place = Place { path, show: None };
    if shows.is_empty() {
        return Err(file_place.err(None, "no show to write"));
    }
    let mut seen = std::collections::HashSet::with_capacity(shows.len());
    for show in shows {
        let place = Place {
            path,
            show: Some(show.show),
        };
        if show.show.split('/').all(str::is_empty) {
            return Err(place.err(None, "an empty show name"));
        }
        if !seen.insert(show.show.trim_matches('/')) {
            return Err(place.err(None, "the show is given twice"));
        }
        show.frames(&place)?;
    }
    h5::write_file_atomic(
        path,
        |file| {
            h5::write_scalar(file, "compression", &0i64)
                .map_err(|r| file_place.err(Some("compression"), r))?;
            shows
                .iter()
                .try_for_each(|show| write_show(file, path, show))
        },
        |reason| file_place.err(None, reason),
        |e| FeatureError::io(path, "write", e),
    )
}

/// One show's group and datasets.
fn write_show(file: &File, path: &Path, show: &SidekitShow<'_>) -> Result<(), FeatureError> {
    let place = Place {
        path,
        show: Some(show.show),
    };
    let frames = show.frames(&place)?;
    let name = show.show.trim_matches('/');
    let group = file
        .create_group(name)
        .map_err(|e| place.err(None, format!("cannot create the group: {e}")))?;
    let wrote = |dataset: &str, r: Result<(), String>| r.map_err(|r| place.err(Some(dataset), r));
    let speech: Vec<usize> = match show.vad {
        Some(vad) => (0..frames).filter(|&t| vad[t]).collect(),
        None => (0..frames).collect(),
    };
    for (stream, x) in [("cep", show.cep), ("fb", show.fb), ("bnf", show.bnf)] {
        let Some(x) = x else { continue };
        wrote(stream, h5::write_array(&group, stream, x))?;
        let (mean, std) = speech_moments(x, &speech);
        let mean_name = format!("{stream}_mean");
        wrote(&mean_name, h5::write_array(&group, &mean_name, mean.view()))?;
        let std_name = format!("{stream}_std");
        wrote(&std_name, h5::write_array(&group, &std_name, std.view()))?;
    }
    if let Some(energy) = show.energy {
        wrote("energy", h5::write_array(&group, "energy", energy))?;
        let column = energy.insert_axis(Axis(1));
        let (mean, std) = speech_moments(column, &speech);
        wrote(
            "energy_mean",
            h5::write_scalar(&group, "energy_mean", &mean[0]),
        )?;
        wrote(
            "energy_std",
            h5::write_scalar(&group, "energy_std", &std[0]),
        )?;
    }
    if let Some(vad) = show.vad {
        let labels: Array1<i8> = vad.iter().map(|&s| i8::from(s)).collect();
        wrote("vad", h5::write_array(&group, "vad", labels.view()))?;
    }
    Ok(())
}
