//! Waiting for the other ranks, never for ever.
//!
//! Every exchange of [`Comm`] is a nonblocking MPI collective, completed
//! here by [`Comm::complete`]: it tests the request in a tight loop for a
//! few microseconds (a balanced exchange ends there), then yields the core
//! between tests, then sleeps between tests with a pause that doubles up to
//! a millisecond — a rank that waits long costs its core almost nothing.
//!
//! While it sleeps, a waiting rank answers the other ranks' questions.
//! When it has waited longer than the timeout (`SHARDKIT_MPI_TIMEOUT`), it
//! asks every other rank where it is (a point-to-point message on the
//! executor's own communicator), waits a short grace for the answers, and
//! ends the job with `MPI_Abort`, naming the ranks that did not answer
//! (they are busy outside shardkit's exchanges: still in the previous call,
//! or in the program's own code) and where the others wait. A rank that
//! was asked stays quiet for a while, and of ranks that time out together
//! the lowest reports, so that one rank reports, not all.
//!
//! When ranks start different calls at the same step, all of them see it in
//! the step's first exchange: they exchange their calls' names, and rank 0
//! ends the job with a message naming each rank's call.

use std::borrow::Cow;
use std::time::{Duration, Instant};

use mpi::request::{Request, Scope, StaticScope};
use mpi::traits::*;
use mpi::Tag;

use super::comm::Comm;
use crate::executor::steps::{self, Phase, Place};

/// The exit code of a job that a timeout or a mismatch of calls ends.
const ABORT_CODE: i32 = 3;

/// How long a rank tests a request without pausing.
const SPIN: Duration = Duration::from_micros(50);

/// Until when it yields its core between tests.
const YIELD: Duration = Duration::from_millis(2);

/// The longest pause between tests after that.
const LONGEST_PAUSE: Duration = Duration::from_millis(1);

/// The tag of "where are you?" on the executor's communicator.
const ASK: Tag = 0x5348;

/// The tag of the answer.
const TELL: Tag = 0x5349;

impl Comm {
    /// Where this rank is now.
    pub(super) fn place(&self) -> Place {
        let now = self.now.lock().unwrap_or_else(|e| e.into_inner());
        Place {
            phase: now.phase,
            number: now.number,
            call: Cow::Borrowed(now.call),
        }
    }

    /// How long a rank that reports a timeout waits for the answers.
    fn grace(&self) -> Duration {
        (self.limit / 4).min(Duration::from_secs(2))
    }

    /// Waits until `request` completes, at most the timeout (then ends the
    /// job, see the module's documentation).
    pub(super) fn complete<'a, D: ?Sized, S: Scope<'a>>(&self, request: Request<'a, D, S>) {
        let mut pending = Some(request);
        self.wait(&mut || match pending.take() {
            Some(request) => match request.test() {
                Ok(_) => true,
                Err(request) => {
                    pending = Some(request);
                    false
                }
            },
            None => true,
        });
    }

    /// Calls `done` until it says the exchange has completed.
    fn wait(&self, done: &mut dyn FnMut() -> bool) {
        let start = Instant::now();
        let mut pause = Duration::from_micros(10);
        loop {
            if done() {
                return;
            }
            let waited = start.elapsed();
            if waited < SPIN {
                std::hint::spin_loop();
                continue;
            }
            if waited < YIELD {
                std::thread::yield_now();
                continue;
            }
            self.answer();
            if waited >= self.limit && !self.quiet() && self.give_up(start, done) {
                return;
            }
            std::thread::sleep(pause);
            pause = (pause * 2).min(LONGEST_PAUSE);
        }
    }

    /// Whether another rank is reporting a timeout right now.
    fn quiet(&self) -> bool {
        let now = self.now.lock().unwrap_or_else(|e| e.into_inner());
        now.quiet_until.is_some_and(|t| Instant::now() < t)
    }

