//! Flink syntax sqlparser does not read, rewritten at the token level
//! into syntax it does (marked where the meaning must be restored after
//! parsing, by `crate::rewrite`): `MAP[..]` constructors, `BETWEEN
//! SYMMETRIC`, `IS [NOT] JSON [kind]`, `KEY` in `JSON_OBJECT` and the `ON
//! EMPTY`/`ON ERROR` behaviours of `JSON_VALUE`.

use datafusion::sql::sqlparser::keywords::Keyword;
use datafusion::sql::sqlparser::tokenizer::{Token, TokenWithSpan, Word};

/// All the rewrites, in order.
pub(super) fn rewrite(tokens: Vec<TokenWithSpan>) -> Vec<TokenWithSpan> {
    let tokens = map_constructors(tokens);
    let tokens = between_symmetric(tokens);
    let tokens = json_syntax(tokens);
    json_value_behaviors(tokens)
}

/// The name of the marks `ON EMPTY`/`ON ERROR` behaviours of `JSON_VALUE`
/// become: `__eddy_json_on('ERROR', 'DEFAULT', expr)`.
pub const JSON_ON_MARK: &str = "__eddy_json_on";

/// In `JSON_VALUE(..)` and `JSON_QUERY(..)`, each `{NULL | ERROR | DEFAULT
/// expr | EMPTY ARRAY | EMPTY OBJECT} ON {EMPTY | ERROR}` as a further
/// argument `__eddy_json_on('EMPTY'|'ERROR', mode[, expr])`, and a wrapper
/// clause as `__eddy_json_on('WRAPPER', 'UNCONDITIONAL'|'CONDITIONAL'|
/// 'WITHOUT')`, placed before a `RETURNING` clause (which sqlparser reads
/// last).
fn json_value_behaviors(tokens: Vec<TokenWithSpan>) -> Vec<TokenWithSpan> {
    let mut out: Vec<TokenWithSpan> = Vec::with_capacity(tokens.len());
    let mut i = 0;
    while i < tokens.len() {
        let call = (is_word(&tokens[i].token, "JSON_VALUE")
            || is_word(&tokens[i].token, "JSON_QUERY"))
            && matches!(tokens.get(i + 1).map(|t| &t.token), Some(Token::LParen));
        if !call {
            out.push(tokens[i].clone());
            i += 1;
            continue;
        }
        // The call's tokens, to its closing parenthesis.
        let mut depth = 0;
        let mut end = i + 1;
        while end < tokens.len() {
            match tokens[end].token {
                Token::LParen => depth += 1,
                Token::RParen => {
                    depth -= 1;
                    if depth == 0 {
                        break;
                    }
                }
                _ => {}
            }
            end += 1;
        }
        let inner = &tokens[i + 2..end.min(tokens.len())];
        let at_top = |k: usize| {
            inner[..k].iter().fold(0i32, |d, t| match t.token {
                Token::LParen => d + 1,
                Token::RParen => d - 1,
                _ => d,
            }) == 0
        };
        // Each behaviour: (start, end exclusive, mark tokens).
        let mut clauses: Vec<(usize, usize, Vec<TokenWithSpan>)> = vec![];
        for k in 0..inner.len() {
            let on = is_word(&inner[k].token, "ON") && at_top(k);
            let what = inner.get(k + 1).and_then(|t| {
                ["EMPTY", "ERROR"]
                    .into_iter()
                    .find(|w| is_word(&t.token, w))
            });
            let (true, Some(what), Some(prev)) = (on, what, k.checked_sub(1)) else {
                continue;
            };
            let span = inner[k].span;
            let mark = |token: Token| TokenWithSpan { token, span };
            let text = |s: &str| mark(Token::SingleQuotedString(s.into()));
            let empty = prev
                .checked_sub(1)
                .filter(|e| is_word(&inner[*e].token, "EMPTY"));
            let (start, mode, expr) = if is_word(&inner[prev].token, "NULL") {
                (prev, "NULL", vec![])
            } else if is_word(&inner[prev].token, "ERROR") {
                (prev, "ERROR", vec![])
            } else if let (Some(e), true) = (empty, is_word(&inner[prev].token, "ARRAY")) {
                (e, "EMPTY ARRAY", vec![])
            } else if let (Some(e), true) = (empty, is_word(&inner[prev].token, "OBJECT")) {
                (e, "EMPTY OBJECT", vec![])
            } else {
                // DEFAULT expr: back to the DEFAULT at this depth.
                let Some(d) = (0..prev)
                    .rev()
                    .find(|j| is_word(&inner[*j].token, "DEFAULT") && at_top(*j))
                else {
                    continue;
                };
                (d, "DEFAULT", inner[d + 1..k].to_vec())
            };
            let mut m = vec![
                mark(Token::Comma),
                mark(keyword(JSON_ON_MARK, Keyword::NoKeyword)),
                mark(Token::LParen),
                text(what),
                mark(Token::Comma),
                text(mode),
            ];
            if !expr.is_empty() {
                m.push(mark(Token::Comma));
                m.extend(expr);
            }
            m.push(mark(Token::RParen));
            clauses.push((start, k + 2, m));
        }
        // JSON_QUERY's `WITH [CONDITIONAL|UNCONDITIONAL] [ARRAY] WRAPPER`
        // and `WITHOUT [ARRAY] WRAPPER`.
        for k in 0..inner.len() {
            let with = is_word(&inner[k].token, "WITH");
            if !(with || is_word(&inner[k].token, "WITHOUT")) || !at_top(k) {
                continue;
            }
            let mut e = k + 1;
            let mut mode = if with { "UNCONDITIONAL" } else { "WITHOUT" };
            if with
                && inner
                    .get(e)
                    .is_some_and(|t| is_word(&t.token, "CONDITIONAL"))
            {
                mode = "CONDITIONAL";
                e += 1;
            } else if with
                && inner
                    .get(e)
                    .is_some_and(|t| is_word(&t.token, "UNCONDITIONAL"))
            {
                e += 1;
            }
            if inner.get(e).is_some_and(|t| is_word(&t.token, "ARRAY")) {
                e += 1;
            }
            if !inner.get(e).is_some_and(|t| is_word(&t.token, "WRAPPER")) {
                continue;
            }
            let span = inner[k].span;
            let mark = |token: Token| TokenWithSpan { token, span };
            let m = vec![
                mark(Token::Comma),
                mark(keyword(JSON_ON_MARK, Keyword::NoKeyword)),
                mark(Token::LParen),
                mark(Token::SingleQuotedString("WRAPPER".into())),
                mark(Token::Comma),
                mark(Token::SingleQuotedString(mode.into())),
                mark(Token::RParen),
            ];
            clauses.push((k, e + 1, m));
        }
        out.extend(tokens[i..i + 2].iter().cloned());
        let returning = (0..inner.len())
            .find(|k| is_word(&inner[*k].token, "RETURNING") && at_top(*k))
            .unwrap_or(inner.len());
        let kept = |k: usize| !clauses.iter().any(|(s, e, _)| (*s..*e).contains(&k));
        for (k, t) in inner.iter().enumerate() {
            if k == returning {
                clauses
                    .iter()
                    .for_each(|(_, _, m)| out.extend(m.iter().cloned()));
            }
            if kept(k) {
                out.push(t.clone());
            }
        }
        if returning == inner.len() {
            clauses
                .iter()
                .for_each(|(_, _, m)| out.extend(m.iter().cloned()));
        }
        i = i + 2 + inner.len();
    }
    out
}

