//! [`Table`]: rows × columns of `f64` in parts (files, or matrices in
//! memory), read from CSV or `.npy` and checked once, where they are read.

use std::path::Path;

use ndarray::{s, Array1, Array2, ArrayView2, CowArray, Ix2};

use super::errors::TableError;
use crate::features::{read_npy_float, NpyMatrix};

/// The largest magnitude a [`Table`] accepts by default: 2^30 (about
/// 1.07e9).
///
/// shardkit's statistics sum values, their products and their squares over
/// every row exactly (in 192-bit fixed point below 2^84), which is what
/// makes their bits independent of threads and ranks; the limit keeps the
/// sums of squares of millions of rows in that range. Larger values are
/// almost always a unit to rescale; [`TableOptions::max_magnitude`] raises
/// the limit for short tables.
pub const MAX_MAGNITUDE: f64 = (1u64 << 30) as f64;

/// The largest limit [`TableOptions::max_magnitude`] accepts: 2^35. A
/// chunk of [`CHUNK_ROWS`] = 2^12 rows sums products of differences of at
/// most twice the limit, `2^12 · (2 · 2^35)^2 = 2^84`, the bound of
/// shardkit's exact sums.
pub const MOST_MAGNITUDE: f64 = (1u64 << 35) as f64;

/// Rows per chunk of a pass. Every pass cuts each part into chunks of this
/// many rows from the part's first row (the last chunk shorter), computes
/// a chunk's partial result in `f64`, and adds the chunks' results exactly:
/// so a result depends only on the parts, never on the number of threads
/// or ranks, nor on which rank holds which part.
pub const CHUNK_ROWS: usize = 4096;

/// Whether a CSV file starts with a line of column names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Header {
    /// A header if any cell of the first line is not a number (the
    /// default).
    #[default]
    Auto,
    /// The first line names the columns.
    Present,
    /// Every line is data.
    Absent,
}

/// How [`Table::read`] reads files, and what it accepts.
#[derive(Debug, Clone, PartialEq)]
pub struct TableOptions {
    header: Header,
    delimiter: u8,
    max_magnitude: f64,
}

impl Default for TableOptions {
    fn default() -> Self {
        TableOptions {
            header: Header::Auto,
            delimiter: b',',
            max_magnitude: MAX_MAGNITUDE,
        }
    }
}

impl TableOptions {
    /// Defaults: header detected, comma-separated, magnitudes up to
    /// [`MAX_MAGNITUDE`].
    pub fn new() -> Self {
        Self::default()
    }

    /// Whether CSV files have a header line.
    pub fn header(mut self, header: Header) -> Self {
        self.header = header;
        self
    }

    /// The CSV field separator (`b','` by default; `b'\t'`, `b';'`, `b' '`).
    pub fn delimiter(mut self, delimiter: u8) -> Self {
        self.delimiter = delimiter;
        self
    }

    /// The largest magnitude accepted ([`MAX_MAGNITUDE`] by default), at
    /// most [`MOST_MAGNITUDE`] = 2^35: above it, the exact sum of a chunk's
    /// squares could leave the range shardkit sums exactly (reading a table
    /// with a larger limit is an error, [`TableError::Limit`]).
    pub fn max_magnitude(mut self, limit: f64) -> Self {
        self.max_magnitude = limit;
        self
    }
}

/// One part of a table: its name (for errors) and its rows.
#[derive(Debug, Clone)]
struct Part<'a> {
    name: String,
    rows: CowArray<'a, f64, Ix2>,
}

