//! Edge cases of `#[parallelize]`: tiny inputs, every kind of `split`
//! parameter, methods and generics, errors, panics (in shards and in merges),
//! nested calls, and the ambient executor of `Executor::install`.

use std::any::Any;
use std::collections::BTreeSet;
use std::ops::Range;
use std::panic::{self, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{mpsc, Mutex, OnceLock};
use std::thread;
use std::time::Duration;

use ndarray::{arr2, Array1, Array2, ArrayView2, ArrayViewMut2, Axis};
use shardkit::{parallelize, Executor, ExecutorError};

// ---------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------

/// The serial executor and pools of 1, 2, 3 and 7 threads, built once.
fn executors() -> &'static [(String, Executor)] {
    static EXECUTORS: OnceLock<Vec<(String, Executor)>> = OnceLock::new();
    EXECUTORS.get_or_init(|| {
        let mut all = vec![("serial".to_string(), Executor::serial())];
        for n in [1, 2, 3, 7] {
            all.push((format!("threads({n})"), Executor::threads(n).unwrap()));
        }
        all
    })
}

fn threads(n: usize) -> &'static Executor {
    let (_, exec) = executors()
        .iter()
        .find(|(name, _)| *name == format!("threads({n})"))
        .expect("a pool of that size is built");
    exec
}

/// Runs `f` on another thread and fails if it does not finish in time: a
/// deadlock fails the test instead of hanging it.
fn within_timeout<R: Send + 'static>(f: impl FnOnce() -> R + Send + 'static) -> R {
    let (tx, rx) = mpsc::channel();
    let worker = thread::spawn(move || {
        let _ = tx.send(f());
    });
    match rx.recv_timeout(Duration::from_secs(30)) {
        Ok(r) => {
            worker.join().expect("the worker already sent its result");
            r
        }
        Err(_) => panic!("the call did not return within 30 s: deadlock?"),
    }
}

/// The text of a panic payload (`panic!("literal")` or `panic!("{x}")`).
fn payload_text(payload: &(dyn Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        s.to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        panic!("a panic payload that is not a string")
    }
}

/// Runs `f`, which must panic, and returns its payload's text.
fn panic_text<R>(f: impl FnOnce() -> R) -> String {
    match panic::catch_unwind(AssertUnwindSafe(f)) {
        Ok(_) => panic!("the call returned instead of panicking"),
        Err(payload) => payload_text(&*payload),
    }
}

// ---------------------------------------------------------------------------
// Empty input, one item, fewer items than threads
// ---------------------------------------------------------------------------

#[parallelize(split = "xs", reduce = "sum")]
fn counted(xs: &[u8], calls: &AtomicUsize) -> usize {
    calls.fetch_add(1, Ordering::SeqCst);
    xs.len()
}

#[parallelize(split = "xs", reduce = "concat")]
fn shard_contents(xs: &[u8]) -> Vec<Vec<u8>> {
    vec![xs.to_vec()]
}

#[test]
fn empty_input_runs_the_body_once_with_an_empty_shard() {
    for (name, exec) in executors() {
        let calls = AtomicUsize::new(0);
        assert_eq!(exec.install(|| counted(&[], &calls)), 0, "{name}");
        assert_eq!(calls.load(Ordering::SeqCst), 1, "{name}");
        assert_eq!(
            exec.install(|| shard_contents(&[])),
            vec![Vec::<u8>::new()],
            "{name}"
        );
    }
}

#[test]
fn empty_input_of_every_split_kind() {
    #[parallelize(split = "v", reduce = "concat")]
    fn owned(v: Vec<String>) -> Vec<usize> {
        vec![v.len()]
    }
    #[parallelize(split = "r", reduce = "concat")]
    fn range(r: Range<usize>) -> Vec<Range<usize>> {
        vec![r]
    }
    #[parallelize(split = "rows", reduce = "concat")]
    fn rows(rows: ArrayView2<f64>) -> Vec<(usize, usize)> {
        vec![rows.dim()]
    }
    #[parallelize(split = "out", reduce = "none")]
    fn fill(out: &mut [u8]) {
        assert!(out.is_empty());
    }

    for (name, exec) in executors() {
        exec.install(|| {
            assert_eq!(owned(Vec::new()), [0], "{name}");
            // The empty shard of `5..5` starts where the range does.
            assert_eq!(range(5..5), [Range { start: 5, end: 5 }], "{name}");
            assert_eq!(
                rows(Array2::<f64>::zeros((0, 3)).view()),
                [(0, 3)],
                "{name}"
            );
            fill(&mut []);
        });
    }
}

#[test]
fn one_item_is_one_shard() {
    for (name, exec) in executors() {
        let calls = AtomicUsize::new(0);
        assert_eq!(exec.install(|| counted(&[7], &calls)), 1, "{name}");
        assert_eq!(calls.load(Ordering::SeqCst), 1, "{name}");
        assert_eq!(exec.install(|| shard_contents(&[7])), [vec![7]], "{name}");
    }
}

