//! How serde types travel between ranks: the [`Codec`] of any type that
//! implements `serde::Serialize` and `serde::de::DeserializeOwned`, in
//! postcard's compact format. Generated code finds it through the
//! [`ViaSerde`] probe, which this file implements.

use std::cell::RefCell;

use serde::de::DeserializeOwned;
use serde::ser::{Serialize, SerializeSeq, Serializer};

use crate::wire::{Codec, Probe, ViaSerde};

/// A sequence serialized straight from an iterator.
struct Seq<'i, 'x, T>(RefCell<&'i mut dyn ExactSizeIterator<Item = &'x T>>);

impl<T: Serialize> Serialize for Seq<'_, '_, T> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut items = self.0.borrow_mut();
        let mut seq = serializer.serialize_seq(Some(items.len()))?;
        for item in &mut **items {
            seq.serialize_element(item)?;
        }
        seq.end()
    }
}

fn encode<T: Serialize>(items: &mut dyn ExactSizeIterator<Item = &T>) -> Result<Vec<u8>, String> {
    postcard::to_allocvec(&Seq(RefCell::new(items))).map_err(|e| e.to_string())
}

fn decode<T: DeserializeOwned>(bytes: &[u8]) -> Result<Vec<T>, String> {
    postcard::from_bytes(bytes).map_err(|e| e.to_string())
}

impl<T: Serialize + DeserializeOwned> ViaSerde<T> for Probe<T> {
    fn codec(&self) -> Option<Codec<T>> {
        Some(Codec {
            encode: encode::<T>,
            decode: decode::<T>,
        })
    }
}