/// Rows × columns of `f64`, in one or more *parts* (the files it was read
/// from, or matrices in memory), checked once when built: every value
/// finite and within [`TableOptions::max_magnitude`], every part with the
/// same columns.
///
/// The statistics of this module, the linear models and naive Bayes all
/// take a `Table`. A pass over it cuts each part into chunks of
/// [`CHUNK_ROWS`] rows and adds the chunks' results exactly, so the result
/// has the same bits on any number of threads or MPI ranks.
///
/// # Same or local data
///
/// Under MPI, a table is by default the *same* on every rank (each rank
/// read the same files), and the ranks share the chunks out. A table
/// marked [`local`](Table::local) is this rank's own share (daal4py's SPMD
/// mode: rank `r` reads `file{r}.csv`), and a statistic covers every
/// rank's rows, in rank order, on every rank. A rank may hold no rows.
/// Because chunks are cut per part, a local table gives the bits of one
/// process holding every rank's parts in rank order — the same files on
/// one rank or spread over four give the same result.
///
/// ```
/// use ndarray::array;
/// use shardkit_algorithms::stats::Table;
///
/// let x = array![[1.0, 2.0], [3.0, 4.0], [5.0, 9.0]];
/// let table = Table::rows(x.view())?;
/// assert_eq!((table.nrows(), table.ncols()), (3, 2));
///
/// // A bad value is refused where the table is built, by row and column.
/// let bad = array![[1.0, f64::NAN]];
/// let err = Table::rows(bad.view()).unwrap_err();
/// assert_eq!(err.to_string(), "in-memory rows: row 1, column 2: NaN is not a finite number");
/// # Ok::<(), shardkit_algorithms::stats::TableError>(())
/// ```
#[derive(Debug, Clone)]
pub struct Table<'a> {
    parts: Vec<Part<'a>>,
    cols: Option<usize>,
    names: Option<Vec<String>>,
    local: bool,
}

impl<'a> Table<'a> {
    /// One matrix in memory, borrowed, with the default limits.
    ///
    /// # Errors
    ///
    /// [`TableError::NotFinite`] or [`TableError::TooLarge`], naming row and
    /// column.
    pub fn rows(rows: ArrayView2<'a, f64>) -> Result<Self, TableError> {
        Self::parts(&[rows])
    }

    /// Several matrices in memory, each a part, with the default limits.
    ///
    /// # Errors
    ///
    /// As [`rows`](Table::rows), naming the part (`in-memory part 2`), and
    /// [`TableError::Columns`] when the parts differ in width.
    pub fn parts(parts: &[ArrayView2<'a, f64>]) -> Result<Self, TableError> {
        Self::parts_with(parts, &TableOptions::default())
    }

    /// As [`parts`](Table::parts), with `options`' limits.
    ///
    /// # Errors
    ///
    /// As [`parts`](Table::parts).
    pub fn parts_with(
        parts: &[ArrayView2<'a, f64>],
        options: &TableOptions,
    ) -> Result<Self, TableError> {
        let one = parts.len() == 1;
        let mut table = Table::empty_of(None);
        for (i, rows) in parts.iter().enumerate() {
            let name = if one {
                "in-memory rows".to_string()
            } else {
                format!("in-memory part {}", i + 1)
            };
            check_values(&name, rows.view(), options.max_magnitude)?;
            table.push(name, CowArray::from(*rows))?;
        }
        Ok(table)
    }

    /// This rank's share of a local table when it holds no rows: `cols`
    /// columns (or `None` to take the other ranks' width).
    pub fn empty(cols: Option<usize>) -> Self {
        Table::empty_of(cols)
    }

    fn empty_of(cols: Option<usize>) -> Self {
        Table {
            parts: Vec::new(),
            cols,
            names: None,
            local: false,
        }
    }

    fn push(&mut self, name: String, rows: CowArray<'a, f64, Ix2>) -> Result<(), TableError> {
        let found = rows.ncols();
        match self.cols {
            Some(expected) if expected != found => {
                let first = self
                    .parts
                    .first()
                    .map_or_else(|| "the table".to_string(), |p| p.name.clone());
                return Err(TableError::Columns {
                    name,
                    found,
                    first,
                    expected,
                });
            }
            _ => self.cols = Some(found),
        }
        let rows = if rows.is_standard_layout() {
            rows
        } else {
            CowArray::from(rows.as_standard_layout().into_owned())
        };
        self.parts.push(Part { name, rows });
        Ok(())
    }

    /// Marks this table as this rank's own share of the data (see
    /// [Same or local data](Table#same-or-local-data)). On one process it
    /// changes nothing.
    pub fn local(mut self) -> Self {
        self.local = true;
        self
    }

    /// Whether the table is this rank's own share.
    pub fn is_local(&self) -> bool {
        self.local
    }

    /// Rows held here (on this rank, for a local table).
    pub fn nrows(&self) -> usize {
        self.parts.iter().map(|p| p.rows.nrows()).sum()
    }

    /// Columns (0 for an empty table of unknown width).
    pub fn ncols(&self) -> usize {
        self.cols.unwrap_or(0)
    }

    /// The width, if known (a part, or [`Table::empty`] with a width).
    pub(crate) fn known_cols(&self) -> Option<usize> {
        self.cols
    }

    /// The column names of the first CSV file's header, if it had one.
    pub fn column_names(&self) -> Option<&[String]> {
        self.names.as_deref()
    }

    /// The number of parts.
    pub fn num_parts(&self) -> usize {
        self.parts.len()
    }

    /// Part `i`'s rows.
    ///
    /// # Panics
    ///
    /// If `i` is not below [`num_parts`](Table::num_parts).
    pub fn part(&self, i: usize) -> ArrayView2<'_, f64> {
        self.parts[i].rows.view()
    }

    /// Part `i`'s name: its file, or `in-memory part i`.
    ///
    /// # Panics
    ///
    /// If `i` is not below [`num_parts`](Table::num_parts).
    pub fn part_name(&self, i: usize) -> &str {
        &self.parts[i].name
    }

    /// The first row held here, if any.
    pub(crate) fn first_row(&self) -> Option<Array1<f64>> {
        self.parts
            .iter()
            .find(|p| p.rows.nrows() > 0)
            .map(|p| p.rows.row(0).to_owned())
    }

    /// The chunks of a pass: each part cut into [`CHUNK_ROWS`] rows from
    /// its first.
    pub(crate) fn chunks(&self) -> Vec<Chunk> {
        let mut chunks = Vec::new();
        for (part, p) in self.parts.iter().enumerate() {
            let n = p.rows.nrows();
            let mut start = 0;
            while start < n {
                let end = (start + CHUNK_ROWS).min(n);
                chunks.push(Chunk { part, start, end });
                start = end;
            }
        }
        chunks
    }

    /// A chunk's rows.
    pub(crate) fn chunk(&self, c: &Chunk) -> ArrayView2<'_, f64> {
        self.parts[c.part].rows.slice(s![c.start..c.end, ..])
    }

