//! The pass of every normalisation: for each model (or segment), the mean
//! and standard deviation of its scores against the cohort.

use serde::{Deserialize, Serialize};
use shardkit::parallelize;

use super::errors::NormError;
use crate::protocol::{Cohort, Scores};

/// The mean and the standard deviation of one model's (or segment's)
/// cohort scores.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub(super) struct Stats {
    mean: f64,
    std: f64,
}

impl Stats {
    /// `(s − μ) / σ`.
    pub(super) fn apply(self, s: f64) -> f64 {
        (s - self.mean) / self.std
    }
}

/// Which axis of a cohort table the ids whose statistics are wanted lie
/// on; the cohort lies on the other.
#[derive(Debug, Clone, Copy)]
enum Axis {
    /// The ids are models (rows), the cohort ids segments.
    Models,
    /// The ids are segments (columns), the cohort ids models.
    Segments,
}

/// One side of a normalisation: the table, the cohort, and how the cohort
/// scores of an id are turned into its statistics.
pub(super) struct Side<'a> {
    table: &'a Scores,
    /// The table's [`ScoreNorm`](super::ScoreNorm) field, for errors.
    name: &'static str,
    /// What the ids are, for errors: `"trial model"`…
    kind: &'static str,
    axis: Axis,
    /// Each cohort id and its index on the table's other axis, if it has
    /// one.
    members: Vec<(&'a str, Option<usize>)>,
    /// Statistics of the cohort ids (in the cohort's order) that normalise
    /// each cohort score before it is used (ZT-norm's Z-normalised
    /// T-norm cohort).
    pre: Option<&'a [Stats]>,
    /// Leave out the cohort id equal to the id itself.
    skip_self: bool,
    /// Keep only the `top_n` highest cohort scores.
    top_n: Option<usize>,
}

impl<'a> Side<'a> {
    /// Statistics of models (rows of `table`) over the cohort's segments.
    pub(super) fn models(
        table: &'a Scores,
        name: &'static str,
        kind: &'static str,
        cohort: &'a Cohort,
    ) -> Self {
        let members = cohort
            .ids()
            .iter()
            .map(|c| (c.as_str(), table.segment_index(c)))
            .collect();
        Side::new(table, name, kind, Axis::Models, members)
    }

    /// Statistics of segments (columns of `table`) over the cohort's
    /// models.
    pub(super) fn segments(
        table: &'a Scores,
        name: &'static str,
        kind: &'static str,
        cohort: &'a Cohort,
    ) -> Self {
        let members = cohort
            .ids()
            .iter()
            .map(|c| (c.as_str(), table.model_index(c)))
            .collect();
        Side::new(table, name, kind, Axis::Segments, members)
    }

