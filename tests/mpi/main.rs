//! MPI behaviour: launches the driver (`tests/mpi/driver`) under `mpirun
//! -n 1..4` (oversubscribed, so it runs on a 2-core machine), each run
//! bounded by a timeout, and compares with the threaded run of the same
//! program.
//!
//! `cargo test --features mpi --test mpi` is all it takes: the first test
//! that needs the driver builds it (see [`driver`]). Skips (with a message)
//! when `mpirun` is not installed.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// The driver program, built once per run of this test binary.
///
/// It is a workspace member of its own (it needs `clap` and `ndarray`,
/// which a binary of the `shardkit` package could only have as regular
/// dependencies of the published crate), so cargo does not build it for
/// this test: the test runs `cargo build` itself, and says so on standard
/// error. It builds into a target directory of its own,
/// `target/mpi-driver`, so that it never waits for the lock of the build
/// directory that this test runs from; the first build compiles the
/// dependencies once more (a few minutes), later ones only check that
/// nothing changed.
fn driver() -> &'static Path {
    static DRIVER: OnceLock<PathBuf> = OnceLock::new();
    DRIVER.get_or_init(|| {
        // <target>/<profile>/deps/mpi-<hash>: the target directory is three up.
        let exe = std::env::current_exe().expect("the test binary has a path");
        let target = exe
            .ancestors()
            .nth(3)
            .expect("the test binary is in <target>/<profile>/deps");
        let target_dir = target.join("mpi-driver");
        let manifest = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/mpi/driver/Cargo.toml");
        let mut build = Command::new(env!("CARGO"));
        build
            .args(["build", "--features", "mpi", "--manifest-path"])
            .arg(&manifest)
            .arg("--target-dir")
            .arg(&target_dir);
        // Straight to standard error, past the test harness's capture, like
        // cargo's own output that follows.
        let _ = writeln!(
            std::io::stderr(),
            "building the MPI driver (the first time takes a few minutes): {build:?}"
        );
        let status = build.status().expect("cargo starts");
        assert!(
            status.success(),
            "building the MPI driver failed: {build:?}"
        );
        let program = target_dir.join("debug").join("mpi-driver");
        assert!(program.is_file(), "no driver at {}", program.display());
        program
    })
}

fn have_mpirun() -> bool {
    Command::new("mpirun").arg("--version").output().is_ok()
}

/// Runs the driver under `mpirun -n ranks` with `threads` per rank, killed
/// after 60 s (the job must end by itself far sooner).
fn mpirun(ranks: usize, threads: usize, scenario: &str) -> (Output, Duration) {
    mpirun_with(ranks, threads, scenario, &[])
}

/// [`mpirun`] with extra environment variables.
fn mpirun_with(
    ranks: usize,
    threads: usize,
    scenario: &str,
    env: &[(&str, &str)],
) -> (Output, Duration) {
    mpirun_args(ranks, threads, &[scenario], env)
}

/// [`mpirun_with`] with more arguments for the driver.
fn mpirun_args(
    ranks: usize,
    threads: usize,
    args: &[&str],
    env: &[(&str, &str)],
) -> (Output, Duration) {
    // Built (if need be) before the clock starts.
    let program = driver();
    let start = Instant::now();
    let out = Command::new("timeout")
        .args([
            "-k",
            "10",
            "60",
            "mpirun",
            "--oversubscribe",
            "--bind-to",
            "none",
        ])
        .args(["--timeout", "50", "-n", &ranks.to_string()])
        .arg(program)
        .args(args)
        .env("OMPI_ALLOW_RUN_AS_ROOT", "1")
        .env("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1")
        .env("OMPI_MCA_rmaps_base_oversubscribe", "1")
        .env("SHARDKIT_THREADS", threads.to_string())
        .env("RUST_BACKTRACE", "0")
        .envs(env.iter().copied())
        .output()
        .expect("mpirun starts");
    (out, start.elapsed())
}

/// Rank `rank`'s lines of the output, without the `rank N: ` prefix.
fn lines_of(out: &Output, rank: usize) -> Vec<String> {
    let prefix = format!("rank {rank}: ");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.strip_prefix(&prefix).map(str::to_string))
        .filter(|l| !l.starts_with("of "))
        .collect()
}