/// The name `IS [NOT] JSON [kind]` is read as a comparison with:
/// `x IS [NOT] DISTINCT FROM __eddy_is_json_mark('KIND')`.
pub const IS_JSON_MARK: &str = "__eddy_is_json_mark";

fn keyword(value: &str, keyword: Keyword) -> Token {
    Token::Word(Word {
        value: value.into(),
        quote_style: None,
        keyword,
    })
}

fn is_word(t: &Token, name: &str) -> bool {
    matches!(t, Token::Word(w) if w.quote_style.is_none() && w.value.eq_ignore_ascii_case(name))
}

/// `IS [NOT] JSON [VALUE|SCALAR|ARRAY|OBJECT]` as `IS [NOT] DISTINCT FROM
/// __eddy_is_json_mark('KIND')` (`IS JSON` is `IS NOT DISTINCT FROM`), and
/// `[KEY] k VALUE v` in `JSON_OBJECT(..)`/`JSON_OBJECTAGG(..)` as `k, v`.
fn json_syntax(tokens: Vec<TokenWithSpan>) -> Vec<TokenWithSpan> {
    let mut out: Vec<TokenWithSpan> = Vec::with_capacity(tokens.len());
    // Paren depth of each open JSON_OBJECT(AGG) call.
    let mut objects: Vec<i32> = vec![];
    let mut depth = 0i32;
    let mut i = 0;
    while i < tokens.len() {
        let t = &tokens[i];
        let mark = |token: Token| TokenWithSpan {
            token,
            span: t.span,
        };
        match &t.token {
            Token::LParen => {
                depth += 1;
                let call = out.last().is_some_and(|p| {
                    is_word(&p.token, "JSON_OBJECT") || is_word(&p.token, "JSON_OBJECTAGG")
                });
                if call {
                    objects.push(depth);
                }
            }
            Token::RParen => {
                if objects.last() == Some(&depth) {
                    objects.pop();
                }
                depth -= 1;
            }
            // `k VALUE v` as `k, v` (sqlparser names an argument by an
            // identifier only; a key may be any expression).
            _ if is_word(&t.token, "VALUE") && objects.last() == Some(&depth) => {
                out.push(mark(Token::Comma));
                i += 1;
                continue;
            }
            // KEY at the start of a member.
            _ if is_word(&t.token, "KEY")
                && objects.last() == Some(&depth)
                && out
                    .last()
                    .is_some_and(|p| matches!(p.token, Token::LParen | Token::Comma)) =>
            {
                i += 1;
                continue;
            }
            Token::Word(w) if w.keyword == Keyword::IS => {
                let negated = tokens.get(i + 1).is_some_and(|n| is_word(&n.token, "NOT"));
                let at = i + 1 + usize::from(negated);
                if tokens.get(at).is_some_and(|n| is_word(&n.token, "JSON")) {
                    let kind = ["VALUE", "SCALAR", "ARRAY", "OBJECT"]
                        .into_iter()
                        .find(|k| tokens.get(at + 1).is_some_and(|n| is_word(&n.token, k)));
                    out.push(t.clone());
                    if !negated {
                        out.push(mark(keyword("NOT", Keyword::NOT)));
                    }
                    out.push(mark(keyword("DISTINCT", Keyword::DISTINCT)));
                    out.push(mark(keyword("FROM", Keyword::FROM)));
                    out.push(mark(keyword(IS_JSON_MARK, Keyword::NoKeyword)));
                    out.push(mark(Token::LParen));
                    out.push(mark(Token::SingleQuotedString(
                        kind.unwrap_or("VALUE").into(),
                    )));
                    out.push(mark(Token::RParen));
                    i = at + 1 + usize::from(kind.is_some());
                    continue;
                }
            }
            _ => {}
        }
        out.push(t.clone());
        i += 1;
    }
    out
}

