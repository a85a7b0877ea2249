//! The arguments of `#[parallelize(...)]` and their parsing.

use proc_macro2::Span;
use syn::ext::IdentExt;
use syn::parse::{Parse, ParseStream};
use syn::{Expr, Ident, LitStr, Path, Token};

/// The keys the attribute accepts, in the order the docs list them.
const KEYS: &str = "`split`, `reduce`, `weights`, `block_size`, `data` or `crate`";

/// The named reductions, as written in `reduce = "..."`.
const OPS: &str = "`sum`, `concat`, `min`, `max`, `none`";

/// A reduction: one of the named operations or a merge function.
#[derive(Clone)]
pub(crate) enum Reduction {
    /// A named operation, with its literal.
    Op(Op, LitStr),
    /// `reduce = path::to::merge`.
    Merge(Path),
}

#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Op {
    Sum,
    Concat,
    Min,
    Max,
    None,
}

impl Op {
    fn from_name(name: &str) -> Option<Op> {
        Some(match name {
            "sum" => Op::Sum,
            "concat" => Op::Concat,
            "min" => Op::Min,
            "max" => Op::Max,
            "none" => Op::None,
            _ => return None,
        })
    }

    pub(crate) fn name(self) -> &'static str {
        match self {
            Op::Sum => "sum",
            Op::Concat => "concat",
            Op::Min => "min",
            Op::Max => "max",
            Op::None => "none",
        }
    }
}

/// One name in `split = "a, b"`.
pub(crate) struct SplitName {
    pub(crate) name: String,
}

/// The parsed `split` key: the names, and the literal for error spans.
pub(crate) struct SplitArg {
    pub(crate) names: Vec<SplitName>,
    pub(crate) lit: LitStr,
}

/// Everything inside `#[parallelize(...)]`. Each key keeps the span of the
/// key itself, for "missing" and "conflicting" errors.
#[derive(Default)]
pub(crate) struct Args {
    pub(crate) split: Option<SplitArg>,
    pub(crate) reduce: Option<Reduction>,
    pub(crate) weights: Option<(Ident, Expr)>,
    pub(crate) block_size: Option<(Ident, Expr)>,
    pub(crate) krate: Option<Path>,
    /// `data = "local"`: every MPI rank passes its own part of the data.
    pub(crate) local: bool,
}

impl Parse for Args {
    fn parse(input: ParseStream<'_>) -> syn::Result<Self> {
        let mut args = Args::default();
        let mut seen: Vec<String> = Vec::new();
        while !input.is_empty() {
            let key = input.call(Ident::parse_any)?;
            let name = key.to_string();
            if seen.contains(&name) {
                return Err(syn::Error::new(
                    key.span(),
                    format!("duplicate key `{name}`; give each key once"),
                ));
            }
            if !matches!(
                name.as_str(),
                "split" | "reduce" | "weights" | "block_size" | "data" | "crate"
            ) {
                let hint = match name.as_str() {
                    "splits" | "shard" | "shards" | "scatter" | "list" => "; did you mean `split`?",
                    "reduction" | "reducer" | "op" | "combine" | "merge" => {
                        "; did you mean `reduce`?"
                    }
                    "weight" | "cost" => "; did you mean `weights`?",
                    "block" | "blocksize" | "chunk" | "chunk_size" | "batch_size" => {
                        "; did you mean `block_size`?"
                    }
                    "local" | "distributed" | "mode" | "inputs" => "; did you mean `data`?",
                    _ => "",
                };
                return Err(syn::Error::new(
                    key.span(),
                    format!("unknown key `{name}`; expected one of {KEYS}{hint}"),
                ));
            }
            let other = match name.as_str() {
                "weights" => "block_size",
                "block_size" => "weights",
                _ => "",
            };
            if seen.iter().any(|k| k == other) {
                return Err(syn::Error::new(
                    key.span(),
                    "`weights` and `block_size` cannot be combined: `weights` cuts blocks of equal total weight, `block_size` blocks of equal item count; keep one",
                ));
            }
            seen.push(name.clone());
            input.parse::<Token![=]>()?;
            match name.as_str() {
                "split" => args.split = Some(parse_split(input.parse()?)?),
                "reduce" => args.reduce = Some(parse_reduce(input)?),
                "weights" => args.weights = Some((key, input.parse()?)),
                "block_size" => {
                    let size: Expr = input.parse()?;
                    if let Expr::Lit(syn::ExprLit {
                        lit: syn::Lit::Int(n),
                        ..
                    }) = &size
                    {
                        if n.base10_parse::<u128>()? == 0 {
                            return Err(syn::Error::new(
                                n.span(),
                                "`block_size` must be at least 1: it is the number of items in each block",
                            ));
                        }
                    }
                    args.block_size = Some((key, size));
                }
                "data" => {
                    let lit: LitStr = input.parse()?;
                    args.local = match lit.value().trim() {
                        "local" => true,
                        "same" => false,
                        other => {
                            return Err(syn::Error::new(
                                lit.span(),
                                format!("unknown `data` mode `{other}`; expected `\"same\"` (the default: every MPI rank passes the same data, and the ranks share out its blocks) or `\"local\"` (every rank passes its own part, and only the reduction is global)"),
                            ))
                        }
                    };
                }
                _ => {
                    let lit: LitStr = input.parse()?;
                    args.krate = Some(lit.parse().map_err(|_| {
                        syn::Error::new(
                            lit.span(),
                            "`crate` must name the path of the `shardkit` crate, e.g. `crate = \"::my_reexport::shardkit\"`",
                        )
                    })?);
                }
            }
            if input.is_empty() {
                break;
            }
            input.parse::<Token![,]>()?;
        }
        Ok(args)
    }
}