#[test]
fn fewer_items_than_threads() {
    for (name, exec) in executors() {
        let calls = AtomicUsize::new(0);
        assert_eq!(exec.install(|| counted(&[1, 2, 3], &calls)), 3, "{name}");
        assert_eq!(calls.load(Ordering::SeqCst), 3, "{name}");
        assert_eq!(
            exec.install(|| shard_contents(&[1, 2, 3])),
            [vec![1], vec![2], vec![3]],
            "{name}"
        );
    }
}

// ---------------------------------------------------------------------------
// Lockstep split parameters of unequal lengths
// ---------------------------------------------------------------------------

#[parallelize(split = "xs, ys", reduce = "sum")]
fn dot(xs: &[f64], ys: &[f64]) -> f64 {
    xs.iter().zip(ys).map(|(x, y)| x * y).sum()
}

#[parallelize(split = "a, b, c", reduce = "concat")]
fn triples(a: &[u8], b: Vec<char>, c: Range<usize>) -> Vec<(u8, char, usize)> {
    a.iter()
        .zip(&b)
        .zip(c)
        .map(|((&a, &b), c)| (a, b, c))
        .collect()
}

#[test]
fn lockstep_parameters_of_equal_lengths() {
    assert_eq!(dot(&[1.0, 2.0, 3.0], &[4.0, 5.0, 6.0]), 32.0);
    assert_eq!(
        threads(3).install(|| triples(&[1, 2], vec!['a', 'b'], 10..12)),
        [(1, 'a', 10), (2, 'b', 11)]
    );
}

#[test]
#[should_panic(
    expected = "shardkit: `dot` splits `xs` and `ys` in lockstep, so they must have equal lengths, but `xs` has 3 items and `ys` has 2"
)]
fn lockstep_lengths_differ() {
    threads(3).install(|| dot(&[1.0, 2.0, 3.0], &[4.0, 5.0]));
}

#[test]
#[should_panic(expected = "but `a` has 2 items and `c` has 3")]
fn lockstep_third_parameter_differs() {
    triples(&[1, 2], vec!['a', 'b'], 0..3);
}

#[test]
#[should_panic(expected = "but `xs` has 0 items and `ys` has 1")]
fn lockstep_empty_against_one() {
    Executor::serial().install(|| dot(&[], &[1.0]));
}

// ---------------------------------------------------------------------------
// Outputs written in place
// ---------------------------------------------------------------------------

#[parallelize(split = "xs, out", reduce = "none")]
fn double_into(xs: &[f64], out: &mut [f64]) {
    for (o, x) in out.iter_mut().zip(xs) {
        *o = 2.0 * x;
    }
}

#[parallelize(split = "rows, out", reduce = "none")]
fn scale_rows(rows: ArrayView2<f64>, mut out: ArrayViewMut2<f64>, factor: f64) {
    for (i, mut row) in out.rows_mut().into_iter().enumerate() {
        row.assign(&(&rows.row(i) * factor));
    }
}

#[test]
fn mutable_slice_output_filled_in_place() {
    for len in [0, 1, 3, 256, 1000] {
        let xs: Vec<f64> = (0..len).map(|i| i as f64).collect();
        for (name, exec) in executors() {
            let mut out = vec![-1.0; len];
            exec.install(|| double_into(&xs, &mut out));
            let want: Vec<f64> = xs.iter().map(|x| 2.0 * x).collect();
            assert_eq!(out, want, "{name}, {len} items");
        }
    }
}

#[test]
fn array_view_mut_output_filled_in_place() {
    let a = Array2::from_shape_fn((300, 4), |(i, j)| (i * 4 + j) as f64);
    for (name, exec) in executors() {
        let mut out = Array2::from_elem((300, 4), f64::NAN);
        exec.install(|| scale_rows(a.view(), out.view_mut(), 0.5));
        assert_eq!(out, &a * 0.5, "{name}");
    }
}

// ---------------------------------------------------------------------------
// Every kind of split parameter
// ---------------------------------------------------------------------------

#[parallelize(split = "words", reduce = "concat")]
fn lengths(words: Vec<String>) -> Vec<usize> {
    words.into_iter().map(|w| w.len()).collect()
}

#[allow(clippy::ptr_arg)]
#[parallelize(split = "words", reduce = "sum")]
fn total_length(words: &Vec<String>) -> usize {
    words.iter().map(String::len).sum()
}

#[parallelize(split = "r", reduce = "concat", block_size = 4)]
fn ranges(r: Range<usize>) -> Vec<Range<usize>> {
    vec![r]
}

#[parallelize(split = "r", reduce = "concat")]
fn squares(r: Range<usize>) -> Vec<usize> {
    r.map(|i| i * i).collect()
}

