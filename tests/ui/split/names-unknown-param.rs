//! `split` must name parameters of the function; the error lists them.
use shardkit::parallelize;

#[parallelize(split = "files", reduce = "sum")]
fn total(paths: &[String], scale: u64) -> u64 {
    paths.len() as u64 * scale
}

fn main() {}
