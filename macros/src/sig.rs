//! A typed view of the annotated function, and every rule it must follow.

use proc_macro2::{Span, TokenStream};
use quote::ToTokens;
use syn::parse::{Parse, ParseStream};
use syn::spanned::Spanned;
use syn::{
    Attribute, FnArg, GenericArgument, Ident, Pat, PathArguments, ReturnType, Signature, Type,
    Visibility,
};

use crate::args::{Args, Op, Reduction};

/// The function as written, with its body kept as raw tokens: the macro never
/// looks inside the body, so a half-typed body still expands (and
/// rust-analyzer keeps completing inside it).
pub(crate) struct MaybeItemFn {
    pub(crate) attrs: Vec<Attribute>,
    pub(crate) vis: Visibility,
    pub(crate) sig: Signature,
    pub(crate) body: TokenStream,
}

impl Parse for MaybeItemFn {
    fn parse(input: ParseStream<'_>) -> syn::Result<Self> {
        let attrs = input.call(Attribute::parse_outer)?;
        let vis: Visibility = input.parse()?;
        let sig: Signature = input.parse()?;
        let body: TokenStream = input.parse()?;
        Ok(MaybeItemFn {
            attrs,
            vis,
            sig,
            body,
        })
    }
}

impl ToTokens for MaybeItemFn {
    fn to_tokens(&self, tokens: &mut TokenStream) {
        for attr in &self.attrs {
            attr.to_tokens(tokens);
        }
        self.vis.to_tokens(tokens);
        self.sig.to_tokens(tokens);
        self.body.to_tokens(tokens);
    }
}

/// What the attribute does with a parameter.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Role {
    Split,
    Broadcast,
}

/// One named parameter.
pub(crate) struct Param {
    pub(crate) ident: Ident,
    pub(crate) mutability: Option<syn::token::Mut>,
    pub(crate) ty: Type,
    pub(crate) role: Role,
}

/// How the function returns its result.
pub(crate) enum Output {
    /// `-> T`, or nothing (`T = ()`).
    Plain(Type),
    /// `-> Result<T, E>` (any path ending in `Result`), with `E` when it is
    /// written out.
    Result(Type, Option<Box<Type>>),
}

/// The validated view that expansion works from.
pub(crate) struct Shape {
    /// Parameters in declaration order.
    pub(crate) params: Vec<Param>,
    /// The split parameters, in the order `split` names them.
    pub(crate) split_order: Vec<usize>,
    pub(crate) output: Output,
}

/// Collects every error, so one compile reports every mistake.
#[derive(Default)]
pub(crate) struct Errors(Option<syn::Error>);

impl Errors {
    pub(crate) fn push(&mut self, span: Span, message: impl std::fmt::Display) {
        self.add(syn::Error::new(span, message));
    }
    pub(crate) fn push_spanned(&mut self, tokens: impl ToTokens, message: impl std::fmt::Display) {
        self.add(syn::Error::new_spanned(tokens, message));
    }
    pub(crate) fn add(&mut self, error: syn::Error) {
        match &mut self.0 {
            Some(all) => all.combine(error),
            None => self.0 = Some(error),
        }
    }
    pub(crate) fn finish(self) -> Result<(), syn::Error> {
        self.0.map_or(Ok(()), Err)
    }
}