#[parallelize(split = "a", reduce = "concat")]
fn row_sums(a: &Array2<f64>) -> Vec<f64> {
    a.sum_axis(Axis(1)).to_vec()
}

#[parallelize(split = "a", reduce = "concat", block_size = 2)]
fn negated(a: Array2<i32>) -> Array2<i32> {
    -a
}

#[test]
fn owned_vec_split() {
    let words: Vec<String> = (0..500).map(|i| "x".repeat(i % 13)).collect();
    let want: Vec<usize> = words.iter().map(String::len).collect();
    for (name, exec) in executors() {
        assert_eq!(exec.install(|| lengths(words.clone())), want, "{name}");
    }
}

#[test]
fn borrowed_vec_split() {
    let words: Vec<String> = (0..500).map(|i| "x".repeat(i % 13)).collect();
    let want: usize = words.iter().map(String::len).sum();
    for (name, exec) in executors() {
        assert_eq!(exec.install(|| total_length(&words)), want, "{name}");
    }
}

#[test]
fn range_split_keeps_its_offset() {
    for (name, exec) in executors() {
        exec.install(|| {
            assert_eq!(ranges(10..20), [10..14, 14..18, 18..20], "{name}");
            assert_eq!(ranges(3..3), [Range { start: 3, end: 3 }], "{name}");
            let want: Vec<usize> = (1000..1600).map(|i| i * i).collect();
            assert_eq!(squares(1000..1600), want, "{name}");
        });
    }
}

#[test]
fn borrowed_array_split() {
    let a = Array2::from_shape_fn((700, 3), |(i, j)| (i + j) as f64);
    let want = a.sum_axis(Axis(1)).to_vec();
    for (name, exec) in executors() {
        assert_eq!(exec.install(|| row_sums(&a)), want, "{name}");
    }
}

#[test]
fn owned_array_split_concatenates_rows() {
    let a = arr2(&[[1, 2], [3, 4], [5, 6], [7, 8], [9, 10]]);
    for (name, exec) in executors() {
        assert_eq!(exec.install(|| negated(a.clone())), -a.clone(), "{name}");
    }
}

// ---------------------------------------------------------------------------
// Methods and generics
// ---------------------------------------------------------------------------

struct Scaler {
    factor: f64,
    offsets: Vec<f64>,
}

impl Scaler {
    #[parallelize(split = "xs", reduce = "sum")]
    fn scaled_sum(&self, xs: &[f64]) -> f64 {
        xs.iter().map(|x| x * self.factor + self.offsets[0]).sum()
    }

    #[parallelize(split = "xs", reduce = "concat")]
    fn scaled(&self, xs: &[f64], extra: f64) -> Vec<f64> {
        xs.iter().map(|x| x * self.factor + extra).collect()
    }
}

#[test]
fn method_taking_self_by_reference() {
    let s = Scaler {
        factor: 2.0,
        offsets: vec![1.0],
    };
    let xs: Vec<f64> = (0..300).map(f64::from).collect();
    for (name, exec) in executors() {
        exec.install(|| {
            assert_eq!(s.scaled_sum(&xs), 300.0 * 299.0 + 300.0, "{name}");
            let want: Vec<f64> = xs.iter().map(|x| x * 2.0 + 0.5).collect();
            assert_eq!(s.scaled(&xs, 0.5), want, "{name}");
        });
    }
}

#[parallelize(split = "xs", reduce = "sum")]
fn total_as_f64<T: Copy + Into<f64> + Sync>(xs: &[T]) -> f64 {
    xs.iter().map(|&x| x.into()).sum()
}

#[test]
fn generic_function() {
    let bytes: Vec<u8> = (0..=255).collect();
    let halves: Vec<f32> = (0..400).map(|i| i as f32 * 0.5).collect();
    let negatives: Vec<i32> = (-300..0).collect();
    for (name, exec) in executors() {
        exec.install(|| {
            assert_eq!(total_as_f64(&bytes), 32640.0, "{name}");
            assert_eq!(total_as_f64(&halves), 39900.0, "{name}");
            assert_eq!(total_as_f64(&negatives), -45150.0, "{name}");
            assert_eq!(total_as_f64::<u8>(&[]), 0.0, "{name}");
        });
    }
}

// ---------------------------------------------------------------------------
// `Result`: the first error in block order
// ---------------------------------------------------------------------------

/// Which blocks fail (after how long), and which blocks ran.
struct Script {
    failures: Vec<(usize, Duration)>,
    ran: Vec<AtomicBool>,
}

impl Script {
    fn new(blocks: usize, failures: &[(usize, u64)]) -> Script {
        Script {
            failures: failures
                .iter()
                .map(|&(i, ms)| (i, Duration::from_millis(ms)))
                .collect(),
            ran: (0..blocks).map(|_| AtomicBool::new(false)).collect(),
        }
    }

