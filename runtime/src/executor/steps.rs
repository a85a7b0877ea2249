//! Where a rank is in its sequence of collective steps, as the ranks of an
//! MPI executor tell each other (feature `mpi`), and the messages that name
//! it when ranks went different ways or one waited too long.
//!
//! Every `#[parallelize]` call on ranks, every `write_on_root` /
//! `claim_output`, and the end of the program begin a *step*, numbered on
//! each communicator from 1. The first exchange of a step carries its
//! identity ([`Place::identity`]), so ranks that reached different calls at
//! the same step notice at once; the exchanges that follow inside a call
//! are decided by data that every rank then holds, so they stay in step.
//! Nothing here calls MPI: `mpi/watch.rs` sends these places around.

use std::borrow::Cow;
use std::fmt::Write;
use std::time::Duration;

use crate::ledger::fnv;

/// Where in a step a rank is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Phase {
    /// Starting a call: its first exchange, which carries its identity.
    Start = 1,
    /// Inside a call that every rank has started.
    Within = 2,
    /// At the end of its program, after all its calls.
    End = 3,
}

/// A rank's step: the call's number on this communicator (for `End`, one
/// more than the calls made), its name, and where in it the rank is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Place {
    pub(crate) phase: Phase,
    pub(crate) number: u64,
    /// The `#[parallelize]` function, or `write_on_root` / `claim_output`;
    /// empty at the end.
    pub(crate) call: Cow<'static, str>,
}

impl Place {
    /// The words that ranks compare at the start of a step: ranks at the
    /// same step with different identities are in different calls.
    pub(crate) fn identity(&self) -> [u64; 3] {
        [self.phase as u64, self.number, fnv(self.call.as_bytes())]
    }

    /// The place as bytes, to travel to other ranks.
    pub(crate) fn encode(&self) -> Vec<u8> {
        let mut bytes = Vec::with_capacity(16 + self.call.len());
        bytes.extend_from_slice(&(self.phase as u64).to_le_bytes());
        bytes.extend_from_slice(&self.number.to_le_bytes());
        bytes.extend_from_slice(self.call.as_bytes());
        bytes
    }

    /// The place that [`encode`](Place::encode) wrote; `None` for bytes
    /// that no rank wrote.
    pub(crate) fn decode(bytes: &[u8]) -> Option<Place> {
        let word = |at: usize| {
            let b: [u8; 8] = bytes.get(at..at + 8)?.try_into().ok()?;
            Some(u64::from_le_bytes(b))
        };
        let phase = match word(0)? {
            1 => Phase::Start,
            2 => Phase::Within,
            3 => Phase::End,
            _ => return None,
        };
        Some(Place {
            phase,
            number: word(8)?,
            call: Cow::Owned(String::from_utf8_lossy(&bytes[16..]).into_owned()),
        })
    }

    /// "at the start of call #12 (`accumulate`)", "in call #12
    /// (`accumulate`)", "at the end of its program (after 11 calls)".
    fn at(&self) -> String {
        match self.phase {
            Phase::Start => format!("at the start of call #{} (`{}`)", self.number, self.call),
            Phase::Within => format!("in call #{} (`{}`)", self.number, self.call),
            Phase::End => format!("at the end of its program (after {})", calls(self.number)),
        }
    }

    /// What a rank (`plural`: ranks) at this place is doing, as a
    /// predicate: "is at the start of call #12 (`accumulate`)", "has
    /// finished its program (after 11 calls)".
    fn doing(&self, plural: bool) -> String {
        match self.phase {
            Phase::End => format!(
                "{} finished {} program (after {})",
                if plural { "have" } else { "has" },
                if plural { "their" } else { "its" },
                calls(self.number)
            ),
            _ => format!("{} {}", if plural { "are" } else { "is" }, self.at()),
        }
    }
}

/// "11 calls", "1 call", "no call", for the steps before step `number`.
fn calls(number: u64) -> String {
    match number.saturating_sub(1) {
        0 => "no call".to_string(),
        1 => "1 call".to_string(),
        n => format!("{n} calls"),
    }
}

