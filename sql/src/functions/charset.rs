//! Flink's functions between text, numbers and bytes: BIN and HEX (Java's
//! `Long.toBinaryString`/`toHexString`, upper case; HEX of text is its
//! UTF-8 bytes), UNHEX (NULL where the text is not hex; an odd length
//! drops the first digit and leads with a zero byte, as Flink does), and
//! ENCODE/DECODE between text and bytes in a named character set.

use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, AsArray, BinaryBuilder, StringBuilder};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, Int64Type};
use datafusion::common::{Result, exec_err};

use super::{FlinkFunction, constant_text, map_strings};

pub(super) fn functions() -> Vec<FlinkFunction> {
    use DataType::{Binary, Int64, Utf8};
    vec![
        FlinkFunction::new("bin", vec![vec![Int64]], Utf8, |a, n| {
            map_longs(a, n, |v| format!("{v:b}"))
        }),
        FlinkFunction::any_args("hex", 1, Utf8, hex),
        FlinkFunction::new("unhex", vec![vec![Utf8]], Binary, unhex),
        FlinkFunction::new("encode", vec![vec![Utf8, Utf8]], Binary, encode)
            .with_constant_parameters(),
        FlinkFunction::new("decode", vec![vec![Binary, Utf8]], Utf8, decode)
            .with_constant_parameters(),
    ]
}

/// `f` of each row's BIGINT; NULL stays NULL.
fn map_longs(args: &[ArrayRef], rows: usize, f: impl Fn(i64) -> String) -> Result<ArrayRef> {
    let longs = cast(&args[0], &DataType::Int64)?;
    let longs = longs.as_primitive::<Int64Type>();
    let mut out = StringBuilder::new();
    for i in 0..rows {
        match longs.is_null(i) {
            true => out.append_null(),
            false => out.append_value(f(longs.value(i))),
        }
    }
    Ok(Arc::new(out.finish()))
}

fn hex(args: &[ArrayRef], rows: usize) -> Result<ArrayRef> {
    match args[0].data_type() {
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => {
            map_strings(args, rows, |s| Some(hex::encode_upper(s[0].as_bytes())))
        }
        DataType::Binary => {
            let bytes = args[0].as_binary::<i32>();
            let mut out = StringBuilder::new();
            for i in 0..rows {
                match bytes.is_null(i) {
                    true => out.append_null(),
                    false => out.append_value(hex::encode_upper(bytes.value(i))),
                }
            }
            Ok(Arc::new(out.finish()))
        }
        _ => map_longs(args, rows, |v| format!("{v:X}")),
    }
}

fn unhex(args: &[ArrayRef], rows: usize) -> Result<ArrayRef> {
    let text = cast(&args[0], &DataType::Utf8)?;
    let text = text.as_string::<i32>();
    let mut out = BinaryBuilder::new();
    for i in 0..rows {
        if text.is_null(i) {
            out.append_null();
            continue;
        }
        let s = text.value(i);
        // An odd length: the first digit is dropped and a zero byte leads.
        let (lead, digits) = match s.len() % 2 {
            1 => (Some(0u8), s.get(1..).unwrap_or("")),
            _ => (None, s),
        };
        match hex::decode(digits) {
            Ok(b) => out.append_value(lead.into_iter().chain(b).collect::<Vec<u8>>()),
            Err(_) => out.append_null(),
        }
    }
    Ok(Arc::new(out.finish()))
}

/// Java's name of a character set, upper case, to how text is written in it.
fn charset(name: &str) -> Result<&'static str> {
    Ok(match name.to_ascii_uppercase().as_str() {
        "UTF-8" | "UTF8" => "UTF-8",
        "US-ASCII" | "ASCII" => "US-ASCII",
        "ISO-8859-1" | "LATIN1" => "ISO-8859-1",
        "UTF-16BE" => "UTF-16BE",
        "UTF-16LE" => "UTF-16LE",
        "UTF-16" => "UTF-16",
        other => {
            return exec_err!(
                "Unsupported character set '{other}' (Eddy knows US-ASCII, ISO-8859-1, UTF-8, UTF-16BE, UTF-16LE and UTF-16)"
            );
        }
    })
}

