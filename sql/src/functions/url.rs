//! Flink's URL functions. URL_ENCODE and URL_DECODE are Java's
//! `URLEncoder`/`URLDecoder` in UTF-8 (`application/x-www-form-urlencoded`:
//! a space is `+`), by the `form_urlencoded` and `percent-encoding`
//! crates; text that does not decode is NULL. PARSE_URL takes a URL apart
//! as Java's `java.net.URL` does, returning each part as written: the
//! `url` crate parses by the WHATWG standard, which lowercases hosts, drops
//! default ports and re-encodes paths, so Flink's answers would change.

use datafusion::arrow::datatypes::DataType;

use super::{FlinkFunction, map_strings};

pub(super) fn functions() -> Vec<FlinkFunction> {
    use DataType::Utf8;
    vec![
        FlinkFunction::new("url_encode", vec![vec![Utf8]], Utf8, |a, n| {
            map_strings(a, n, |s| {
                Some(form_urlencoded::byte_serialize(s[0].as_bytes()).collect())
            })
        }),
        FlinkFunction::new("url_decode", vec![vec![Utf8]], Utf8, |a, n| {
            map_strings(a, n, |s| {
                let spaced = s[0].replace('+', " ");
                if has_bad_escape(&spaced) {
                    return None;
                }
                percent_encoding::percent_decode_str(&spaced)
                    .decode_utf8()
                    .ok()
                    .map(|c| c.into_owned())
            })
        }),
        FlinkFunction::new(
            "parse_url",
            vec![vec![Utf8, Utf8], vec![Utf8, Utf8, Utf8]],
            Utf8,
            |a, n| map_strings(a, n, |s| parse_url(s[0], s[1], s.get(2).copied())),
        ),
    ]
}

/// Whether `s` has a `%` not followed by two hex digits (Java's decoder
/// refuses it; `percent-encoding` would keep it).
fn has_bad_escape(s: &str) -> bool {
    let b = s.as_bytes();
    (0..b.len()).any(|i| {
        b[i] == b'%'
            && !(b.get(i + 1).is_some_and(u8::is_ascii_hexdigit)
                && b.get(i + 2).is_some_and(u8::is_ascii_hexdigit))
    })
}

/// Part `part` of `url` as `java.net.URL` reads it (HOST, PATH, QUERY,
/// REF, PROTOCOL, FILE, AUTHORITY, USERINFO), or the value of query
/// parameter `key`; NULL where the URL has no such part or is not a URL.
fn parse_url(url: &str, part: &str, key: Option<&str>) -> Option<String> {
    let (protocol, rest) = url.split_once(':')?;
    let valid_scheme = protocol
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic())
        && protocol
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'));
    if !valid_scheme {
        return None;
    }
    let (before_ref, reference) = match rest.split_once('#') {
        Some((a, r)) => (a, Some(r)),
        None => (rest, None),
    };
    let (authority, file) = match before_ref.strip_prefix("//") {
        Some(after) => {
            let end = after.find(['/', '?']).unwrap_or(after.len());
            (Some(&after[..end]), &after[end..])
        }
        None => (None, before_ref),
    };
    let (path, query) = match file.split_once('?') {
        Some((p, q)) => (p, Some(q)),
        None => (file, None),
    };
    let user_info = authority.and_then(|a| a.rsplit_once('@').map(|(u, _)| u));
    let host = authority.map(|a| {
        let h = a.rsplit_once('@').map_or(a, |(_, h)| h);
        match h.strip_prefix('[') {
            Some(v6) => v6.split_once(']').map_or(h, |(inside, _)| inside),
            None => h.split_once(':').map_or(h, |(name, _)| name),
        }
    });
    let text = |s: Option<&str>| s.map(str::to_string);
    match part.to_ascii_uppercase().as_str() {
        "QUERY" => match key {
            None => text(query),
            Some(k) => query?.split('&').find_map(|pair| {
                let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
                (name == k).then(|| value.to_string())
            }),
        },
        "HOST" => text(host),
        "PATH" => Some(path.to_string()),
        "REF" => text(reference),
        "PROTOCOL" => Some(protocol.to_string()),
        "FILE" => Some(file.to_string()),
        "AUTHORITY" => text(authority),
        "USERINFO" => text(user_info),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parts_are_returned_as_written() {
        let u = "http://User:pw@A.com:80/p/q.html?k=1&m=2#frag";
        assert_eq!(parse_url(u, "HOST", None).as_deref(), Some("A.com"));
        assert_eq!(
            parse_url(u, "AUTHORITY", None).as_deref(),
            Some("User:pw@A.com:80")
        );
        assert_eq!(
            parse_url(u, "FILE", None).as_deref(),
            Some("/p/q.html?k=1&m=2")
        );
        assert_eq!(parse_url(u, "QUERY", Some("m")).as_deref(), Some("2"));
        assert_eq!(parse_url(u, "QUERY", Some("x")), None);
        assert_eq!(parse_url("not a url", "HOST", None), None);
        assert_eq!(parse_url("http://a.com", "PATH", None).as_deref(), Some(""));
        assert!(has_bad_escape("%zz") && has_bad_escape("a%4") && !has_bad_escape("%41b"));
    }
}