    fn ran(&self) -> Vec<usize> {
        (0..self.ran.len())
            .filter(|&i| self.ran[i].load(Ordering::SeqCst))
            .collect()
    }
}

#[parallelize(split = "ids", reduce = "sum", block_size = 1)]
fn scripted(ids: Range<usize>, script: &Script) -> Result<usize, String> {
    let i = ids.start;
    script.ran[i].store(true, Ordering::SeqCst);
    match script.failures.iter().find(|&&(f, _)| f == i) {
        Some(&(_, delay)) => {
            thread::sleep(delay);
            Err(format!("block {i} failed"))
        }
        None => Ok(i),
    }
}

#[test]
fn no_error_merges_every_block() {
    for (name, exec) in executors() {
        let script = Script::new(40, &[]);
        assert_eq!(exec.install(|| scripted(0..40, &script)), Ok(780), "{name}");
        assert_eq!(script.ran(), (0..40).collect::<Vec<_>>(), "{name}");
    }
}

#[test]
fn first_error_in_block_order_wins_over_an_earlier_finishing_one() {
    for (name, exec) in executors() {
        // Block 11 fails at once; block 3 fails 50 ms later, but comes first.
        let script = Script::new(40, &[(3, 50), (11, 0), (30, 0)]);
        let got = exec.install(|| scripted(0..40, &script));
        assert_eq!(got, Err("block 3 failed".to_string()), "{name}");
        let ran = script.ran();
        assert!(ran.starts_with(&[0, 1, 2, 3]), "{name}: ran {ran:?}");
    }
}

#[test]
fn first_and_last_blocks_fail() {
    for (name, exec) in executors() {
        let script = Script::new(40, &[(0, 20), (5, 0), (39, 0)]);
        assert_eq!(
            exec.install(|| scripted(0..40, &script)),
            Err("block 0 failed".to_string()),
            "{name}"
        );
        let script = Script::new(40, &[(39, 0)]);
        assert_eq!(
            exec.install(|| scripted(0..40, &script)),
            Err("block 39 failed".to_string()),
            "{name}"
        );
        assert_eq!(script.ran(), (0..40).collect::<Vec<_>>(), "{name}");
    }
}

#[test]
fn blocks_after_an_error_are_skipped_when_run_in_order() {
    // On the calling thread blocks run one by one, so none after the
    // failing one has started when it fails: all of them are skipped.
    for exec in [Executor::serial(), threads(1).clone()] {
        let script = Script::new(1000, &[(3, 0), (500, 0)]);
        assert_eq!(
            exec.install(|| scripted(0..1000, &script)),
            Err("block 3 failed".to_string()),
            "{exec:?}"
        );
        assert_eq!(script.ran(), [0, 1, 2, 3], "{exec:?}");
    }
}

// ---------------------------------------------------------------------------
// Panics in shards
// ---------------------------------------------------------------------------

#[parallelize(split = "ids", reduce = "sum", block_size = 1)]
fn explode_at(ids: Range<usize>, at: usize) -> usize {
    let i = ids.start;
    if i == at {
        panic!("shard {i} exploded");
    }
    i
}

#[test]
#[should_panic(expected = "shard 5 exploded")]
fn a_shard_panic_reaches_the_caller() {
    threads(3).install(|| explode_at(0..10, 5));
}

/// Which blocks panic (after how long), and which blocks finished.
struct Bombs {
    panics: Vec<(usize, Duration)>,
    finished: Mutex<BTreeSet<usize>>,
}

#[parallelize(split = "ids", reduce = "sum", block_size = 1)]
fn bombs(ids: Range<usize>, bombs: &Bombs) -> usize {
    let i = ids.start;
    if let Some(&(_, delay)) = bombs.panics.iter().find(|&&(b, _)| b == i) {
        thread::sleep(delay);
        panic!("block {i} panicked");
    }
    thread::sleep(Duration::from_millis(1));
    bombs.finished.lock().unwrap().insert(i);
    i
}

#[test]
fn the_earliest_panic_in_block_order_surfaces() {
    for (name, exec) in executors() {
        let exec = exec.clone();
        let name = name.clone();
        within_timeout(move || {
            // Block 9 panics at once; block 4 panics 50 ms later, but
            // comes first.
            let b = Bombs {
                panics: vec![(4, Duration::from_millis(50)), (9, Duration::ZERO)],
                finished: Mutex::new(BTreeSet::new()),
            };
            let text = panic_text(|| exec.install(|| bombs(0..20, &b)));
            assert_eq!(text, "block 4 panicked", "{name}");
            let finished = b.finished.lock().unwrap().clone();
            // The blocks before the panic all ran to completion.
            assert!(
                (0..4).all(|i| finished.contains(&i)),
                "{name}: finished {finished:?}"
            );
            // And the executor is still usable.
            assert_eq!(exec.install(|| explode_at(0..10, usize::MAX)), 45, "{name}");
        });
    }
}