    fn new(
        table: &'a Scores,
        name: &'static str,
        kind: &'static str,
        axis: Axis,
        members: Vec<(&'a str, Option<usize>)>,
    ) -> Self {
        Side {
            table,
            name,
            kind,
            axis,
            members,
            pre: None,
            skip_self: false,
            top_n: None,
        }
    }

    /// Keeps only the `n` highest cohort scores of each id.
    pub(super) fn top(mut self, n: Option<usize>) -> Self {
        self.top_n = n;
        self
    }

    /// Normalises the score of the `j`-th cohort id with `pre[j]` first.
    pub(super) fn normalised_by(mut self, pre: &'a [Stats]) -> Self {
        self.pre = Some(pre);
        self
    }

    /// Leaves out the score of an id against itself.
    pub(super) fn without_self(mut self) -> Self {
        self.skip_self = true;
        self
    }

    /// The statistics of `id`, its cohort scores gathered into `values`.
    fn stats_of(&self, id: &str, values: &mut Vec<f64>) -> Result<Stats, NormError> {
        let at = match self.axis {
            Axis::Models => self.table.model_index(id),
            Axis::Segments => self.table.segment_index(id),
        }
        .ok_or_else(|| NormError::MissingId {
            table: self.name,
            kind: self.kind,
            id: id.to_owned(),
        })?;
        values.clear();
        for (j, &(member, index)) in self.members.iter().enumerate() {
            if self.skip_self && member == id {
                continue;
            }
            let score = index.and_then(|k| match self.axis {
                Axis::Models => self.table.get_at(at, k),
                Axis::Segments => self.table.get_at(k, at),
            });
            let Some(score) = score else {
                let (model, segment) = match self.axis {
                    Axis::Models => (id, member),
                    Axis::Segments => (member, id),
                };
                return Err(NormError::MissingCohortScore {
                    table: self.name,
                    model: model.to_owned(),
                    segment: segment.to_owned(),
                });
            };
            values.push(match self.pre {
                Some(pre) => pre[j].apply(score),
                None => score,
            });
        }
        if let Some(n) = self.top_n {
            // Highest first; values equal under `total_cmp` have the same
            // bits, so the order kept does not depend on the sort.
            values.sort_unstable_by(|a, b| b.total_cmp(a));
            values.truncate(n);
        }
        moments(values).map_err(|problem| match problem {
            Problem::Constant(value) => NormError::ZeroDeviation {
                table: self.name,
                kind: self.kind,
                id: id.to_owned(),
                n: values.len(),
                value,
            },
            Problem::Overflow => NormError::Overflow {
                table: self.name,
                kind: self.kind,
                id: id.to_owned(),
            },
        })
    }
}

/// Why scores have no usable statistics.
enum Problem {
    /// All equal (or no spread an `f64` can hold): this value.
    Constant(f64),
    /// The mean or the deviation is not finite.
    Overflow,
}

/// The mean (summed in order) and the population standard deviation
/// (divided by `n`) of at least one value. The deviations are scaled by the
/// largest before they are squared, so that squares neither overflow nor
/// underflow.
fn moments(values: &[f64]) -> Result<Stats, Problem> {
    let Some(&first) = values.first() else {
        return Err(Problem::Constant(f64::NAN));
    };
    if values.iter().all(|&v| v == first) {
        return Err(Problem::Constant(first));
    }
    let n = values.len() as f64;
    let mean = values.iter().sum::<f64>() / n;
    let scale = values.iter().fold(0.0f64, |m, &v| m.max((v - mean).abs()));
    if !(mean.is_finite() && scale.is_finite()) {
        return Err(Problem::Overflow);
    }
    let squares: f64 = values
        .iter()
        .map(|&v| {
            let d = (v - mean) / scale;
            d * d
        })
        .sum();
    let std = scale * (squares / n).sqrt();
    if std.is_nan() || std <= 0.0 {
        return Err(Problem::Constant(mean));
    }
    Ok(Stats { mean, std })
}

/// The statistics of each of `ids`, in order: the first failing id (in
/// order) gives the error.
pub(super) fn stats(ids: &[String], side: &Side<'_>) -> Result<Vec<Stats>, NormError> {
    cohort_statistics(ids, side)
}

/// One shard of ids: each id's statistics are its own, so the result has
/// the same bits whatever the shards.
#[parallelize(split = "ids", reduce = "concat")]
fn cohort_statistics(ids: &[String], side: &Side<'_>) -> Result<Vec<Stats>, NormError> {
    let mut values = Vec::with_capacity(side.members.len());
    ids.iter()
        .map(|id| side.stats_of(id, &mut values))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::{moments, Problem};

    #[test]
    fn moments_are_the_population_mean_and_deviation() {
        let s = moments(&[1.0, 2.0, 3.0, 6.0]).ok().unwrap();
        assert_eq!(s.mean, 3.0);
        // Deviations −2, −1, 0, 3: variance 14 / 4.
        assert!((s.std - 3.5f64.sqrt()).abs() < 1e-15);
    }

    #[test]
    fn equal_values_have_no_deviation() {
        // 0.1 + 0.1 + 0.1 is not 0.3: a mean computed from equal values
        // may differ from them, so equality is tested on the values.
        assert!(matches!(moments(&[0.1; 3]), Err(Problem::Constant(v)) if v == 0.1));
    }

    #[test]
    fn huge_and_tiny_spreads_are_measured_without_overflow() {
        let s = moments(&[1e300, -1e300]).ok().unwrap();
        assert_eq!((s.mean, s.std), (0.0, 1e300));
        let s = moments(&[1e-320, 3e-320]).ok().unwrap();
        assert!(s.std > 0.0);
        assert!(matches!(
            moments(&[1.7e308, -1.7e308, 1.7e308]),
            Err(Problem::Overflow)
        ));
    }
}