fn parse_split(lit: LitStr) -> syn::Result<SplitArg> {
    let text = lit.value();
    let mut names: Vec<SplitName> = Vec::new();
    for part in text.split(',') {
        let part = part.trim();
        if part.is_empty() {
            continue;
        }
        if syn::parse_str::<Ident>(part).is_err() {
            return Err(syn::Error::new(
                lit.span(),
                format!("`split` takes parameter names separated by commas, e.g. `split = \"files, labels\"`; `{part}` is not a name"),
            ));
        }
        if names.iter().any(|n| n.name == part) {
            return Err(syn::Error::new(
                lit.span(),
                format!("parameter `{part}` is named twice in `split`; name each parameter once"),
            ));
        }
        names.push(SplitName {
            name: part.to_string(),
        });
    }
    if names.is_empty() {
        return Err(syn::Error::new(
            lit.span(),
            "`split` names no parameter; name the parameters to shard, e.g. `split = \"files\"`",
        ));
    }
    Ok(SplitArg { names, lit })
}

fn parse_reduce(input: ParseStream<'_>) -> syn::Result<Reduction> {
    if input.peek(LitStr) {
        let lit: LitStr = input.parse()?;
        let name = lit.value();
        return match Op::from_name(name.trim()) {
            Some(op) => Ok(Reduction::Op(op, lit)),
            None => {
                let hint = if syn::parse_str::<Path>(&name).is_ok() {
                    format!("; to merge with a function, write its path without quotes: `reduce = {name}`")
                } else {
                    String::new()
                };
                Err(syn::Error::new(
                    lit.span(),
                    format!("unknown reduction `{name}`; expected one of {OPS}, or the path of a merge function `fn(T, T) -> T`{hint}"),
                ))
            }
        };
    }
    let path: Path = input.parse()?;
    if let Some(ident) = path.get_ident() {
        if Op::from_name(&ident.to_string()).is_some() {
            return Err(syn::Error::new(
                ident.span(),
                format!("write the reduction as a string: `reduce = \"{ident}\"`; an unquoted name is a merge function (write `self::{ident}` for a function of yours with that name)"),
            ));
        }
    }
    Ok(Reduction::Merge(path))
}

/// Where to point when the attribute lacks a key: the attribute itself.
pub(crate) fn missing(key: &str) -> syn::Error {
    let example = "#[parallelize(split = \"files\", reduce = \"sum\")]";
    let what = match key {
        "split" => "name the parameters to shard",
        _ => "say how the shards' results combine: `sum`, `concat`, `min`, `max`, `none` or a merge function",
    };
    syn::Error::new(
        Span::call_site(),
        format!("missing `{key}`: {what}, e.g. `{example}`"),
    )
}
