//! The `#[parallelize]` attribute and `#[derive(Reduce)]` of shardkit.
//!
//! Use them through the `shardkit` crate: the code they generate names the
//! runtime as `::shardkit::__private`.
#![warn(missing_docs, unreachable_pub)]

use proc_macro::TokenStream;
use quote::ToTokens;

mod args;
mod derive;
mod expand;
mod sig;

/// Runs a function written for one shard on every shard of its data, and
/// merges the shards' results.
///
/// ```
/// use shardkit::parallelize;
///
/// #[parallelize(split = "xs", reduce = "sum")]
/// fn sum_of_squares(xs: &[f64]) -> f64 {
///     xs.iter().map(|x| x * x).sum()
/// }
///
/// let xs: Vec<f64> = (0..1000).map(f64::from).collect();
/// assert_eq!(sum_of_squares(&xs), 332_833_500.0);
/// ```
///
/// The body is written for one shard; the attribute cuts the `split`
/// parameters into blocks, runs the body once per block on the ambient
/// [`Executor`](../shardkit/struct.Executor.html) (a thread pool by default),
/// and merges the block results **in block order**. Callers call the function
/// as usual.
///
/// # Keys
///
/// | key | value | meaning |
/// |---|---|---|
/// | `split` | `"a"` or `"a, b"` (required) | parameters cut into shards, in lockstep |
/// | `reduce` | `"sum"`, `"concat"`, `"min"`, `"max"`, `"none"` or a path (required) | how block results merge |
/// | `weights` | a function `fn(&Item) -> u64` | cut blocks of equal total weight instead of equal item count |
/// | `block_size` | an expression of type `usize` | items per block instead of the default |
/// | `data` | `"same"` (default) or `"local"` | under MPI: every rank passes the same data, or its own part |
/// | `crate` | `"path"` | where the `shardkit` crate is, for crates that re-export it |
///
/// ## `split`
///
/// Each named parameter must be one of `&[T]`, `&mut [T]` (an output written
/// in place: each shard gets its own disjoint part), `Vec<T>`, `&Vec<T>`,
/// `Range<usize>`, or an ndarray `ArrayView`, `ArrayViewMut`, `&Array` or
/// `Array` (cut along axis 0). Several parameters are cut in lockstep and
/// must have equal lengths; the call panics, naming both, when they do not.
/// `&Vec<T>` and `&Array` shards are copies of their block (the body asked
/// for a `&Vec`); prefer `&[T]` and `ArrayView` to avoid the copy.
///
/// Every other parameter is *broadcast*: each shard sees the same value, by
/// shared reference, so it must be `Sync`, and it cannot be `&mut` or `mut`.
/// `&self` is broadcast too; `&mut self` is refused.
///
/// ## `reduce`
///
/// - `"sum"`: [`Reduce`](../shardkit/trait.Reduce.html): numbers add;
///   tuples, `Vec`s, ndarray arrays add element-wise; `#[derive(Reduce)]`
///   structs add field by field.
/// - `"min"` / `"max"`: [`Extremum`](../shardkit/trait.Extremum.html),
///   element-wise.
/// - `"concat"`: [`Concat`](../shardkit/trait.Concat.html): results are
///   appended in input order (`Vec`, `String`, arrays along axis 0).
/// - `"none"`: the function returns `()` or `Result<(), E>` and is run for
///   its effects (writing files, filling a `&mut [T]` output).
/// - `path::to::merge`: any `fn(T, T) -> T`, called as `merge(earlier,
///   later)`. It must be associative; it need not be commutative.
///
/// A body returning `Result<T, E>` merges the `T`s; the call returns the
/// error of the first failing block in block order.
///
/// ## Blocks and determinism
///
/// The input is cut into `min(len, 256)` blocks of near-equal size (or
/// `block_size` items each, or near-equal total `weights`) — a function of
/// the data alone, never of the number of workers. `sum`, `min` and `max`
/// of numeric results (numbers, tuples, `Vec`s, arrays, `Option`,
/// `#[derive(Reduce)]` structs) are combined exactly: each block's result
/// is converted to fixed point, the integers are added, and the total is
/// rounded once, so the result does not depend on the order or grouping of
/// the blocks. Other reductions merge the block results left to right. A
/// call therefore returns the same bits on the serial executor, on pools of
/// 1, 2, 3 or 16 threads, and on any number of MPI ranks. Empty input gives
/// one empty block, so the body still runs once.
///
/// ## MPI ranks (cargo feature `mpi`)
///
/// Under `mpirun`, every rank runs the same program. With `data = "same"`
/// (the default) every rank must pass the same split inputs (checked before
/// any work: a mismatch panics on every rank with one message); each rank
/// runs a contiguous run of the blocks on its own threads, and every rank
/// returns the whole result. Results that are not exact sums/minima/maxima
/// (`concat`, merge functions) and the items written into `&mut [T]` or
/// `ArrayViewMut` outputs are sent to every rank, so their types must
/// implement serde's `Serialize` and `Deserialize` (numbers, `String`,
/// `Vec` and ndarray arrays do).
///
/// With `data = "local"` each rank passes its own part (its own file list,
/// say): each rank runs all its blocks, the reduction covers the blocks of
/// every rank (numbered in rank order, so `concat` stacks rank 0's results
/// first), and in-place outputs stay each rank's own. Without MPI the two
/// modes are the same.
///
/// ## Errors and panics
///
/// A body returning `Err` makes the call return the first error in block
/// order; blocks after it that have not started are skipped. A panic in a
/// shard lets the blocks before it finish, then the call panics with the
/// first panic's payload in block order. Nothing aborts, nothing deadlocks.
/// Under MPI an `Err` on one rank is an `Err` on every rank (the others get
/// the failing rank, block and message through `From<RemoteError>`), and a
/// panic on one rank aborts the whole job with the panic's message.
///
/// ## Equivalent code without `#[parallelize]`
///
/// On the serial executor, a function with `reduce = merge` is
///
/// ```
/// fn merge(a: Vec<f64>, b: Vec<f64>) -> Vec<f64> {
///     [a, b].concat()
/// }
///
/// fn squares(xs: &[f64]) -> Vec<f64> {
///     let plan = shardkit::Plan::even(xs.len(), None);
///     let mut acc: Option<Vec<f64>> = None;
///     for block in plan.ranges() {
///         let part: Vec<f64> = xs[block].iter().map(|x| x * x).collect();
///         acc = Some(match acc { None => part, Some(a) => merge(a, part) });
///     }
///     acc.unwrap()
/// }
/// # assert_eq!(squares(&[1.0, 2.0]), [1.0, 4.0]);
/// ```
///
/// and the threaded executors return the same bits.
#[proc_macro_attribute]
pub fn parallelize(attr: TokenStream, item: TokenStream) -> TokenStream {
    let item2: proc_macro2::TokenStream = item.clone().into();
    let parsed_item = match syn::parse::<sig::MaybeItemFn>(item) {
        Ok(f) => f,
        Err(e) => {
            // Not a function: say so, and give the tokens back untouched.
            let e = syn::Error::new(
                e.span(),
                "`#[parallelize]` applies to functions: a free `fn` or a method taking `&self`",
            );
            let mut out = e.to_compile_error();
            out.extend(item2);
            return out.into();
        }
    };
    let args = match syn::parse::<args::Args>(attr) {
        Ok(args) => args,
        Err(e) => return fallback(&parsed_item, e),
    };
    match sig::validate(&args, &parsed_item) {
        Ok(shape) => expand::expand(&args, &parsed_item, &shape).into(),
        Err(e) => fallback(&parsed_item, e),
    }
}

