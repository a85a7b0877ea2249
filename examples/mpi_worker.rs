//! The worker that tests/mpi.rs launches under `mpirun -n 1..4` (and
//! without mpirun, for the threaded reference). Every rank prints one line
//! per check, prefixed with its rank, so the test can compare runs.
//!
//! ```text
//! cargo build --features mpi --example mpi_worker
//! mpirun -n 3 target/debug/examples/mpi_worker sum
//! ```
#![deny(warnings)]

use shardkit::{parallelize, Executor, Reduce};

/// Statistics of a set of values, merged field by field.
#[derive(Reduce, Debug, PartialEq)]
struct Moments {
    count: u64,
    sum: Vec<f64>,
    sum_sq: Vec<f64>,
    #[reduce(min)]
    lowest: f64,
    #[reduce(max)]
    highest: f64,
}

/// Values spanning many magnitudes, so the order of addition matters.
fn data(n: usize) -> Vec<f64> {
    let mut x = 0x2545_f491_4f6c_dd1du64;
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let mantissa = (x >> 11) as f64 / (1u64 << 53) as f64 - 0.5;
            let exponent = ((x >> 3) % 40) as i32 - 20;
            mantissa * 2f64.powi(exponent)
        })
        .collect()
}

#[parallelize(split = "xs", reduce = "sum")]
fn moments(xs: &[f64], dims: usize) -> Moments {
    let mut m = Moments {
        count: 0,
        sum: vec![0.0; dims],
        sum_sq: vec![0.0; dims],
        lowest: f64::INFINITY,
        highest: f64::NEG_INFINITY,
    };
    for (i, &x) in xs.iter().enumerate() {
        m.count += 1;
        m.sum[i % dims] += x;
        m.sum_sq[i % dims] += x * x;
        m.lowest = m.lowest.min(x);
        m.highest = m.highest.max(x);
    }
    m
}

#[parallelize(split = "xs", reduce = "sum", block_size = 10)]
fn plain_total(xs: &[f64]) -> f64 {
    xs.iter().sum()
}

#[parallelize(split = "ids", reduce = "max", block_size = 7)]
fn checked(ids: std::ops::Range<usize>, bad: usize) -> Result<Option<usize>, std::io::Error> {
    if ids.contains(&bad) {
        return Err(std::io::Error::other(format!("item {bad} is bad")));
    }
    Ok(ids.max())
}

#[parallelize(split = "ids", reduce = "sum")]
fn explode(ids: std::ops::Range<usize>, bad: usize) -> u64 {
    if ids.contains(&bad) {
        panic!("item {bad} exploded");
    }
    ids.len() as u64
}

fn main() {
    let scenario = std::env::args().nth(1).unwrap_or_else(|| "sum".into());
    let exec = Executor::current();
    let (rank, size) = exec.rank();
    let say = |line: String| println!("rank {rank}: {line}");
    match scenario.as_str() {
        "sum" => {
            let xs = data(20_000);
            let m = moments(&xs, 3);
            let bits: Vec<String> = m
                .sum
                .iter()
                .chain(&m.sum_sq)
                .chain([&m.lowest, &m.highest])
                .map(|x| format!("{:016x}", x.to_bits()))
                .collect();
            say(format!("moments {} {}", m.count, bits.join(" ")));
            let t = plain_total(&xs);
            say(format!("total {:016x}", t.to_bits()));
            // The same call on this rank's threads alone gives the same bits.
            let alone = Executor::serial().install(|| moments(&xs, 3));
            assert_eq!(alone, m, "ranks and one thread disagree");
        }
        "error" => match checked(0..1000, 500) {
            Ok(v) => say(format!("ok {v:?}")),
            Err(e) => say(format!("error {e}")),
        },
        "panic" => {
            let n = explode(0..1000, 990);
            say(format!("no panic {n}"));
        }
        "mismatch" => {
            let xs = data(100 + rank);
            say(format!("{}", plain_total(&xs)));
        }
        other => panic!("unknown scenario {other}"),
    }
    if scenario == "sum" {
        say(format!("of {size}"));
    }
}