    /// All rows held here, as one matrix (borrowed when there is one part).
    pub fn to_array(&self) -> CowArray<'_, f64, Ix2> {
        match self.parts.as_slice() {
            [one] => CowArray::from(one.rows.view()),
            parts => {
                let views: Vec<_> = parts.iter().map(|p| p.rows.view()).collect();
                CowArray::from(if views.is_empty() {
                    Array2::zeros((0, self.ncols()))
                } else {
                    ndarray::concatenate(ndarray::Axis(0), &views)
                        .expect("parts of a table have equal widths")
                })
            }
        }
    }
}

impl Table<'static> {
    /// Reads files, each a part, in the order given: `.csv` or `.txt`
    /// (numbers separated by [`TableOptions::delimiter`], lines starting
    /// with `#` skipped, an optional header line), or `.npy` (2-D,
    /// float32 or float64). Each value is checked as it is read.
    ///
    /// ```
    /// use shardkit_algorithms::stats::{Table, TableOptions};
    ///
    /// let dir = tempfile::tempdir()?;
    /// let path = dir.path().join("file0.csv");
    /// std::fs::write(&path, "height,weight\n1.5,60\n1.8,x\n")?;
    /// let err = Table::read(&[&path], &TableOptions::new()).unwrap_err();
    /// assert!(err.to_string().ends_with("file0.csv: line 3, column 2: \"x\" is not a number"));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    ///
    /// A [`TableError`] naming the file, and for a bad value its line (CSV)
    /// or row, and column.
    pub fn read(
        paths: &[impl AsRef<Path>],
        options: &TableOptions,
    ) -> Result<Table<'static>, TableError> {
        let mut table = Table::empty_of(None);
        for path in paths {
            let path = path.as_ref();
            let (rows, names) = read_file(path, options)?;
            if table.names.is_none() {
                table.names = names;
            }
            table.push(path.display().to_string(), CowArray::from(rows))?;
        }
        Ok(table)
    }

    /// One matrix, owned.
    ///
    /// # Errors
    ///
    /// As [`Table::rows`].
    pub fn from_array(rows: Array2<f64>) -> Result<Table<'static>, TableError> {
        check_values("in-memory rows", rows.view(), MAX_MAGNITUDE)?;
        let mut table = Table::empty_of(None);
        table.push("in-memory rows".to_string(), CowArray::from(rows))?;
        Ok(table)
    }
}

/// A run of rows of one part: what one block of a pass covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct Chunk {
    pub(crate) part: usize,
    pub(crate) start: usize,
    pub(crate) end: usize,
}