macro_rules! require_mpirun {
    () => {
        if !have_mpirun() {
            eprintln!("skipped: no mpirun on this machine");
            return;
        }
    };
}

/// The driver's lines for `scenario` on two threads, without mpirun.
fn threaded(scenario: &str) -> Vec<String> {
    let reference = Command::new(driver())
        .arg(scenario)
        .env("SHARDKIT_THREADS", "2")
        .output()
        .expect("the driver runs without mpirun");
    assert!(reference.status.success(), "{reference:?}");
    lines_of(&reference, 0)
}

/// Runs `scenario` on 1x1, 2x1, 3x2 and 4x1 ranks x threads, and on 3x1
/// with 64-byte collective rounds, and checks that every rank prints the
/// threaded run's `lines` lines.
fn same_lines_as_threaded(scenario: &str, lines: usize) {
    let want = threaded(scenario);
    assert_eq!(want.len(), lines, "{want:?}");
    for (ranks, threads, chunk) in [
        (1, 1, None),
        (2, 1, None),
        (3, 2, None),
        (4, 1, None),
        (3, 1, Some("64")),
    ] {
        let env: Vec<(&str, &str)> = chunk
            .map(|c| ("SHARDKIT_MPI_CHUNK_BYTES", c))
            .into_iter()
            .collect();
        let (out, _) = mpirun_with(ranks, threads, scenario, &env);
        assert!(
            out.status.success(),
            "{ranks} ranks x {threads} threads: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        for rank in 0..ranks {
            assert_eq!(
                lines_of(&out, rank),
                want,
                "{scenario}: rank {rank} of {ranks} x {threads} threads, chunk {chunk:?}"
            );
        }
    }
}

#[test]
fn sums_have_the_same_bits_for_any_ranks_and_threads() {
    require_mpirun!();
    // The chunked run reduces in rounds of 8 words.
    same_lines_as_threaded("sum", 2);
}

#[test]
fn an_error_on_one_rank_is_an_error_on_every_rank() {
    require_mpirun!();
    let (out, _) = mpirun(3, 1, "error");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Item 500 of 1000 in blocks of 7 is block 71, on the middle rank.
    // An io::Error reaches the others as a RemoteError; an error type with
    // serde reaches them as itself, the failing rank's value.
    let typed = "typed BadItem { item: 500, first: 497 }";
    let failing = lines_of(&out, 1);
    assert_eq!(failing, ["error item 500 is bad", typed]);
    for rank in [0, 2] {
        assert_eq!(
            lines_of(&out, rank),
            [
                "error `checked` failed on MPI rank 1, block 71: item 500 is bad",
                typed
            ],
            "rank {rank}"
        );
    }
}

