//! What `#[parallelize]` and `#[derive(Reduce)]` expand to name, and
//! nothing else: the facade re-exports this list as `shardkit::__private`,
//! and generated code reaches the runtime only through it. Not a public
//! API. Re-exports only; every item lives in the layer that owns it.

pub use crate::call::{
    assign, broadcast, digests, gather, lockstep, plan, plan_weighted, probe_contents,
    probe_output, run, run_result, split, Assignment, Broadcast,
};
pub use crate::plan::{
    Contents, ItemHasher, NoHash, Output, Outputs, Plan, Source, Split, ViaHash, Weigh,
};
pub use crate::reduce::{concat, custom, max, min, none, sum, Reduction};
pub use crate::wire::{
    Codec, ErrorOps, NoDisplay, NoFrom, NoSerde, Probe, RemoteError, ViaDisplay, ViaFrom, ViaSerde,
};
