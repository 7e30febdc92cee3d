//! Flink's hash functions: MD5, SHA1, SHA224, SHA256, SHA384, SHA512 and
//! SHA2(text, bits) of a string's UTF-8 bytes, as lowercase hex text
//! (DataFusion's SHA functions return bytes, and it has no SHA1 or SHA2).
//! The digests are RustCrypto's `md-5`, `sha1` and `sha2` crates.

use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, AsArray, StringBuilder};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, Int32Type};
use datafusion::common::{Result, exec_err};
use md5::Md5;
use sha1::Sha1;
use sha2::{Digest, Sha224, Sha256, Sha384, Sha512};

use super::FlinkFunction;

pub(super) fn functions() -> Vec<FlinkFunction> {
    use DataType::Utf8;
    let one = |name, kernel| FlinkFunction::new(name, vec![vec![Utf8]], Utf8, kernel);
    vec![
        one("md5", |a, n| hash_each(a, n, |_| Some(hex_of::<Md5>))),
        one("sha1", |a, n| hash_each(a, n, |_| Some(hex_of::<Sha1>))),
        one("sha224", |a, n| hash_each(a, n, |_| Some(hex_of::<Sha224>))),
        one("sha256", |a, n| hash_each(a, n, |_| Some(hex_of::<Sha256>))),
        one("sha384", |a, n| hash_each(a, n, |_| Some(hex_of::<Sha384>))),
        one("sha512", |a, n| hash_each(a, n, |_| Some(hex_of::<Sha512>))),
        FlinkFunction::new("sha2", vec![vec![Utf8, DataType::Int32]], Utf8, sha2),
    ]
}

/// The digest of `bytes` by `D`, as lowercase hex.
fn hex_of<D: Digest>(bytes: &[u8]) -> String {
    hex::encode(D::digest(bytes))
}

/// Hashes row `i` of `args[0]` by the digest `pick(i)` names; NULL where
/// the text is NULL or `pick` names none.
fn hash_each(
    args: &[ArrayRef],
    rows: usize,
    pick: impl Fn(usize) -> Option<fn(&[u8]) -> String>,
) -> Result<ArrayRef> {
    let text = cast(&args[0], &DataType::Utf8)?;
    let text = text.as_string::<i32>();
    let mut out = StringBuilder::new();
    for i in 0..rows {
        match pick(i) {
            Some(digest) if text.is_valid(i) => out.append_value(digest(text.value(i).as_bytes())),
            _ => out.append_null(),
        }
    }
    Ok(Arc::new(out.finish()))
}

/// `SHA2(text, bits)`: SHA-224, -256, -384 or -512 by `bits` (NULL for a
/// NULL length); another length is an error, as in Flink.
fn sha2(args: &[ArrayRef], rows: usize) -> Result<ArrayRef> {
    let bits = cast(&args[1], &DataType::Int32)?;
    let bits = bits.as_primitive::<Int32Type>();
    if let Some(b) = (0..rows)
        .filter(|i| bits.is_valid(*i))
        .map(|i| bits.value(i))
        .find(|b| ![224, 256, 384, 512].contains(b))
    {
        return exec_err!("SHA2: unsupported hash length {b} (224, 256, 384 or 512)");
    }
    hash_each(args, rows, |i| {
        if bits.is_null(i) {
            return None;
        }
        match bits.value(i) {
            224 => Some(hex_of::<Sha224> as fn(&[u8]) -> String),
            256 => Some(hex_of::<Sha256>),
            384 => Some(hex_of::<Sha384>),
            512 => Some(hex_of::<Sha512>),
            _ => None,
        }
    })
}
