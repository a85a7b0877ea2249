//! How long an MPI rank waits for the others: `SHARDKIT_MPI_TIMEOUT`.
//!
//! Read wherever an MPI executor is built, and checked by
//! [`Executor::from_env`](crate::Executor::from_env) on every launch (a
//! mistyped value is reported at once, with or without MPI). The waiting
//! itself is in `mpi/watch.rs`.

use std::time::Duration;

use super::ExecutorError;

/// The environment variable that sets how long, in seconds, an MPI rank
/// waits in one collective step for the other ranks before it ends the job
/// with a message naming the ranks it waited for and the calls each is in.
///
/// The limit is on the *imbalance* between ranks, not on the length of a
/// call: the clock starts when this rank reaches the step, and stops when
/// the last rank reaches it. Set it above the longest time one rank can
/// legitimately be behind the others at a call: the slowest rank's extra
/// share of the longest call, and any work a program does on one rank only
/// between calls (rank 0 writing or plotting while the others wait at
/// `write_on_root`). Default: [`DEFAULT_MPI_TIMEOUT`], 10 minutes; accepted:
/// from 1 s to one week, decimals allowed (`SHARDKIT_MPI_TIMEOUT=90`,
/// `=2.5`).
pub const MPI_TIMEOUT_ENV: &str = "SHARDKIT_MPI_TIMEOUT";

/// How long an MPI rank waits for the others when `SHARDKIT_MPI_TIMEOUT`
/// is not set: 10 minutes, far beyond what a balanced job waits at a step,
/// and short enough that a job whose ranks went different ways does not
/// hold a cluster allocation for hours.
pub const DEFAULT_MPI_TIMEOUT: Duration = Duration::from_secs(600);

/// The shortest and the longest timeout accepted, in seconds.
const RANGE: (f64, f64) = (1.0, 7.0 * 24.0 * 3600.0);

/// The timeout that `value` (the variable's text) asks for.
pub(crate) fn parse_mpi_timeout(value: &str) -> Result<Duration, ExecutorError> {
    let bad = || ExecutorError::BadMpiTimeoutEnv {
        value: value.to_string(),
    };
    let seconds: f64 = value.trim().parse().map_err(|_| bad())?;
    // NaN and infinities fail both comparisons.
    if !(RANGE.0..=RANGE.1).contains(&seconds) {
        return Err(bad());
    }
    Ok(Duration::from_secs_f64(seconds))
}

/// The timeout the environment asks for: [`DEFAULT_MPI_TIMEOUT`] when the
/// variable is unset.
pub(crate) fn mpi_timeout_from_env() -> Result<Duration, ExecutorError> {
    match std::env::var(MPI_TIMEOUT_ENV) {
        Ok(value) => parse_mpi_timeout(&value),
        Err(std::env::VarError::NotPresent) => Ok(DEFAULT_MPI_TIMEOUT),
        Err(std::env::VarError::NotUnicode(raw)) => Err(ExecutorError::BadMpiTimeoutEnv {
            value: raw.to_string_lossy().into_owned(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seconds_are_read_with_decimals_and_spaces() {
        let ok = |v: &str| parse_mpi_timeout(v).unwrap();
        assert_eq!(ok("2"), Duration::from_secs(2));
        assert_eq!(ok(" 300 "), Duration::from_secs(300));
        assert_eq!(ok("2.5"), Duration::from_millis(2500));
        assert_eq!(ok("1"), Duration::from_secs(1));
        assert_eq!(ok("604800"), Duration::from_secs(604_800));
        assert_eq!(ok("1e3"), Duration::from_secs(1000));
    }

    #[test]
    fn zero_negative_absurd_and_words_are_refused_naming_the_variable() {
        for value in [
            "", "abc", "0", "-5", "0.5", "604801", "1e30", "inf", "NaN", "5m", "10s",
        ] {
            let err = parse_mpi_timeout(value).expect_err(value);
            let ExecutorError::BadMpiTimeoutEnv { value: found } = &err else {
                panic!("{value:?} gave {err:?}");
            };
            assert_eq!(found, value);
            let message = err.to_string();
            assert!(
                message.starts_with(&format!("SHARDKIT_MPI_TIMEOUT=`{value}` ")),
                "{message}"
            );
            assert!(!message.contains('\n'), "one line: {message}");
        }
    }

    #[test]
    fn the_default_is_several_minutes() {
        assert_eq!(DEFAULT_MPI_TIMEOUT, Duration::from_secs(600));
        assert_eq!(MPI_TIMEOUT_ENV, "SHARDKIT_MPI_TIMEOUT");
    }
}