#[test]
fn a_static_str_payload_is_passed_on_unchanged() {
    #[parallelize(split = "xs", reduce = "sum", block_size = 1)]
    fn plain(xs: &[u8]) -> u32 {
        if xs[0] == 2 {
            panic!("a static message");
        }
        u32::from(xs[0])
    }
    for (name, exec) in executors() {
        let payload =
            panic::catch_unwind(AssertUnwindSafe(|| exec.install(|| plain(&[0, 1, 2, 3]))))
                .expect_err("block 2 panics");
        assert_eq!(
            payload.downcast_ref::<&str>(),
            Some(&"a static message"),
            "{name}"
        );
    }
}

#[test]
fn a_panic_with_every_block_panicking_does_not_deadlock() {
    #[parallelize(split = "ids", reduce = "sum", block_size = 1)]
    fn all_panic(ids: Range<usize>) -> usize {
        panic!("block {} panicked", ids.start)
    }
    for (name, exec) in executors() {
        let exec = exec.clone();
        let name = name.clone();
        within_timeout(move || {
            let text = panic_text(|| exec.install(|| all_panic(0..100)));
            assert_eq!(text, "block 0 panicked", "{name}");
        });
    }
}

// ---------------------------------------------------------------------------
// Panics in merges
// ---------------------------------------------------------------------------

#[parallelize(split = "xs", reduce = "sum", block_size = 2)]
fn ragged(xs: &[f64]) -> Vec<f64> {
    xs.to_vec()
}

#[test]
#[should_panic(
    expected = "shardkit: `ragged` cannot combine results of different shapes: the earlier blocks gave shape [2], block 1 gave [1]"
)]
fn a_merge_panic_names_both_lengths() {
    threads(3).install(|| ragged(&[1.0, 2.0, 3.0]));
}

#[test]
fn a_merge_panic_is_the_same_everywhere() {
    for (name, exec) in executors() {
        let text = panic_text(|| exec.install(|| ragged(&[1.0, 2.0, 3.0, 4.0, 5.0])));
        assert!(
            text.contains("the earlier blocks gave shape [2], block 2 gave [1]"),
            "{name}: {text}"
        );
        // Equal lengths merge fine.
        assert_eq!(exec.install(|| ragged(&[1.0, 2.0, 3.0, 4.0])), [4.0, 6.0]);
    }
}

/// A body may use rayon itself: its worker may run other blocks while it
/// waits, and the call still returns the right result.
#[test]
fn a_body_that_uses_rayon() {
    #[parallelize(split = "xs", reduce = "concat")]
    fn squares(xs: &[u64]) -> Vec<u64> {
        use rayon::prelude::*;
        xs.par_iter().map(|x| x * x).collect()
    }
    let xs: Vec<u64> = (0..20_000).collect();
    let want: Vec<u64> = xs.iter().map(|x| x * x).collect();
    for (name, exec) in executors() {
        for _ in 0..5 {
            let (exec, xs) = (exec.clone(), xs.clone());
            let got = within_timeout(move || exec.install(|| squares(&xs)));
            assert_eq!(got, want, "{name}");
        }
    }
}

/// A merge may use rayon itself (say, to add long vectors). While the merge
/// waits for its rayon jobs, its worker may steal another block's job, which
/// then delivers its result to the fold: the fold must not be locked during
/// a merge (regression: it was, and the call never returned).
#[test]
fn a_merge_that_uses_rayon_does_not_deadlock() {
    fn par_add(a: Vec<f64>, b: Vec<f64>) -> Vec<f64> {
        use rayon::prelude::*;
        a.par_iter().zip(&b).map(|(x, y)| x + y).collect()
    }
    #[parallelize(split = "xs", reduce = par_add)]
    fn spread(xs: &[f64]) -> Vec<f64> {
        vec![xs.iter().sum(); 1000]
    }
    let xs: Vec<f64> = (0..10_000).map(f64::from).collect();
    for _ in 0..20 {
        let xs = xs.clone();
        let got = within_timeout(move || threads(7).install(|| spread(&xs)));
        assert_eq!(got, vec![49_995_000.0; 1000]);
    }
}

// ---------------------------------------------------------------------------
// Nested calls
// ---------------------------------------------------------------------------

#[parallelize(split = "xs", reduce = "concat")]
fn where_inner_ran(xs: &[u64]) -> Vec<(u64, thread::ThreadId)> {
    xs.iter().map(|&x| (x, thread::current().id())).collect()
}

