//! Autoref probes: what a concrete type supports, asked at the call site.
//!
//! Generated code writes `(&Probe::<T>::new()).codec()` with both
//! `ViaSerde` and `NoSerde` in scope. Method lookup tries `Probe<T>` before
//! `&Probe<T>`, so the `Via*` impl (on `Probe<T>`, bounded by what `T` must
//! support) is chosen when `T` qualifies, and the `No*` fallback (on
//! `&Probe<T>`, unbounded) otherwise. The answer is a plain value — a
//! [`Codec`], or the functions of an [`ErrorOps`](super::remote::ErrorOps) — that
//! generic runtime code can use without the bound.

use std::marker::PhantomData;

use super::codec::Codec;
use super::remote::RemoteError;

/// Autoref probe for what a type `T` supports; see the module doc.
pub struct Probe<T>(PhantomData<T>);

impl<T> Probe<T> {
    /// A probe for `T`.
    pub fn new() -> Self {
        Probe(PhantomData)
    }
}

impl<T> Default for Probe<T> {
    fn default() -> Self {
        Probe::new()
    }
}

/// Chosen when `E: From<RemoteError>`.
pub trait ViaFrom<E> {
    /// `Some(E::from)`.
    fn remote(&self) -> Option<fn(RemoteError) -> E>;
}

impl<E: From<RemoteError>> ViaFrom<E> for Probe<E> {
    fn remote(&self) -> Option<fn(RemoteError) -> E> {
        Some(<E as From<RemoteError>>::from)
    }
}

/// Chosen otherwise.
pub trait NoFrom<E> {
    /// `None`.
    fn remote(&self) -> Option<fn(RemoteError) -> E>;
}

impl<E> NoFrom<E> for &Probe<E> {
    fn remote(&self) -> Option<fn(RemoteError) -> E> {
        None
    }
}

/// Chosen when `E: Display`.
pub trait ViaDisplay<E> {
    /// `Some(E::to_string)`.
    fn describe(&self) -> Option<fn(&E) -> String>;
}

impl<E: std::fmt::Display> ViaDisplay<E> for Probe<E> {
    fn describe(&self) -> Option<fn(&E) -> String> {
        Some(|e| e.to_string())
    }
}

/// Chosen otherwise.
pub trait NoDisplay<E> {
    /// `None`.
    fn describe(&self) -> Option<fn(&E) -> String>;
}

impl<E> NoDisplay<E> for &Probe<E> {
    fn describe(&self) -> Option<fn(&E) -> String> {
        None
    }
}

/// Chosen when `T` can be serialized and deserialized (with the `mpi`
/// feature; the impl is in `mpi/serde_codec.rs`).
pub trait ViaSerde<T> {
    /// `Some` codec.
    fn codec(&self) -> Option<Codec<T>>;
}

/// Chosen otherwise.
pub trait NoSerde<T> {
    /// `None`.
    fn codec(&self) -> Option<Codec<T>>;
}

impl<T> NoSerde<T> for &Probe<T> {
    fn codec(&self) -> Option<Codec<T>> {
        None
    }
}