    /// Sends `bytes` to `rank` without waiting for it to arrive (the
    /// receiver may be busy for ever). The buffer is leaked: this happens
    /// only on the way to ending the job, or once per question.
    fn post(&self, rank: usize, tag: Tag, bytes: Vec<u8>) {
        let bytes: &'static [u8] = Box::leak(bytes.into_boxed_slice());
        let request = self
            .comm
            .process_at_rank(rank as i32)
            .immediate_send_with_tag(StaticScope, bytes, tag);
        // SAFETY: the buffer lives for ever, so MPI may send it whenever it
        // likes, after rsmpi has let go of the request.
        let (mut raw, _, _) = unsafe { request.into_raw() };
        // SAFETY: `raw` is an active send request that nothing else holds;
        // freeing it lets the send complete on its own (MPI 3.1 §3.7.3).
        unsafe { mpi::ffi::MPI_Request_free(&mut raw) };
    }

    /// Answers every rank that asked where this one is, and stays quiet
    /// while they report; returns the lowest rank that asked.
    fn answer(&self) -> Option<usize> {
        let mut lowest = None;
        while let Some(asked) = self
            .comm
            .any_process()
            .immediate_matched_probe_with_tag(ASK)
        {
            let (question, status) = asked.matched_receive_vec::<u8>();
            let rank = status.source_rank() as usize;
            let mut reply = question;
            reply.extend(self.place().encode());
            self.post(rank, TELL, reply);
            let mut now = self.now.lock().unwrap_or_else(|e| e.into_inner());
            now.quiet_until = Some(Instant::now() + 2 * self.grace() + Duration::from_secs(1));
            lowest = Some(lowest.map_or(rank, |l: usize| l.min(rank)));
        }
        lowest
    }

    /// After the timeout: asks the other ranks where they are and ends the
    /// job naming them. Returns `true` if the exchange completed meanwhile
    /// (the last rank came after all), `false` if a lower rank timed out
    /// too and reports instead (this one then waits, quiet).
    fn give_up(&self, start: Instant, done: &mut dyn FnMut() -> bool) -> bool {
        let (round, previous) = {
            let mut now = self.now.lock().unwrap_or_else(|e| e.into_inner());
            now.rounds += 1;
            let round = ((self.rank as u64) << 32) | now.rounds;
            (round.to_le_bytes(), now.previous)
        };
        for rank in (0..self.size).filter(|&r| r != self.rank) {
            self.post(rank, ASK, round.to_vec());
        }
        let mut answers: Vec<Option<Place>> = vec![None; self.size];
        let until = Instant::now() + self.grace();
        let mut missing = self.size - 1;
        while missing > 0 && Instant::now() < until {
            if done() {
                return true;
            }
            // Ranks that time out together: the lowest reports.
            if self.answer().is_some_and(|r| r < self.rank) {
                return false;
            }
            match self
                .comm
                .any_process()
                .immediate_matched_probe_with_tag(TELL)
            {
                Some(told) => {
                    let (bytes, status) = told.matched_receive_vec::<u8>();
                    let rank = status.source_rank() as usize;
                    if bytes.len() >= 8 && bytes[..8] == round && answers[rank].is_none() {
                        answers[rank] = Place::decode(&bytes[8..]);
                        missing -= usize::from(answers[rank].is_some());
                    }
                }
                None => std::thread::sleep(Duration::from_millis(1)),
            }
        }
        let message = steps::timeout(
            self.rank,
            &self.place(),
            start.elapsed(),
            self.limit,
            &answers,
            previous,
        );
        eprintln!("shardkit: {message}");
        self.comm.abort(ABORT_CODE)
    }

    /// The ranks started different calls at the same step (every rank saw
    /// it in the step's first exchange): they exchange where they are, and
    /// rank 0 ends the job with a message naming each rank's call.
    pub(super) fn different_calls(&self, mine: &Place) -> ! {
        let all = self.gather_bytes(&mine.encode());
        let places: Vec<Place> = all
            .iter()
            .map(|bytes| {
                Place::decode(bytes).unwrap_or(Place {
                    phase: Phase::Within,
                    number: 0,
                    call: Cow::Borrowed("?"),
                })
            })
            .collect();
        if self.rank == 0 {
            eprintln!("shardkit: {}", steps::mismatch(&places));
        } else {
            // Rank 0 ends the job; abort only if it has not within a while.
            std::thread::sleep(Duration::from_secs(10));
        }
        self.comm.abort(ABORT_CODE)
    }
}