/// The constant character set of a call.
fn constant_charset(args: &[ArrayRef]) -> Result<Option<&'static str>> {
    constant_text(args, 1)?.map(|s| charset(&s)).transpose()
}

fn encode(args: &[ArrayRef], rows: usize) -> Result<ArrayRef> {
    let text = cast(&args[0], &DataType::Utf8)?;
    let text = text.as_string::<i32>();
    let set = constant_charset(args)?;
    let mut out = BinaryBuilder::new();
    for i in 0..rows {
        let (Some(set), false) = (set, text.is_null(i)) else {
            out.append_null();
            continue;
        };
        let s = text.value(i);
        let bytes: Vec<u8> = match set {
            "UTF-8" => s.as_bytes().to_vec(),
            // Java writes '?' for what the set cannot hold.
            "US-ASCII" => s
                .chars()
                .map(|c| if c.is_ascii() { c as u8 } else { b'?' })
                .collect(),
            "ISO-8859-1" => s
                .chars()
                .map(|c| u8::try_from(u32::from(c)).unwrap_or(b'?'))
                .collect(),
            "UTF-16LE" => s.encode_utf16().flat_map(u16::to_le_bytes).collect(),
            "UTF-16BE" => s.encode_utf16().flat_map(u16::to_be_bytes).collect(),
            // Java's UTF-16 writes big-endian after a byte-order mark.
            _ => [0xfe, 0xff]
                .into_iter()
                .chain(s.encode_utf16().flat_map(u16::to_be_bytes))
                .collect(),
        };
        out.append_value(bytes);
    }
    Ok(Arc::new(out.finish()))
}

fn decode(args: &[ArrayRef], rows: usize) -> Result<ArrayRef> {
    let bytes = cast(&args[0], &DataType::Binary)?;
    let bytes = bytes.as_binary::<i32>();
    let set = constant_charset(args)?;
    let mut out = StringBuilder::new();
    for i in 0..rows {
        let (Some(set), false) = (set, bytes.is_null(i)) else {
            out.append_null();
            continue;
        };
        let b = bytes.value(i);
        let units = |le: bool| -> Vec<u16> {
            b.chunks(2)
                .map(|c| {
                    let pair = [c[0], *c.get(1).unwrap_or(&0)];
                    if le {
                        u16::from_le_bytes(pair)
                    } else {
                        u16::from_be_bytes(pair)
                    }
                })
                .collect()
        };
        let text = match set {
            "UTF-8" => String::from_utf8_lossy(b).into_owned(),
            "US-ASCII" => b
                .iter()
                .map(|c| if c.is_ascii() { *c as char } else { '\u{fffd}' })
                .collect(),
            "ISO-8859-1" => b.iter().map(|c| *c as char).collect(),
            "UTF-16LE" => String::from_utf16_lossy(&units(true)),
            "UTF-16BE" => String::from_utf16_lossy(&units(false)),
            _ => match b {
                [0xff, 0xfe, ..] => String::from_utf16_lossy(&units(true)[1..]),
                [0xfe, 0xff, ..] => String::from_utf16_lossy(&units(false)[1..]),
                _ => String::from_utf16_lossy(&units(false)),
            },
        };
        out.append_value(text);
    }
    Ok(Arc::new(out.finish()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::arrow::array::{BinaryArray, Int64Array, StringArray};

    #[test]
    fn bin_hex_unhex_as_java() {
        let n: ArrayRef = Arc::new(Int64Array::from(vec![Some(12), Some(-1), None]));
        let b = map_longs(std::slice::from_ref(&n), 3, |v| format!("{v:b}")).expect("bin");
        let b = b.as_string::<i32>();
        assert_eq!(b.value(0), "1100");
        assert_eq!(b.value(1).len(), 64);
        assert!(b.is_null(2));
        let h = hex(&[n], 3).expect("hex");
        assert_eq!(h.as_string::<i32>().value(1), "FFFFFFFFFFFFFFFF");
        let t: ArrayRef = Arc::new(StringArray::from(vec!["616263", "xy", "F"]));
        let u = unhex(&[t], 3).expect("unhex");
        let u = u.as_any().downcast_ref::<BinaryArray>().expect("bytes");
        assert_eq!(u.value(0), b"abc");
        assert!(u.is_null(1));
        assert_eq!(u.value(2), [0]);
    }
}
