//! `sum` merges numbers, tuples, `Vec`s, arrays and `#[derive(Reduce)]` structs.
use shardkit::parallelize;

#[parallelize(split = "words", reduce = "sum")]
fn longest(words: &[String]) -> String {
    words.iter().max_by_key(|w| w.len()).cloned().unwrap_or_default()
}

fn main() {}