/// "rank 3", "ranks 0 and 2", "ranks 0-3, 5 and 7", and whether that is
/// more than one rank.
pub(crate) fn ranks(list: &[usize]) -> (String, bool) {
    let mut runs: Vec<(usize, usize)> = Vec::new();
    for &r in list {
        match runs.last_mut() {
            Some((_, end)) if *end + 1 == r => *end = r,
            _ => runs.push((r, r)),
        }
    }
    let parts: Vec<String> = runs
        .iter()
        .flat_map(|&(a, b)| match b - a {
            0 => vec![a.to_string()],
            1 => vec![a.to_string(), b.to_string()],
            _ => vec![format!("{a}-{b}")],
        })
        .collect();
    let plural = list.len() > 1;
    let mut text = String::from(if plural { "ranks " } else { "rank " });
    match parts.split_last() {
        Some((last, rest)) if !rest.is_empty() => {
            let _ = write!(text, "{} and {last}", rest.join(", "));
        }
        Some((last, _)) => text.push_str(last),
        None => {}
    }
    (text, plural)
}

/// Ranks grouped by place, in the order of each place's lowest rank:
/// "rank 0 is at the start of call #4 (`total`), rank 1 has finished its
/// program (after 3 calls)".
fn grouped<'p>(places: impl Iterator<Item = (usize, &'p Place)>) -> String {
    let mut groups: Vec<(&Place, Vec<usize>)> = Vec::new();
    for (rank, place) in places {
        match groups.iter_mut().find(|(p, _)| *p == place) {
            Some((_, list)) => list.push(rank),
            None => groups.push((place, vec![rank])),
        }
    }
    let parts: Vec<String> = groups
        .iter()
        .map(|(place, list)| {
            let (who, plural) = ranks(list);
            format!("{who} {}", place.doing(plural))
        })
        .collect();
    parts.join(", ")
}

/// "2 s", "2.5 s", "600 s".
pub(crate) fn seconds(d: Duration) -> String {
    let s = d.as_secs_f64();
    if (s - s.round()).abs() < 0.05 {
        format!("{} s", s.round())
    } else {
        format!("{s:.1} s")
    }
}

/// The message when the ranks of a communicator started different calls
/// at the same step (`places`, in rank order).
pub(crate) fn mismatch(places: &[Place]) -> String {
    format!(
        "MPI ranks reached different calls at the same step: {}; every rank must make the same #[parallelize] calls (and write_on_root / claim_output calls) in the same order, so these ranks made different numbers of calls or called different functions",
        grouped(places.iter().enumerate())
    )
}

