//! `#[derive(Reduce)]`: merge a struct field by field.

use proc_macro2::TokenStream;
use quote::quote;
use syn::spanned::Spanned;
use syn::{Data, DeriveInput, Fields, Index, LitStr, Path};

use crate::respan;
use crate::sig::Errors;

/// How one field merges.
enum FieldOp {
    Sum,
    Min,
    Max,
}

pub(crate) fn derive_reduce(input: DeriveInput) -> syn::Result<TokenStream> {
    let mut errors = Errors::default();
    let mut krate: Path = syn::parse_quote!(::shardkit);
    for attr in input.attrs.iter().filter(|a| a.path().is_ident("reduce")) {
        let parsed = attr.parse_nested_meta(|meta| {
            if meta.path.is_ident("crate") {
                let lit: LitStr = meta.value()?.parse()?;
                krate = lit.parse()?;
                Ok(())
            } else {
                Err(meta.error("unknown `reduce` option on a struct; expected `crate = \"path\"`"))
            }
        });
        if let Err(e) = parsed {
            errors.add(e);
        }
    }
    let fields = match &input.data {
        Data::Struct(data) => &data.fields,
        Data::Enum(data) => {
            return Err(syn::Error::new(
                data.enum_token.span,
                "`#[derive(Reduce)]` merges structs field by field and cannot merge an enum; implement `shardkit::Reduce` by hand or use `reduce = path::to::merge_fn`",
            ))
        }
        Data::Union(data) => {
            return Err(syn::Error::new(
                data.union_token.span,
                "`#[derive(Reduce)]` cannot merge a union; use a struct",
            ))
        }
    };
    let mut identities = Vec::new();
    let mut merges = Vec::new();
    let mut packs = Vec::new();
    let mut unpacks = Vec::new();
    let mut bounds = Vec::new();
    for (i, field) in fields.iter().enumerate() {
        let mut op = FieldOp::Sum;
        for attr in field.attrs.iter().filter(|a| a.path().is_ident("reduce")) {
            let parsed = attr.parse_nested_meta(|meta| {
                if meta.path.is_ident("sum") {
                    op = FieldOp::Sum;
                } else if meta.path.is_ident("min") {
                    op = FieldOp::Min;
                } else if meta.path.is_ident("max") {
                    op = FieldOp::Max;
                } else {
                    return Err(meta.error(
                        "unknown field reduction; expected `#[reduce(sum)]` (the default), `#[reduce(min)]` or `#[reduce(max)]`",
                    ));
                }
                Ok(())
            });
            if let Err(e) = parsed {
                errors.add(e);
            }
        }
        let member = match &field.ident {
            Some(ident) => quote!(#ident),
            None => {
                let index = Index::from(i);
                quote!(#index)
            }
        };
        let ty = &field.ty;
        let span = ty.span();
        let (trait_, identity, merge, lane_op) = match op {
            FieldOp::Sum => (quote!(Reduce), quote!(identity), quote!(merge), quote!(Sum)),
            FieldOp::Min => (
                quote!(Extremum),
                quote!(top),
                quote!(merge_min),
                quote!(Min),
            ),
            FieldOp::Max => (
                quote!(Extremum),
                quote!(bottom),
                quote!(merge_max),
                quote!(Max),
            ),
        };
        let pack = match op {
            FieldOp::Sum => quote!(#krate::Reduce::pack(&self.#member, lanes)),
            _ => quote!({
                let outer = lanes.set_op(#krate::LaneOp::#lane_op);
                let packed = #krate::Extremum::pack(&self.#member, lanes);
                lanes.set_op(outer);
                packed
            }),
        };
        packs.push(respan(pack, span));
        let unpack = match op {
            FieldOp::Sum => quote!(#member: <#ty as #krate::Reduce>::unpack(lanes)),
            _ => quote!(#member: {
                let outer = lanes.set_op(#krate::LaneOp::#lane_op);
                let value = <#ty as #krate::Extremum>::unpack(lanes);
                lanes.set_op(outer);
                value
            }),
        };
        unpacks.push(respan(unpack, span));
        identities.push(respan(
            quote!(#member: <#ty as #krate::#trait_>::#identity()),
            span,
        ));
        merges.push(respan(
            quote!(#krate::#trait_::#merge(&mut self.#member, other.#member);),
            span,
        ));
        bounds.push(respan(quote!(#ty: #krate::#trait_), span));
    }
    errors.finish()?;
    let name = &input.ident;
    let (impl_generics, ty_generics, where_clause) = input.generics.split_for_impl();
    let mut predicates: Vec<TokenStream> = where_clause
        .map(|w| w.predicates.iter().map(|p| quote!(#p)).collect())
        .unwrap_or_default();
    if !input.generics.params.is_empty() {
        predicates.extend(bounds);
    }
    let (construct, rebuild) = match fields {
        Fields::Named(_) | Fields::Unnamed(_) => (
            quote!(#name { #(#identities),* }),
            quote!(#name { #(#unpacks),* }),
        ),
        Fields::Unit => (quote!(#name), quote!(#name)),
    };
    Ok(quote! {
        #[automatically_derived]
        impl #impl_generics #krate::Reduce for #name #ty_generics where #(#predicates),* {
            fn identity() -> Self {
                #construct
            }
            fn merge(&mut self, other: Self) {
                let _ = &other;
                #(#merges)*
            }
            fn pack(&self, lanes: &mut #krate::Lanes) -> bool {
                let _ = &lanes;
                true #(&& #packs)*
            }
            fn unpack(lanes: &mut #krate::Unlanes) -> Self {
                let _ = &lanes;
                #rebuild
            }
        }
    })
}