/// For each block of `rows`, calls `where_inner_ran` on a row of 300 items;
/// returns the sum of the items and how many inner blocks ran elsewhere.
#[parallelize(split = "rows", reduce = "sum")]
fn outer(rows: Range<usize>) -> (u64, usize) {
    assert_eq!(shardkit::Executor::current().workers(), 1);
    assert_eq!(
        format!("{:?}", shardkit::Executor::current()),
        "Executor::Serial"
    );
    let here = thread::current().id();
    let mut total = 0;
    let mut elsewhere = 0;
    for r in rows {
        let items: Vec<u64> = (0..300).map(|j| (r * 300 + j) as u64).collect();
        for (x, id) in where_inner_ran(&items) {
            total += x;
            elsewhere += usize::from(id != here);
        }
    }
    (total, elsewhere)
}

#[test]
fn a_nested_call_runs_serially_inside_its_shard() {
    let n = 20 * 300;
    for (name, exec) in executors() {
        let got = exec.install(|| outer(0..20));
        assert_eq!(got, ((n * (n - 1) / 2) as u64, 0), "{name}");
        // Outside the shards the installed executor is back.
        assert_eq!(
            exec.install(|| Executor::current().workers()),
            exec.workers()
        );
    }
}

#[test]
fn a_panic_in_a_nested_call_surfaces() {
    #[parallelize(split = "rows", reduce = "sum")]
    fn outer_panics(rows: Range<usize>) -> usize {
        rows.map(|r| explode_at(0..50, if r == 7 { 33 } else { usize::MAX }))
            .sum()
    }
    let text = panic_text(|| threads(3).install(|| outer_panics(0..10)));
    assert_eq!(text, "shard 33 exploded");
}

// ---------------------------------------------------------------------------
// The ambient executor
// ---------------------------------------------------------------------------

#[test]
fn install_restores_the_previous_executor() {
    let three = threads(3);
    three.install(|| {
        assert_eq!(format!("{:?}", Executor::current()), "Executor::Threads(3)");
        Executor::serial().install(|| {
            assert_eq!(format!("{:?}", Executor::current()), "Executor::Serial");
        });
        assert_eq!(format!("{:?}", Executor::current()), "Executor::Threads(3)");
    });
}

#[test]
fn install_restores_the_previous_executor_when_the_closure_panics() {
    threads(3).install(|| {
        let text = panic_text(|| {
            threads(7).install(|| {
                assert_eq!(Executor::current().workers(), 7);
                panic!("inside install");
            })
        });
        assert_eq!(text, "inside install");
        assert_eq!(format!("{:?}", Executor::current()), "Executor::Threads(3)");

        // A call whose shard panics on the calling thread restores it too.
        let text = panic_text(|| Executor::serial().install(|| explode_at(0..4, 2)));
        assert_eq!(text, "shard 2 exploded");
        assert_eq!(format!("{:?}", Executor::current()), "Executor::Threads(3)");
        let text = panic_text(|| explode_at(0..1, 0));
        assert_eq!(text, "shard 0 exploded");
        assert_eq!(format!("{:?}", Executor::current()), "Executor::Threads(3)");
    });
}

#[test]
fn calls_run_on_the_installed_executor() {
    #[parallelize(split = "xs", reduce = "concat", block_size = 1)]
    fn thread_names(xs: &[u8]) -> Vec<Option<String>> {
        vec![thread::current().name().map(str::to_string); xs.len()]
    }
    let caller = thread::current().name().map(str::to_string);
    let names = Executor::serial().install(|| thread_names(&[0; 50]));
    assert!(names.iter().all(|n| *n == caller), "{names:?}");
    let names = threads(3).install(|| thread_names(&[0; 50]));
    assert!(
        names
            .iter()
            .all(|n| n.as_deref().is_some_and(|n| n.starts_with("shardkit-"))),
        "{names:?}"
    );
}

#[test]
fn executors_are_shared_between_threads() {
    let pool = threads(2).clone();
    let handles: Vec<_> = (0..4)
        .map(|k| {
            let pool = pool.clone();
            thread::spawn(move || {
                let xs: Vec<f64> = (0..1000).map(|i| f64::from(i) * f64::from(k)).collect();
                pool.install(|| dot(&xs, &xs))
            })
        })
        .collect();
    for (k, h) in handles.into_iter().enumerate() {
        let want = (0..1000).map(|i| (i * i * k * k) as f64).sum::<f64>();
        assert_eq!(h.join().unwrap(), want);
    }
}

#[test]
fn zero_threads_is_an_error() {
    let err = Executor::threads(0).expect_err("no pool of 0 threads");
    assert!(matches!(err, ExecutorError::ZeroThreads), "{err:?}");
    assert!(err.to_string().contains("at least one thread"), "{err}");
    assert_eq!(Executor::threads(5).unwrap().workers(), 5);
    assert_eq!(Executor::serial().workers(), 1);
}

