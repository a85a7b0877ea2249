//! Does nothing: cargo requires a build script of a package with `links`,
//! and `links = "shardkit-runtime"` keeps two copies of the runtime (two
//! ambient executors, two MPI initialisations) out of one program.

fn main() {}