/// Reads one file by its extension; returns its rows and, for a CSV file
/// with a header, the column names.
fn read_file(
    path: &Path,
    options: &TableOptions,
) -> Result<(Array2<f64>, Option<Vec<String>>), TableError> {
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase);
    let (rows, names) = match ext.as_deref() {
        Some("npy") => {
            let rows = match read_npy_float(path)? {
                NpyMatrix::F64(a) => a,
                NpyMatrix::F32(a) => a.mapv(f64::from),
            };
            (rows, None)
        }
        Some("csv" | "txt") => read_csv(path, options)?,
        _ => {
            return Err(TableError::Format {
                path: path.to_path_buf(),
            })
        }
    };
    let name = path.display().to_string();
    if rows.nrows() == 0 {
        return Err(TableError::Empty { name });
    }
    check_values(&name, rows.view(), options.max_magnitude)?;
    Ok((rows, names))
}

fn read_csv(
    path: &Path,
    options: &TableOptions,
) -> Result<(Array2<f64>, Option<Vec<String>>), TableError> {
    let file = std::fs::File::open(path).map_err(|source| TableError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .comment(Some(b'#'))
        .delimiter(options.delimiter)
        .trim(csv::Trim::All)
        .from_reader(std::io::BufReader::with_capacity(1 << 20, file));
    let csv_error = |e: csv::Error| {
        let message = e.to_string();
        match e.into_kind() {
            csv::ErrorKind::Io(source) => TableError::Io {
                path: path.to_path_buf(),
                source,
            },
            _ => TableError::Csv {
                path: path.to_path_buf(),
                message,
            },
        }
    };
    let mut values = Vec::new();
    let mut names = None;
    let mut cols = None;
    let mut record = csv::StringRecord::new();
    let mut first = true;
    while reader.read_record(&mut record).map_err(csv_error)? {
        let line = record.position().map_or(0, |p| p.line());
        if record.len() == 1 && record[0].is_empty() {
            continue; // a blank line
        }
        if first {
            first = false;
            let numeric = record.iter().all(|c| parse_cell(c).is_some());
            let header = match options.header {
                Header::Present => true,
                Header::Absent => false,
                Header::Auto => !numeric,
            };
            cols = Some(record.len());
            if header {
                names = Some(record.iter().map(str::to_string).collect());
                continue;
            }
        }
        let expected = cols.expect("set by the first line");
        if record.len() != expected {
            return Err(TableError::Ragged {
                path: path.to_path_buf(),
                line,
                found: record.len(),
                expected,
            });
        }
        for (j, cell) in record.iter().enumerate() {
            let value = parse_cell(cell).ok_or_else(|| TableError::Cell {
                path: path.to_path_buf(),
                line,
                column: j + 1,
                cell: cell.to_string(),
            })?;
            values.push(value);
        }
    }
    let cols = cols.unwrap_or(0);
    let rows = values.len().checked_div(cols).unwrap_or(0);
    let array = Array2::from_shape_vec((rows, cols), values).expect("rows × cols values were read");
    Ok((array, names))
}

/// A cell as a number: Rust's float syntax (which takes `1e-3`, `inf`,
/// `NaN`; the value checks refuse the last two).
fn parse_cell(cell: &str) -> Option<f64> {
    cell.parse::<f64>().ok()
}

/// Checks every value of `rows`: finite and within `limit`.
fn check_values(name: &str, rows: ArrayView2<'_, f64>, limit: f64) -> Result<(), TableError> {
    if !(limit > 0.0 && limit <= MOST_MAGNITUDE) {
        return Err(TableError::Limit { limit });
    }
    // A fast scan first (a maximum of magnitudes, NaN-propagating), then
    // the first bad value found again in row order.
    let mut worst = 0.0f64;
    let mut nan = false;
    for &v in rows.iter() {
        nan |= v.is_nan();
        worst = worst.max(v.abs());
    }
    if !nan && worst <= limit {
        return Ok(());
    }
    for ((i, j), &value) in rows.indexed_iter() {
        let (row, column) = (i + 1, j + 1);
        if !value.is_finite() {
            return Err(TableError::NotFinite {
                name: name.to_string(),
                row,
                column,
                value,
            });
        }
        if value.abs() > limit {
            return Err(TableError::TooLarge {
                name: name.to_string(),
                row,
                column,
                value,
                limit,
            });
        }
    }
    Ok(())
}