/// What rank `me`, waiting since `waited` at `mine`, tells when it gives
/// up: `answers` holds, for every rank, where it said it waits (`None`:
/// it did not answer, so it is busy outside shardkit's exchanges; this
/// rank's own entry is ignored); `previous` is the call of the step
/// before `mine` (`None` at the first step); `limit` is the timeout.
pub(crate) fn timeout(
    me: usize,
    mine: &Place,
    waited: Duration,
    limit: Duration,
    answers: &[Option<Place>],
    previous: Option<&str>,
) -> String {
    let absent: Vec<usize> = (0..answers.len())
        .filter(|&r| r != me && answers[r].is_none())
        .collect();
    let mut text = format!("rank {me} waited {} {} for ", seconds(waited), mine.at());
    if absent.is_empty() {
        text.push_str("the other ranks");
    } else {
        let (who, plural) = ranks(&absent);
        let which = if plural { "which are" } else { "which is" };
        let _ = match (mine.phase, previous) {
            // Every rank has started this call, and none has left it.
            (Phase::Within, _) => write!(
                text,
                "{who}, {which} still working in call #{} (`{}`)",
                mine.number, mine.call
            ),
            // They took part in the previous step, not in this one.
            (_, Some(call)) => write!(
                text,
                "{who}, {which} still in call #{} (`{call}`) or in the program's own code after it (not waiting in any shardkit exchange)",
                mine.number - 1
            ),
            (_, None) => write!(
                text,
                "{who}, {which} not waiting in any shardkit exchange (no call has been made on this executor yet)"
            ),
        };
    }
    let answered = answers
        .iter()
        .enumerate()
        .filter_map(|(r, a)| Some((r, a.as_ref()?)))
        .filter(|&(r, _)| r != me);
    let others = grouped(answered);
    if !others.is_empty() {
        let _ = write!(text, "; meanwhile {others}");
    }
    let _ = write!(
        text,
        "; if a rank is only slow, raise SHARDKIT_MPI_TIMEOUT (now {})",
        seconds(limit)
    );
    if mine.phase != Phase::Within {
        // Inside a call every rank takes the same steps; between calls a
        // rank that never comes made fewer calls than this one.
        text.push_str(
            ", else make sure every rank makes the same calls (a rank that never comes made fewer)",
        );
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn place(phase: Phase, number: u64, call: &'static str) -> Place {
        Place {
            phase,
            number,
            call: Cow::Borrowed(call),
        }
    }

    #[test]
    fn places_travel_as_bytes() {
        for p in [
            place(Phase::Start, 12, "accumulate"),
            place(Phase::Within, 1, "é"),
            place(Phase::End, 4, ""),
        ] {
            assert_eq!(Place::decode(&p.encode()), Some(p));
        }
        assert_eq!(Place::decode(&[1, 2, 3]), None);
        assert_eq!(Place::decode(&[9; 16]), None);
    }

    #[test]
    fn identities_differ_by_name_number_and_phase() {
        let a = place(Phase::Start, 3, "train");
        assert_eq!(a.identity(), place(Phase::Start, 3, "train").identity());
        for b in [
            place(Phase::Start, 3, "trains"),
            place(Phase::Start, 4, "train"),
            place(Phase::End, 3, ""),
        ] {
            assert_ne!(a.identity(), b.identity(), "{b:?}");
        }
    }

    #[test]
    fn rank_lists_are_short() {
        assert_eq!(ranks(&[3]), ("rank 3".to_string(), false));
        assert_eq!(ranks(&[0, 2]), ("ranks 0 and 2".to_string(), true));
        assert_eq!(ranks(&[0, 1]), ("ranks 0 and 1".to_string(), true));
        assert_eq!(
            ranks(&[0, 1, 3, 4]),
            ("ranks 0, 1, 3 and 4".to_string(), true)
        );
        assert_eq!(
            ranks(&[0, 1, 2, 3, 5, 7]),
            ("ranks 0-3, 5 and 7".to_string(), true)
        );
    }

    #[test]
    fn seconds_read_naturally() {
        assert_eq!(seconds(Duration::from_secs(600)), "600 s");
        assert_eq!(seconds(Duration::from_millis(2004)), "2 s");
        assert_eq!(seconds(Duration::from_millis(2500)), "2.5 s");
    }

    #[test]
    fn a_mismatch_names_every_ranks_call() {
        let message = mismatch(&[
            place(Phase::Start, 4, "total"),
            place(Phase::End, 4, ""),
            place(Phase::Start, 4, "total"),
        ]);
        assert!(
            message.starts_with("MPI ranks reached different calls at the same step: ranks 0 and 2 are at the start of call #4 (`total`), rank 1 has finished its program (after 3 calls); "),
            "{message}"
        );
        let message = mismatch(&[
            place(Phase::Start, 1, "total"),
            place(Phase::Start, 1, "squares"),
        ]);
        assert!(message.contains("rank 0 is at the start of call #1 (`total`), rank 1 is at the start of call #1 (`squares`)"), "{message}");
    }

    #[test]
    fn a_timeout_names_the_absent_ranks_and_where_the_others_wait() {
        let limit = Duration::from_secs(2);
        let mine = place(Phase::Start, 4, "total");
        let message = timeout(
            1,
            &mine,
            limit,
            limit,
            &[None, None, Some(place(Phase::Start, 4, "total")), None],
            Some("train"),
        );
        assert_eq!(
            message,
            "rank 1 waited 2 s at the start of call #4 (`total`) for ranks 0 and 3, which are still in call #3 (`train`) or in the program's own code after it (not waiting in any shardkit exchange); meanwhile rank 2 is at the start of call #4 (`total`); if a rank is only slow, raise SHARDKIT_MPI_TIMEOUT (now 2 s), else make sure every rank makes the same calls (a rank that never comes made fewer)"
        );
        let message = timeout(
            0,
            &place(Phase::Within, 2, "stall"),
            limit,
            limit,
            &[None, None],
            Some("total"),
        );
        assert_eq!(
            message,
            "rank 0 waited 2 s in call #2 (`stall`) for rank 1, which is still working in call #2 (`stall`); if a rank is only slow, raise SHARDKIT_MPI_TIMEOUT (now 2 s)"
        );
        let message = timeout(
            0,
            &place(Phase::End, 4, ""),
            limit,
            limit,
            &[None, None],
            Some("total"),
        );
        assert!(
            message.starts_with("rank 0 waited 2 s at the end of its program (after 3 calls) for rank 1, which is still in call #3 (`total`) or"),
            "{message}"
        );
    }
}
