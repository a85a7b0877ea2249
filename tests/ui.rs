//! The compile-fail rulebook of `#[parallelize]` and `#[derive(Reduce)]`:
//! one rule per file under `tests/ui/<group>/`, each with the compiler's
//! expected message in a `.stderr` beside it. Re-bless after an intended
//! change with `TRYBUILD=overwrite cargo test --test ui` and review the diff.
//!
//! Only run on stable: compiler messages drift between channels.
//!
//! trybuild colours its report whenever `TERM` is set (and not `dumb`),
//! even into a file or a pipe, and ignores `CARGO_TERM_COLOR`; set
//! `NO_COLOR=1` for a log without ANSI escapes (as `.ci/run` does).

#[rustversion::stable]
#[test]
fn ui() {
    let t = trybuild::TestCases::new();
    t.pass("tests/ui/pass/*.rs");
    t.compile_fail("tests/ui/args/*.rs");
    t.compile_fail("tests/ui/split/*.rs");
    t.compile_fail("tests/ui/reduce/*.rs");
    t.compile_fail("tests/ui/signature/*.rs");
    t.compile_fail("tests/ui/derive/*.rs");
}
