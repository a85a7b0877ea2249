//! Code generation for `#[parallelize]`: the signature is re-emitted as
//! written, and the body moves, unchanged, into a closure that runs once per
//! block with the split parameters rebound to that block.

use proc_macro2::{Span, TokenStream};
use quote::{format_ident, quote, quote_spanned, ToTokens};
use syn::spanned::Spanned;
use syn::Ident;

use crate::args::{Args, Op, Reduction};
use crate::respan;
use crate::sig::{type_span, MaybeItemFn, Output, Role, Shape};

/// A generated local, invisible to the user's body.
fn local(name: &str) -> Ident {
    Ident::new(name, Span::mixed_site())
}

pub(crate) fn expand(args: &Args, item: &MaybeItemFn, shape: &Shape) -> TokenStream {
    let private: TokenStream = match &args.krate {
        Some(path) => quote!(#path::__private),
        None => quote!(::shardkit::__private),
    };
    let MaybeItemFn {
        attrs,
        vis,
        sig,
        body,
    } = item;
    let function = sig.ident.to_string();
    // `mut` on a split parameter belongs to the shard's binding, not to the
    // whole value, which is only handed to the splitter.
    let mut sig = sig.clone();
    for input in &mut sig.inputs {
        if let syn::FnArg::Typed(typed) = input {
            if let syn::Pat::Ident(p) = &mut *typed.pat {
                p.mutability = None;
            }
        }
    }

    // Broadcast parameters: checked to be shareable, at their type.
    let broadcasts = shape
        .params
        .iter()
        .filter(|p| p.role == Role::Broadcast)
        .map(|p| {
            let span = type_span(&p.ty);
            let ident = &p.ident;
            let arg = Ident::new(&ident.to_string(), span);
            let check = respan(quote!(#private::broadcast), span);
            quote_spanned! {span=>
                let #ident = #check(#arg);
            }
        });

    let plan = local("__shardkit_plan");
    let assignment = local("__shardkit_assignment");
    // Split parameters: wrapped (checked at their type), measured, cut.
    let split: Vec<_> = shape
        .split_order
        .iter()
        .map(|&i| &shape.params[i])
        .collect();
    let sources: Vec<Ident> = (0..split.len())
        .map(|i| local(&format!("__shardkit_source_{i}")))
        .collect();
    let outputs: Vec<Ident> = (0..split.len())
        .map(|i| local(&format!("__shardkit_output_{i}")))
        .collect();
    let codecs: Vec<Ident> = (0..split.len())
        .map(|i| local(&format!("__shardkit_codec_{i}")))
        .collect();
    let wrap = split
        .iter()
        .zip(&sources)
        .zip(outputs.iter().zip(&codecs))
        .map(|((p, source), (output, codec))| {
            let span = type_span(&p.ty);
            let arg = Ident::new(&p.ident.to_string(), span);
            let check = respan(quote!(#private::split), span);
            quote_spanned! {span=>
                let #source = #check(#arg);
            }
            .into_iter()
            .chain(quote! {
                // Where an in-place output lives, to share it between MPI
                // ranks after the call, and how its items travel.
                let #output = #private::Outputs::output(&#source);
                let #codec = {
                    #[allow(unused_imports)]
                    use #private::{NoSerde as _, ViaSerde as _};
                    (&#private::probe_output(&#output)).codec()
                };
            })
            .collect::<TokenStream>()
        });
    let gathers: Vec<TokenStream> = split
        .iter()
        .zip(outputs.iter().zip(&codecs))
        .map(|(p, (output, codec))| {
            let name = p.ident.to_string();
            quote! {
                #private::gather(#function, &#assignment, &#plan, #name, #output, #codec);
            }
        })
        .collect();
    let len = local("__shardkit_len");
    let lengths = split.iter().zip(&sources).map(|(p, source)| {
        let name = p.ident.to_string();
        quote!((#name, #private::Source::len(&#source)))
    });
    let make_plan = match (&args.weights, &args.block_size) {
        (Some((_, weight)), _) => {
            let at = weight.span();
            let first = Ident::new("__shardkit_source_0", Span::mixed_site().located_at(at));
            let call = respan(quote!(#private::plan_weighted), at);
            quote_spanned! {at=>
                #call(&#first, #weight)
            }
        }
        (None, Some((_, size))) => quote_spanned! {size.span()=>
            #private::plan(#len, ::core::option::Option::Some(#size))
        },
        (None, None) => quote!(#private::plan(#len, ::core::option::Option::None)),
    };
    let cuts: Vec<TokenStream> = sources
        .iter()
        .map(|s| quote!(#private::Source::cut(#s, &#plan, #assignment.blocks())))
        .collect();
    let pieces = local("__shardkit_pieces");
    let piece_names: Vec<Ident> = (0..split.len())
        .map(|i| local(&format!("__shardkit_piece_{i}")))
        .collect();
    let (zipped, pattern) = zip(&cuts, &piece_names);

    // The shard: lend each piece as the declared type, innermost the body.
    let (ret, merge_target, runner, errors) = match &shape.output {
        Output::Plain(t) => (
            match &sig.output {
                syn::ReturnType::Default => quote!(()),
                syn::ReturnType::Type(_, ty) => ty.to_token_stream(),
            },
            t,
            format_ident!("run"),
            None,
        ),
        Output::Result(t, error) => (
            match &sig.output {
                syn::ReturnType::Type(_, ty) => ty.to_token_stream(),
                syn::ReturnType::Default => unreachable!("a Result output has a type"),
            },
            t,
            format_ident!("run_result"),
            Some(error_ops(&private, error.as_deref())),
        ),
    };
    let mut shard = quote!(-> #ret #body);
    for (p, piece) in split.iter().zip(&piece_names).rev() {
        let ident = &p.ident;
        let mutability = &p.mutability;
        let ty = &p.ty;
        shard = quote! {
            #piece.lend(|#mutability #ident: #ty| #shard)
        };
    }
    // `-> T { body }` is only valid as a closure body if it is the innermost
    // closure's signature; when no piece wraps it, wrap it in one.
    let shard = if split.is_empty() {
        quote!(|| #shard)
    } else {
        shard
    };

    let merge = merge_fn(&private, args, merge_target);
    let local_data = args.local;
    let result = local("__shardkit_result");
    // Outputs are shared between ranks only when every rank succeeded
    // (every rank returns `Err` otherwise).
    let finish = match &shape.output {
        Output::Plain(_) => quote! {
            #(#gathers)*
        },
        Output::Result(..) => quote! {
            if ::core::result::Result::is_ok(&#result) {
                #(#gathers)*
            }
        },
    };
    quote! {
        #(#attrs)*
        #vis #sig {
            #(#broadcasts)*
            #(#wrap)*
            let #len = #private::lockstep(#function, &[#(#lengths),*]);
            let #plan = #make_plan;
            let #assignment = #private::assign(#function, &#plan, #local_data, || {
                #[allow(unused_imports)]
                use #private::{NoHash as _, ViaHash as _};
                #private::digests(&[#(
                    #private::Contents::digest(
                        &#sources,
                        (&#private::probe_contents(&#sources)).hasher(),
                    )
                ),*])
            });
            let #pieces = #zipped;
            let #result = #private::#runner(
                #function,
                &#assignment,
                #pieces,
                |#pattern| #shard,
                #merge,
                #errors
            );
            #finish
            #result
        }
    }
}

/// What the runtime may do with the error type (see `ErrorOps`): probed
/// by autoref on the concrete type when the signature names it.
fn error_ops(private: &TokenStream, error: Option<&syn::Type>) -> TokenStream {
    match error {
        None => quote!(#private::ErrorOps::opaque(),),
        Some(e) => quote! {
            #private::ErrorOps {
                remote: {
                    #[allow(unused_imports)]
                    use #private::{NoFrom as _, ViaFrom as _};
                    (&#private::Probe::<#e>::new()).remote()
                },
                describe: {
                    #[allow(unused_imports)]
                    use #private::{NoDisplay as _, ViaDisplay as _};
                    (&#private::Probe::<#e>::new()).describe()
                },
                codec: {
                    #[allow(unused_imports)]
                    use #private::{NoSerde as _, ViaSerde as _};
                    (&#private::Probe::<#e>::new()).codec()
                },
            },
        },
    }
}

/// The expression that zips the cut parameters into one `Vec` of blocks,
/// and the closure pattern that takes a block apart.
fn zip(cuts: &[TokenStream], names: &[Ident]) -> (TokenStream, TokenStream) {
    if cuts.len() == 1 {
        let cut = &cuts[0];
        let name = &names[0];
        return (quote!(#cut), quote!(#name));
    }
    let first = &cuts[0];
    let mut iter = quote!(::core::iter::IntoIterator::into_iter(#first));
    let mut nested = {
        let n = &names[0];
        quote!(#n)
    };
    for (cut, name) in cuts[1..].iter().zip(&names[1..]) {
        iter = quote!(::core::iter::Iterator::zip(#iter, #cut));
        nested = quote!((#nested, #name));
    }
    let flat = quote!((#(#names),*));
    let zipped = quote! {
        ::core::iter::Iterator::collect::<::std::vec::Vec<_>>(
            ::core::iter::Iterator::map(#iter, |#nested| #flat)
        )
    };
    (zipped, flat)
}

/// The merge function, spanned at what the user wrote so that a type that
/// cannot be merged is reported at the return type (named reductions) or at
/// the function path (`reduce = path`).
fn merge_fn(private: &TokenStream, args: &Args, target: &syn::Type) -> TokenStream {
    let span = type_span(target);
    // How the results travel between MPI ranks, when they must.
    let codec = quote! {{
        #[allow(unused_imports)]
        use #private::{NoSerde as _, ViaSerde as _};
        (&#private::Probe::<#target>::new()).codec()
    }};
    match args.reduce.as_ref().expect("validated") {
        Reduction::Op(op, _) => {
            let name = format_ident!("{}", op.name());
            match op {
                Op::None => quote!(#private::none()),
                _ => {
                    let reduction = respan(quote!(#private::#name::<#target>()), span);
                    quote!(#reduction.wire(#codec))
                }
            }
        }
        Reduction::Merge(path) => {
            let custom = respan(quote!(#private::custom::<#target>), path.span());
            quote!(#custom(#path).wire(#codec))
        }
    }
}