/// Checks every rule of the attribute against the function.
pub(crate) fn validate(args: &Args, item: &MaybeItemFn) -> Result<Shape, syn::Error> {
    let mut errors = Errors::default();
    let sig = &item.sig;
    let name = &sig.ident;

    if !item.body.to_string().starts_with('{') {
        errors.push_spanned(
            &item.sig,
            "`#[parallelize]` needs a function with a body; it cannot annotate a declaration",
        );
    }
    if let Some(token) = &sig.asyncness {
        errors.push(
            token.span,
            "`#[parallelize]` cannot be applied to an `async fn`: its shards run on threads and ranks, not on an executor of futures; make the function synchronous (call it from `spawn_blocking` in async code)",
        );
    }
    if let Some(token) = &sig.constness {
        errors.push(
            token.span,
            "`#[parallelize]` cannot be applied to a `const fn`: running shards on threads is not possible at compile time; remove `const`",
        );
    }
    if let Some(token) = &sig.unsafety {
        errors.push(
            token.span,
            "`#[parallelize]` cannot be applied to an `unsafe fn`: the body runs inside a closure per shard; make the function safe and wrap the unsafe operations in `unsafe` blocks",
        );
    }
    if let Some(abi) = &sig.abi {
        errors.push_spanned(
            abi,
            "`#[parallelize]` cannot be applied to an `extern` function; annotate a Rust function and call it from the `extern` one",
        );
    }
    if let Some(variadic) = &sig.variadic {
        errors.push_spanned(
            variadic,
            "`#[parallelize]` cannot be applied to a variadic function",
        );
    }

    let split_names: Vec<&str> = args
        .split
        .as_ref()
        .map(|s| s.names.iter().map(|n| n.name.as_str()).collect())
        .unwrap_or_default();

    let mut params = Vec::new();
    for input in &sig.inputs {
        match input {
            FnArg::Receiver(receiver) => {
                if receiver.reference.is_none() || receiver.colon_token.is_some() {
                    errors.push_spanned(
                        receiver,
                        "a `#[parallelize]` method must take `&self`: `self` is shared by every shard; take `&self`, or make it a free function",
                    );
                } else if receiver.mutability.is_some() {
                    errors.push_spanned(
                        receiver,
                        "a `#[parallelize]` method cannot take `&mut self`: its shards run at once and would all write to `self`; take `&self` and return what changed (then apply it), or split an output parameter such as `out: &mut [T]`",
                    );
                }
            }
            FnArg::Typed(typed) => {
                let (ident, mutability) = match &*typed.pat {
                    Pat::Ident(p) if p.by_ref.is_none() && p.subpat.is_none() => {
                        (p.ident.clone(), p.mutability)
                    }
                    Pat::Wild(_) => {
                        errors.push_spanned(
                            &typed.pat,
                            "a `#[parallelize]` parameter cannot be `_`: every parameter is either split or shared by name; give it a name (prefix it with `_` if the body does not use it)",
                        );
                        continue;
                    }
                    other => {
                        errors.push_spanned(
                            other,
                            "a `#[parallelize]` parameter must be a plain name: split and broadcast are decided by name; bind it to a name and destructure it in the body",
                        );
                        continue;
                    }
                };
                let role = if split_names.contains(&ident.to_string().as_str()) {
                    Role::Split
                } else {
                    Role::Broadcast
                };
                let ty = (*typed.ty).clone();
                if role == Role::Broadcast {
                    if let Type::Reference(r) = &ty {
                        if let Some(m) = &r.mutability {
                            let and = r.and_token;
                            errors.add(syn::Error::new_spanned(
                                quote::quote!(#and #m),
                                format!("broadcast parameter `{ident}` cannot be `&mut`: every shard would write to it at once; add it to `split` to give each shard its own part (`split = \"..., {ident}\"`), or return the values and let `reduce` combine them"),
                            ));
                        }
                    }
                    if let Some(m) = mutability {
                        errors.push(
                            m.span,
                            format!("broadcast parameter `{ident}` cannot be `mut`: it is shared by every shard; copy it into a local inside the body (`let mut {ident} = {ident}.clone();`)"),
                        );
                    }
                }
                if role == Role::Split && contains_impl_trait(&ty) {
                    errors.push_spanned(
                        &ty,
                        format!("`split` parameter `{ident}` cannot have an `impl Trait` type: the body is run once per shard with a value of the declared type; name the type (e.g. `&[T]` with a generic `T`)"),
                    );
                }
                params.push(Param {
                    ident,
                    mutability,
                    ty,
                    role,
                });
            }
        }
    }

    let mut split_order = Vec::new();
    match &args.split {
        None => errors.add(crate::args::missing("split")),
        Some(split) => {
            for wanted in &split.names {
                match params.iter().position(|p| p.ident == wanted.name) {
                    Some(i) => split_order.push(i),
                    None => {
                        let listed = if params.is_empty() {
                            format!("`{name}` has no named parameters")
                        } else {
                            let names: Vec<String> =
                                params.iter().map(|p| format!("`{}`", p.ident)).collect();
                            format!("the parameters of `{name}` are {}", names.join(", "))
                        };
                        let self_hint = if wanted.name == "self" {
                            "; `self` is always shared, never split"
                        } else {
                            ""
                        };
                        errors.push(
                            split.lit.span(),
                            format!(
                                "`split` names `{}`, which is not a parameter; {listed}{self_hint}",
                                wanted.name
                            ),
                        );
                    }
                }
            }
        }
    }

    let output = match &sig.output {
        ReturnType::Default => Output::Plain(syn::parse_quote!(())),
        ReturnType::Type(_, ty) => match result_types(ty) {
            Some((ok, err)) => Output::Result(ok, err.map(Box::new)),
            None => Output::Plain((**ty).clone()),
        },
    };
    if let ReturnType::Type(_, ty) = &sig.output {
        if contains_impl_trait(ty) {
            errors.push_spanned(
                ty,
                "a `#[parallelize]` function cannot return `impl Trait`: the shards' results are merged, which needs their concrete type; name the type",
            );
        }
    }
    match &args.reduce {
        None => errors.add(crate::args::missing("reduce")),
        Some(reduce) => {
            let value = match &output {
                Output::Plain(t) | Output::Result(t, _) => t,
            };
            let returns_unit = matches!(value, Type::Tuple(t) if t.elems.is_empty());
            let shown = match &sig.output {
                ReturnType::Default => String::from("nothing"),
                ReturnType::Type(_, ty) => format!("`{}`", ty.to_token_stream()),
            };
            match reduce {
                Reduction::Op(Op::None, _) if !returns_unit => errors.push_spanned(
                    &sig.output,
                    format!("`reduce = \"none\"` discards the shards' results, so the function must return `()` or `Result<(), E>`, but it returns {shown}; choose a reduction that merges them (`sum`, `concat`, `min`, `max` or a merge function)"),
                ),
                Reduction::Op(op, lit) if *op != Op::None && returns_unit => errors.push(
                    lit.span(),
                    format!("`reduce = \"{}\"` needs a result to merge, but the function returns {shown}; use `reduce = \"none\"` for a function run for its side effects", op.name()),
                ),
                _ => {}
            }
        }
    }

    errors.finish()?;
    Ok(Shape {
        params,
        split_order,
        output,
    })
}

/// `T` and `E` for a return type `Result<T, E>` (or `T` alone for
/// `io::Result<T>`: any path whose last segment is `Result`).
fn result_types(ty: &Type) -> Option<(Type, Option<Type>)> {
    let Type::Path(path) = ty else { return None };
    let last = path.path.segments.last()?;
    if last.ident != "Result" {
        return None;
    }
    let PathArguments::AngleBracketed(args) = &last.arguments else {
        return None;
    };
    let mut types = args.args.iter().filter_map(|a| match a {
        GenericArgument::Type(t) => Some(t.clone()),
        _ => None,
    });
    let ok = types.next()?;
    Some((ok, types.next()))
}

fn contains_impl_trait(ty: &Type) -> bool {
    struct Finder(bool);
    impl<'ast> syn::visit::Visit<'ast> for Finder {
        fn visit_type_impl_trait(&mut self, _: &'ast syn::TypeImplTrait) {
            self.0 = true;
        }
    }
    let mut finder = Finder(false);
    syn::visit::visit_type(&mut finder, ty);
    finder.0
}

/// The span that stands for a type in generated checks: its first token.
pub(crate) fn type_span(ty: &Type) -> Span {
    ty.span()
}