// ---------------------------------------------------------------------------
// Arrays in and out
// ---------------------------------------------------------------------------

#[test]
fn array_results_sum_element_wise() {
    #[parallelize(split = "rows", reduce = "sum")]
    fn gram(rows: ArrayView2<f64>) -> Array2<f64> {
        rows.t().dot(&rows)
    }
    #[parallelize(split = "rows", reduce = "max")]
    fn column_max(rows: ArrayView2<f64>) -> Array1<f64> {
        rows.fold_axis(Axis(0), f64::NEG_INFINITY, |&a, &b| a.max(b))
    }
    let a = Array2::from_shape_fn((500, 3), |(i, j)| ((i * 7 + j * 3) % 11) as f64);
    for (name, exec) in executors() {
        exec.install(|| {
            assert_eq!(gram(a.view()), a.t().dot(&a), "{name}");
            assert_eq!(column_max(a.view()).to_vec(), [10.0, 10.0, 10.0], "{name}");
        });
    }
}

// ---------------------------------------------------------------------------
// `block_size` and `weights` corner cases
// ---------------------------------------------------------------------------

#[parallelize(split = "xs", reduce = "concat", block_size = size)]
fn sizes_in_blocks(xs: &[u8], size: usize) -> Vec<usize> {
    vec![xs.len()]
}

#[test]
fn block_size_larger_than_the_input() {
    for (name, exec) in executors() {
        assert_eq!(
            exec.install(|| sizes_in_blocks(&[0; 5], 100)),
            [5],
            "{name}"
        );
        assert_eq!(exec.install(|| sizes_in_blocks(&[], 3)), [0], "{name}");
        assert_eq!(
            exec.install(|| sizes_in_blocks(&[0; 7], 3)),
            [3, 3, 1],
            "{name}"
        );
    }
}

#[test]
#[should_panic(expected = "`block_size` must be at least 1")]
fn block_size_zero_panics() {
    threads(3).install(|| sizes_in_blocks(&[0; 5], 0));
}

#[test]
fn all_zero_weights_cut_even_blocks() {
    fn nothing(_: &u8) -> u64 {
        0
    }
    #[parallelize(split = "xs", reduce = "concat", weights = nothing)]
    fn weightless(xs: &[u8]) -> Vec<usize> {
        vec![xs.len()]
    }
    for len in [0, 1, 3, 300] {
        let want: Vec<usize> = shardkit::Plan::even(len, None).sizes().collect();
        for (name, exec) in executors() {
            assert_eq!(exec.install(|| weightless(&vec![0; len])), want, "{name}");
        }
    }
}

// ---------------------------------------------------------------------------
// `reduce = "none"` with `Result`, and errors meeting panics
// ---------------------------------------------------------------------------

#[parallelize(split = "xs, out", reduce = "none", block_size = 10)]
fn checked_copy(xs: &[i32], out: &mut [i32]) -> Result<(), String> {
    for (o, &x) in out.iter_mut().zip(xs) {
        if x < 0 {
            return Err(format!("negative: {x}"));
        }
        *o = x;
    }
    Ok(())
}

#[test]
fn none_with_result_returns_the_first_error() {
    let good: Vec<i32> = (0..100).collect();
    let mut bad = good.clone();
    bad[95] = -95;
    bad[42] = -42;
    for (name, exec) in executors() {
        let mut out = vec![-1; 100];
        assert_eq!(exec.install(|| checked_copy(&good, &mut out)), Ok(()));
        assert_eq!(out, good, "{name}");
        let mut out = vec![-1; 100];
        assert_eq!(
            exec.install(|| checked_copy(&bad, &mut out)),
            Err("negative: -42".to_string()),
            "{name}"
        );
        // The blocks before the failing one were written.
        assert_eq!(out[..40], good[..40], "{name}");
    }
}

#[parallelize(split = "ids", reduce = "sum", block_size = 1)]
fn error_or_panic(ids: Range<usize>, error_at: usize, panic_at: usize) -> Result<usize, String> {
    let i = ids.start;
    if i == error_at {
        thread::sleep(Duration::from_millis(30));
        return Err(format!("error at {i}"));
    }
    if i == panic_at {
        thread::sleep(Duration::from_millis(30));
        panic!("panic at {i}");
    }
    Ok(i)
}

#[test]
fn an_error_before_a_panic_wins() {
    for (name, exec) in executors() {
        let got = exec.install(|| error_or_panic(0..30, 4, 9));
        assert_eq!(got, Err("error at 4".to_string()), "{name}");
    }
}

#[test]
fn a_panic_before_an_error_wins() {
    for (name, exec) in executors() {
        let text = panic_text(|| exec.install(|| error_or_panic(0..30, 9, 4)));
        assert_eq!(text, "panic at 4", "{name}");
    }
}

