//! Small dense kernels shared by the algorithms, and the one bridge between
//! ndarray and faer: GEMM (faer, one thread — shardkit's blocks give the
//! parallelism), the Cholesky factorisation and symmetric matrices packed
//! as their lower triangle.
//!
//! - [`bridge`]: ndarray views as faer views and back;
//! - [`gemm`]: `c (+)= a·b` and the lower triangle of a symmetric product;
//! - [`cholesky`]: in place with reusable memory, or into a new factor;
//! - [`packed`]: packed lower triangles.

#![deny(unsafe_op_in_unsafe_fn)]

pub(crate) mod bridge;
pub(crate) mod cholesky;
pub(crate) mod gemm;
pub(crate) mod packed;

pub(crate) use bridge::{mat_ref, to_array};
pub(crate) use cholesky::{cholesky_lower, factor_lower};
pub(crate) use gemm::{gemm, gemm_f32, gemm_lower};
pub(crate) use packed::{pack_lower, packed_len, unpack_lower};