/// The communication counters: on every rank the same collectives per call
/// and kind; an all-gather's bytes received are the other ranks' bytes
/// sent; an all-reduce sends and receives its buffer; a broadcast's root
/// sends what every other rank receives. `SHARDKIT_STATS=1` prints each
/// rank's table at exit.
#[test]
fn communication_is_counted_per_call_and_collective() {
    require_mpirun!();
    let ranks = 3;
    let (out, _) = mpirun_with(ranks, 1, "counters", &[("SHARDKIT_STATS", "1")]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    type Row = (String, String, u64, u64, u64);
    let rows: Vec<Vec<Row>> = (0..ranks)
        .map(|rank| {
            lines_of(&out, rank)
                .iter()
                .filter_map(|l| l.strip_prefix("count "))
                .map(|l| {
                    let f: Vec<&str> = l.split(' ').collect();
                    let n = |i: usize| f[i].parse::<u64>().unwrap();
                    (f[0].to_owned(), f[1].to_owned(), n(2), n(3), n(4))
                })
                .collect()
        })
        .collect();
    let calls: Vec<&str> = rows[0].iter().map(|r| r.0.as_str()).collect();
    assert!(
        calls.contains(&"plain_total") && calls.contains(&"squares"),
        "{calls:?}"
    );
    assert!(
        rows[0].iter().any(|r| r.1 == "allreduce"),
        "the exact sum reduces: {:?}",
        rows[0]
    );
    assert!(
        rows[0].iter().any(|r| r.1 == "allgatherv"),
        "the concat gathers: {:?}",
        rows[0]
    );
    for (i, row) in rows[0].iter().enumerate() {
        let (call, op, count) = (&row.0, &row.1, row.2);
        let of_rank: Vec<&Row> = rows.iter().map(|r| &r[i]).collect();
        for r in &of_rank {
            assert_eq!(
                (&r.0, &r.1, r.2),
                (call, op, count),
                "the same collectives on every rank"
            );
        }
        let sent: u64 = of_rank.iter().map(|r| r.3).sum();
        match op.as_str() {
            "allgather" | "allgatherv" => {
                for r in &of_rank {
                    assert_eq!(r.3 + r.4, sent, "{call} {op}: own + received = all sent");
                }
            }
            "allreduce" | "allreduce-keys" => {
                for r in &of_rank {
                    assert_eq!((r.3, r.4), (of_rank[0].3, of_rank[0].3), "{call} {op}");
                }
            }
            "bcast" => {
                let received: u64 = of_rank.iter().map(|r| r.4).sum();
                assert_eq!(received, sent * (ranks as u64 - 1), "{call} {op}");
            }
            other => panic!("unknown collective {other}"),
        }
    }
    let stderr = String::from_utf8_lossy(&out.stderr);
    for rank in 0..ranks {
        assert!(stderr.contains(&format!("rank {rank}: total")), "{stderr}");
        assert!(
            stderr.contains(&format!("rank {rank}: plain_total")),
            "{stderr}"
        );
    }
}

#[test]
fn a_panic_on_one_rank_ends_the_job() {
    require_mpirun!();
    let (out, took) = mpirun(3, 2, "panic");
    assert!(!out.status.success());
    assert!(took < Duration::from_secs(45), "the job hung for {took:?}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("item 990 exploded"), "{stderr}");
    assert!(stderr.contains("aborting the job"), "{stderr}");
    assert!(
        lines_of(&out, 0).is_empty(),
        "no rank went on after the panic"
    );
}

#[test]
fn different_inputs_on_different_ranks_are_refused_on_every_rank() {
    require_mpirun!();
    let (out, took) = mpirun(2, 1, "mismatch");
    assert!(!out.status.success());
    assert!(took < Duration::from_secs(45), "the job hung for {took:?}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("was called with different split inputs on different MPI ranks: rank 0 has 100 items in 10 blocks, rank 1 has 101 items in 11 blocks"),
        "{stderr}"
    );
}

#[test]
fn split_inputs_of_the_same_length_that_differ_are_refused() {
    require_mpirun!();
    let (out, took) = mpirun(2, 1, "same-length");
    assert!(!out.status.success());
    assert!(took < Duration::from_secs(45), "the job hung for {took:?}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("`name_bytes` was called with different split inputs on different MPI ranks: ranks 0 and 1 both have 2 items in 2 blocks, but their lists differ (the digests of their item weights and block bounds, "),
        "{stderr}"
    );
    // Without weights, the items themselves are compared.
    let (out, took) = mpirun(2, 1, "same-length-unweighted");
    assert!(!out.status.success());
    assert!(took < Duration::from_secs(45), "the job hung for {took:?}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("`name_count` was called with different split inputs on different MPI ranks: ranks 0 and 1 both have 2 items in 2 blocks, but their lists differ (the digests of their items, "),
        "{stderr}"
    );
}

#[test]
fn concat_merges_and_in_place_outputs_reach_every_rank_with_the_threaded_bits() {
    require_mpirun!();
    // The chunked run cuts every transfer into 64-byte rounds.
    same_lines_as_threaded("gather", 7);
}

#[test]
fn rank_local_data_is_reduced_globally() {
    require_mpirun!();
    for ranks in [1, 2, 3] {
        let (out, _) = mpirun(ranks, 1, "local");
        assert!(
            out.status.success(),
            "{ranks} ranks: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        // Rank r holds 70·(r+1) values: the sum covers them all.
        let n: usize = (1..=ranks).map(|r| 70 * r).sum();
        let first = lines_of(&out, 0);
        assert_eq!(first.len(), 3, "{first:?}");
        assert!(
            first[0].starts_with(&format!("local-total {n} ")),
            "{first:?}"
        );
        for rank in 1..ranks {
            assert_eq!(lines_of(&out, rank), first, "rank {rank} of {ranks}");
        }
    }
}

#[test]
fn kmeans_on_rank_local_files_has_the_bits_of_one_process() {
    require_mpirun!();
    // Four files (and the same parts as rows) shared out between 1-4
    // ranks: every rank prints the threaded run's centroids, inertia and
    // iterations (and the driver checks them against a serial fit over
    // every file).
    same_lines_as_threaded("kmeans", 4);
}

#[test]
fn results_that_cannot_travel_are_refused_on_every_rank() {
    require_mpirun!();
    let (out, took) = mpirun(2, 1, "opaque");
    assert!(!out.status.success());
    assert!(took < Duration::from_secs(45), "the job hung for {took:?}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("`opaque` returns `"), "{stderr}");
    assert!(
        stderr.contains("Opaque>`, whose values cannot travel between MPI ranks"),
        "{stderr}"
    );
}

#[test]
fn a_rank_killed_mid_run_ends_the_job() {
    require_mpirun!();
    let (out, took) = mpirun(3, 1, "sigkill");
    assert!(!out.status.success(), "{out:?}");
    assert!(took < Duration::from_secs(45), "the job hung for {took:?}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("signal 9"), "{stderr}");
    for rank in 0..3 {
        assert!(lines_of(&out, rank).is_empty(), "rank {rank} went on");
    }
}

#[test]
fn rank_zero_writes_and_every_rank_learns_the_outcome() {
    require_mpirun!();
    let dir = std::env::temp_dir().join(format!("shardkit-mpi-write-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("model.txt");
    let (out, _) = mpirun_args(3, 1, &["write", path.to_str().unwrap()], &[]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for rank in 0..3 {
        assert_eq!(lines_of(&out, rank), ["write ok"], "rank {rank}");
    }
    assert_eq!(
        std::fs::read_to_string(&path).unwrap(),
        "written by rank 0\n"
    );
    assert_eq!(
        std::fs::read_dir(&dir).unwrap().count(),
        1,
        "a temporary file was left"
    );

    let bad = dir.join("missing-folder").join("model.txt");
    let (out, took) = mpirun_args(3, 1, &["write", bad.to_str().unwrap()], &[]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(took < Duration::from_secs(45), "the job hung for {took:?}");
    for rank in 0..3 {
        let lines = lines_of(&out, rank);
        assert_eq!(lines.len(), 1, "rank {rank}: {lines:?}");
        assert!(
            lines[0].starts_with("write error: "),
            "rank {rank}: {lines:?}"
        );
        assert!(
            lines[0].contains("missing-folder/model.txt"),
            "rank {rank}: {lines:?}"
        );
        if rank > 0 {
            assert!(
                lines[0].contains("on MPI rank 0: "),
                "rank {rank}: {lines:?}"
            );
        }
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_communicator_of_the_programs_own_is_an_executor() {
    require_mpirun!();
    let (out, _) = mpirun(4, 1, "split");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for rank in 0..4 {
        let want = format!("half {} rank {} of 2 ok", rank % 2, rank / 2);
        assert_eq!(lines_of(&out, rank), [want], "rank {rank}");
    }
}

/// The standard error of a job that must end with an error, soon.
fn failed_soon(out: &Output, took: Duration) -> String {
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(!out.status.success(), "{stderr}");
    assert!(
        took < Duration::from_secs(20),
        "the job took {took:?}: {stderr}"
    );
    stderr
}

/// The shardkit line of `stderr` that contains `needle`.
fn shardkit_line<'s>(stderr: &'s str, needle: &str) -> &'s str {
    stderr
        .lines()
        .find(|l| l.starts_with("shardkit: ") && l.contains(needle))
        .unwrap_or_else(|| panic!("no shardkit line with {needle:?} in: {stderr}"))
}

const SHORT_TIMEOUT: [(&str, &str); 1] = [("SHARDKIT_MPI_TIMEOUT", "2")];

#[test]
fn a_rank_that_ends_its_program_early_ends_the_job_at_once() {
    require_mpirun!();
    // Rank 0 makes 3 calls and exits; rank 1 starts a 4th.
    let (out, took) = mpirun_with(2, 1, "fewer-calls", &SHORT_TIMEOUT);
    let stderr = failed_soon(&out, took);
    let line = shardkit_line(&stderr, "different calls");
    assert_eq!(
        line,
        "shardkit: MPI ranks reached different calls at the same step: rank 0 has finished its program (after 3 calls), rank 1 is at the start of call #4 (`plain_total`); every rank must make the same #[parallelize] calls (and write_on_root / claim_output calls) in the same order, so these ranks made different numbers of calls or called different functions"
    );
    assert!(
        !stderr.contains("waited"),
        "no timeout was needed: {stderr}"
    );
    assert_eq!(lines_of(&out, 1), Vec::<String>::new(), "rank 1 went on");
}

#[test]
fn a_rank_that_waits_too_long_names_the_rank_it_waits_for() {
    require_mpirun!();
    // Rank 0 stays in its own code after 3 calls; ranks 1 and 2 wait at
    // the start of a 4th, and one of them reports after 2 s.
    let (out, took) = mpirun_with(3, 1, "stalled", &SHORT_TIMEOUT);
    let stderr = failed_soon(&out, took);
    let line = shardkit_line(&stderr, "waited");
    assert!(
        line.contains(" at the start of call #4 (`plain_total`) for rank 0, which is still in call #3 (`plain_total`) or in the program's own code after it"),
        "{line}"
    );
    let (reporter, other) = if line.starts_with("shardkit: rank 1 waited ") {
        (1, 2)
    } else {
        (2, 1)
    };
    assert!(
        line.starts_with(&format!("shardkit: rank {reporter} waited 2")),
        "{line}"
    );
    assert!(
        line.contains(&format!(
            "; meanwhile rank {other} is at the start of call #4 (`plain_total`); "
        )),
        "{line}"
    );
    assert!(
        line.contains("raise SHARDKIT_MPI_TIMEOUT (now 2 s)"),
        "{line}"
    );
    assert_eq!(
        stderr.matches(" waited ").count(),
        1,
        "one rank reports: {stderr}"
    );

    // Rank 0 stalls inside a call: the others wait in it.
    let (out, took) = mpirun_with(2, 1, "stalled-in-call", &SHORT_TIMEOUT);
    let stderr = failed_soon(&out, took);
    let line = shardkit_line(&stderr, "waited");
    assert!(line.starts_with("shardkit: rank 1 waited 2"), "{line}");
    assert!(
        line.contains(
            " in call #1 (`stall`) for rank 0, which is still working in call #1 (`stall`); "
        ),
        "{line}"
    );
}

#[test]
fn ranks_in_different_functions_at_the_same_step_are_stopped_at_once() {
    require_mpirun!();
    let (out, took) = mpirun_with(3, 1, "different", &SHORT_TIMEOUT);
    let stderr = failed_soon(&out, took);
    let line = shardkit_line(&stderr, "different calls");
    assert!(
        line.contains("at the same step: rank 0 is at the start of call #1 (`plain_total`), ranks 1 and 2 are at the start of call #1 (`squares`); "),
        "{line}"
    );
    assert!(
        !stderr.contains("waited"),
        "no timeout was needed: {stderr}"
    );
    for rank in 0..3 {
        assert!(lines_of(&out, rank).is_empty(), "rank {rank} went on");
    }
}

#[test]
fn a_malformed_timeout_is_refused_naming_the_variable() {
    require_mpirun!();
    let (out, took) = mpirun_with(2, 1, "sum", &[("SHARDKIT_MPI_TIMEOUT", "0")]);
    let stderr = failed_soon(&out, took);
    assert!(
        stderr.contains("SHARDKIT_MPI_TIMEOUT=`0` is not a number of seconds from 1 to 604800"),
        "{stderr}"
    );
}