// ---------------------------------------------------------------------------
// `#[derive(Reduce)]` shapes, `crate = ...`, `mut` split bindings
// ---------------------------------------------------------------------------

#[derive(shardkit::Reduce, Debug, PartialEq)]
struct CountAndPeak(u64, #[reduce(max)] Option<i64>);

#[derive(shardkit::Reduce, Debug, PartialEq)]
struct Span<T> {
    #[reduce(min)]
    low: T,
    #[reduce(max)]
    high: T,
    #[reduce(sum)]
    total: T,
}

#[test]
fn derived_tuple_and_generic_structs() {
    #[parallelize(split = "xs", reduce = "sum")]
    fn count_and_peak(xs: &[i64]) -> CountAndPeak {
        CountAndPeak(xs.len() as u64, xs.iter().copied().max())
    }
    #[parallelize(split = "xs", reduce = "sum")]
    fn span(xs: &[i64]) -> Span<i64> {
        Span {
            low: xs.iter().copied().min().unwrap_or(i64::MAX),
            high: xs.iter().copied().max().unwrap_or(i64::MIN),
            total: xs.iter().sum(),
        }
    }
    let xs: Vec<i64> = (0..700).map(|i| (i * 37 % 101) - 50).collect();
    for (name, exec) in executors() {
        exec.install(|| {
            assert_eq!(count_and_peak(&xs), CountAndPeak(700, Some(50)), "{name}");
            assert_eq!(count_and_peak(&[]), CountAndPeak(0, None), "{name}");
            let want = Span {
                low: -50,
                high: 50,
                total: xs.iter().sum(),
            };
            assert_eq!(span(&xs), want, "{name}");
        });
    }
}

/// A crate that re-exports shardkit names it with `crate = "..."`.
mod reexport {
    pub use shardkit;
}

#[derive(reexport::shardkit::Reduce, Debug, PartialEq)]
#[reduce(crate = "crate::reexport::shardkit")]
struct Tally {
    n: usize,
}

#[reexport::shardkit::parallelize(
    split = "xs",
    reduce = "sum",
    crate = "crate::reexport::shardkit"
)]
fn tally(xs: &[u8]) -> Tally {
    Tally { n: xs.len() }
}

#[test]
fn crate_key_names_a_reexport() {
    assert_eq!(threads(3).install(|| tally(&[0; 321])), Tally { n: 321 });
}

#[test]
fn mut_split_binding_is_per_shard() {
    #[parallelize(split = "xs", reduce = "concat", block_size = 3)]
    fn sorted_blocks(mut xs: Vec<u32>) -> Vec<u32> {
        xs.sort_unstable();
        xs
    }
    let xs = vec![9, 2, 1, 6, 5, 4, 8, 7];
    for (name, exec) in executors() {
        assert_eq!(
            exec.install(|| sorted_blocks(xs.clone())),
            [1, 2, 9, 4, 5, 6, 7, 8],
            "{name}"
        );
    }
}

// ---------------------------------------------------------------------------
// Arrays of other dimensions
// ---------------------------------------------------------------------------

#[parallelize(split = "a", reduce = "sum")]
fn dyn_total(a: ndarray::ArrayViewD<f64>) -> f64 {
    a.sum()
}

#[test]
fn arrays_of_one_three_and_dynamic_dimensions() {
    #[parallelize(split = "a", reduce = "concat")]
    fn copy1(a: ndarray::ArrayView1<f64>) -> Array1<f64> {
        a.to_owned()
    }
    #[parallelize(split = "a", reduce = "sum", block_size = 2)]
    fn sum3(a: ndarray::ArrayView3<f64>) -> Array2<f64> {
        a.sum_axis(Axis(0))
    }
    let a1 = Array1::from_iter((0..500).map(f64::from));
    let empty = Array1::<f64>::zeros(0);
    let a3 = ndarray::Array3::from_shape_fn((5, 2, 3), |(i, j, k)| (i * 6 + j * 3 + k) as f64);
    let ad = ndarray::ArrayD::from_elem(ndarray::IxDyn(&[300, 2]), 0.5);
    for (name, exec) in executors() {
        exec.install(|| {
            assert_eq!(copy1(a1.view()), a1, "{name}");
            assert_eq!(copy1(empty.view()), empty, "{name}");
            assert_eq!(sum3(a3.view()), a3.sum_axis(Axis(0)), "{name}");
            assert_eq!(dyn_total(ad.view()), 300.0, "{name}");
        });
    }
}

/// A 0-dimensional array has no rows to cut: the call says so.
#[test]
#[should_panic(expected = "cannot split a 0-dimensional array")]
fn a_zero_dimensional_array_cannot_be_split() {
    let scalar = ndarray::ArrayD::from_elem(ndarray::IxDyn(&[]), 5.0);
    assert_eq!(Executor::serial().install(|| dyn_total(scalar.view())), 5.0);
}