/// Flink's map constructor `MAP[k1, v1, k2, v2]` as DataFusion's
/// `make_map(k1, v1, k2, v2)` (sqlparser would read a subscript of a column
/// named `MAP`; Flink reserves the word).
fn map_constructors(mut tokens: Vec<TokenWithSpan>) -> Vec<TokenWithSpan> {
    let mut open = Vec::new();
    let mut depth = 0usize;
    for i in 0..tokens.len() {
        match &tokens[i].token {
            Token::Word(w)
                if w.quote_style.is_none()
                    && w.value.eq_ignore_ascii_case("MAP")
                    && matches!(tokens.get(i + 1).map(|t| &t.token), Some(Token::LBracket)) =>
            {
                tokens[i].token = Token::Word(Word {
                    value: "make_map".into(),
                    quote_style: None,
                    keyword: datafusion::sql::sqlparser::keywords::Keyword::NoKeyword,
                });
            }
            Token::LBracket => {
                let after_map = i > 0
                    && matches!(&tokens[i - 1].token, Token::Word(w) if w.value == "make_map" && w.quote_style.is_none());
                if after_map {
                    tokens[i].token = Token::LParen;
                    open.push(depth);
                }
                depth += 1;
            }
            Token::RBracket => {
                depth = depth.saturating_sub(1);
                if open.last() == Some(&depth) {
                    open.pop();
                    tokens[i].token = Token::RParen;
                }
            }
            _ => {}
        }
    }
    tokens
}

/// The name that marks the low bound of `BETWEEN SYMMETRIC` (sqlparser
/// does not read SYMMETRIC): the rewrite of the parsed query makes the
/// comparison symmetric.
pub const SYMMETRIC: &str = "__eddy_symmetric";

/// `x BETWEEN SYMMETRIC a AND b` as `x BETWEEN __eddy_symmetric(a) AND b`
/// (`ASYMMETRIC`, the default, dropped).
fn between_symmetric(tokens: Vec<TokenWithSpan>) -> Vec<TokenWithSpan> {
    let is = |t: &TokenWithSpan, k: Keyword| matches!(&t.token, Token::Word(w) if w.keyword == k);
    let word = |t: &Token, name: &str| matches!(t, Token::Word(w) if w.quote_style.is_none() && w.value.eq_ignore_ascii_case(name));
    let mut out: Vec<TokenWithSpan> = Vec::with_capacity(tokens.len());
    let mut i = 0;
    while i < tokens.len() {
        let t = &tokens[i];
        let after_between = out.last().is_some_and(|p| is(p, Keyword::BETWEEN));
        if after_between && word(&t.token, "ASYMMETRIC") {
            i += 1;
            continue;
        }
        if !(after_between && word(&t.token, "SYMMETRIC")) {
            out.push(t.clone());
            i += 1;
            continue;
        }
        // The low bound: up to the AND at this depth.
        let mut depth = 0i32;
        let mut end = i + 1;
        while end < tokens.len() {
            match &tokens[end].token {
                Token::LParen | Token::LBracket => depth += 1,
                Token::RParen | Token::RBracket => depth -= 1,
                _ if depth == 0 && is(&tokens[end], Keyword::AND) => break,
                _ => {}
            }
            end += 1;
        }
        let mark = |token: Token| TokenWithSpan {
            token,
            span: t.span,
        };
        out.push(mark(Token::Word(Word {
            value: SYMMETRIC.into(),
            quote_style: None,
            keyword: Keyword::NoKeyword,
        })));
        out.push(mark(Token::LParen));
        out.extend(tokens[i + 1..end].iter().cloned());
        out.push(mark(Token::RParen));
        i = end;
    }
    out
}