/// `tokens` with every span set to `span`, so that an error about the
/// expression they form is reported at `span` (a parameter's type, the
/// return type) rather than at the attribute.
pub(crate) fn respan(
    tokens: proc_macro2::TokenStream,
    span: proc_macro2::Span,
) -> proc_macro2::TokenStream {
    tokens
        .into_iter()
        .map(|mut tt| {
            if let proc_macro2::TokenTree::Group(g) = &tt {
                let mut group = proc_macro2::Group::new(g.delimiter(), respan(g.stream(), span));
                group.set_span(span);
                tt = proc_macro2::TokenTree::Group(group);
            } else {
                tt.set_span(span);
            }
            tt
        })
        .collect()
}

/// The user's function, unchanged, plus the errors: one mistake gives one
/// error, with no follow-up errors about a missing function.
fn fallback(item: &sig::MaybeItemFn, error: syn::Error) -> TokenStream {
    let mut out = error.into_compile_error();
    item.to_tokens(&mut out);
    out.into()
}

/// Derives `shardkit::Reduce` for a struct: `identity` and `merge` field by
/// field. Fields merge with `sum` unless marked `#[reduce(min)]` or
/// `#[reduce(max)]`.
///
/// ```
/// use shardkit::Reduce;
///
/// #[derive(Reduce, Debug, PartialEq)]
/// struct Moments {
///     count: u64,
///     sum: Vec<f64>,
///     #[reduce(min)]
///     lowest: f64,
///     #[reduce(max)]
///     highest: f64,
/// }
///
/// let mut a = Moments { count: 2, sum: vec![1.0, 2.0], lowest: 0.5, highest: 3.0 };
/// a.merge(Moments { count: 1, sum: vec![1.0, 1.0], lowest: -1.0, highest: 2.0 });
/// assert_eq!(a, Moments { count: 3, sum: vec![2.0, 3.0], lowest: -1.0, highest: 3.0 });
/// ```
///
/// A crate that re-exports shardkit names it with
/// `#[reduce(crate = "path::to::shardkit")]` on the struct.
#[proc_macro_derive(Reduce, attributes(reduce))]
pub fn derive_reduce(input: TokenStream) -> TokenStream {
    match syn::parse::<syn::DeriveInput>(input) {
        Ok(input) => derive::derive_reduce(input).unwrap_or_else(|e| e.to_compile_error()),
        Err(e) => e.to_compile_error(),
    }
    .into()
}
