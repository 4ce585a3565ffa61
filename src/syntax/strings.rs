//! String literals: escapes, `${...}` interpolation and `"""` multi-line strings.

use nom::Input;

use super::ast::{StrLit, StrPart};
use super::error::SyntaxError;
use super::lexer::*;
use super::parser::expr;

/// `STRING = '"' { char | escape | interpolation } '"' | '"""' { any | escape | interpolation } '"""'`
pub(super) fn string_lit(i: In<'_>) -> PResult<'_, StrLit> {
    let start = at(i);
    let f: &str = start.fragment();
    let multiline = f.starts_with("\"\"\"");
    let open_len = if multiline { 3 } else { 1 };
    let bytes = f.as_bytes();
    let mut pos = open_len;
    let mut seg_start = pos;
    let mut raw = Vec::new();
    loop {
        // Ordinary characters are skipped in one go; only these four matter.
        pos += bytes[pos.min(bytes.len())..]
            .iter()
            .position(|b| matches!(b, b'"' | b'\\' | b'$' | b'\n'))
            .unwrap_or(bytes.len().saturating_sub(pos));
        let Some(&b) = bytes.get(pos) else {
            return fail(
                start,
                SyntaxError::UnterminatedString {
                    span: point(&start, open_len),
                    multiline,
                },
            );
        };
        if multiline && bytes[pos..].starts_with(b"\"\"\"") {
            raw.push(StrPart::Lit(f[seg_start..pos].into()));
            pos += 3;
            break;
        }
        if !multiline && b == b'"' {
            raw.push(StrPart::Lit(f[seg_start..pos].into()));
            pos += 1;
            break;
        }
        if !multiline && b == b'\n' {
            return fail(
                start,
                SyntaxError::UnterminatedString {
                    span: point(&start, open_len),
                    multiline,
                },
            );
        }
        if b == b'\\' {
            let len = escape_len(&f[pos..]);
            let next = f[pos + 1..].chars().next();
            if !multiline && matches!(next, None | Some('\n' | '\r')) {
                // A backslash cannot continue a one-line string onto the next line.
                return fail(
                    start,
                    SyntaxError::UnterminatedString {
                        span: point(&start, open_len),
                        multiline,
                    },
                );
            }
            if len == 0 {
                let at_esc = start.take_from(pos);
                let error = match next {
                    Some('u') => {
                        let end = f[pos..].find('}').filter(|e| *e < 16).map_or(2, |e| e + 1);
                        SyntaxError::InvalidEscape {
                            span: point(&at_esc, end),
                            message: format!("invalid unicode escape `{}`", &f[pos..pos + end]),
                        }
                    }
                    Some('\n' | '\r') | None => SyntaxError::InvalidEscape {
                        span: point(&at_esc, 1),
                        message: "backslash at the end of a line".to_string(),
                    },
                    Some(c) => SyntaxError::UnknownEscape {
                        span: point(&at_esc, 1 + c.len_utf8()),
                        escape: format!("\\{c}"),
                    },
                };
                let bad = error_len(&error);
                at_esc.extra.report(error);
                pos += bad.max(1);
            } else {
                pos += len;
            }
            continue;
        }
        if b == b'$' && bytes.get(pos + 1) == Some(&b'{') {
            raw.push(StrPart::Lit(f[seg_start..pos].into()));
            let (rest, e) = expr(start.take_from(pos + 2))?;
            let (rest, _) = punct(rest, "}", "`}` to close the interpolation")?;
            pos = rest.location_offset() - start.location_offset();
            seg_start = pos;
            raw.push(StrPart::Interp(Box::new(e)));
            continue;
        }
        // Special characters are ASCII, so stepping by byte never stops
        // inside a multi-byte character.
        pos += 1;
    }
    let rest = start.take_from(pos);
    if multiline {
        dedent(&mut raw);
    }
    // Literal parts hold the text as written until here; now process escapes.
    raw.retain(|part| !matches!(part, StrPart::Lit(t) if t.is_empty()));
    for part in &mut raw {
        if let StrPart::Lit(t) = part
            && t.contains('\\')
        {
            *t = unescape(t).into();
        }
    }
    // Most strings are one part: keep no spare room (trees are large).
    raw.shrink_to_fit();
    let parts = raw;
    Ok((
        rest,
        StrLit {
            parts,
            multiline,
            span: span(&start, &rest),
        },
    ))
}

fn error_len(e: &SyntaxError) -> usize {
    match e {
        SyntaxError::InvalidEscape { span, .. } | SyntaxError::UnknownEscape { span, .. } => {
            span.len()
        }
        _ => 1,
    }
}

/// Length of a valid escape at the start of `s` (which starts with `\`), or 0.
fn escape_len(s: &str) -> usize {
    let b = s.as_bytes();
    match b.get(1) {
        Some(b'n' | b'r' | b't' | b'\\' | b'"' | b'$') => 2,
        Some(b'u') if b.get(2) == Some(&b'{') => {
            let digits = b[3..].iter().take_while(|c| c.is_ascii_hexdigit()).count();
            if (1..=6).contains(&digits) && b.get(3 + digits) == Some(&b'}') {
                let v = u32::from_str_radix(&s[3..3 + digits], 16).ok();
                if v.and_then(char::from_u32).is_some() {
                    return 4 + digits;
                }
            }
            0
        }
        _ => 0,
    }
}

/// Processes escapes; unknown ones (already reported) stay as written.
fn unescape(s: &str) -> String {
    if !s.contains('\\') {
        return s.to_string();
    }
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(p) = rest.find('\\') {
        out.push_str(&rest[..p]);
        let tail = &rest[p..];
        let len = escape_len(tail);
        if len == 0 {
            let n = tail[1..].chars().next().map_or(1, |c| 1 + c.len_utf8());
            out.push_str(&tail[..n]);
            rest = &tail[n..];
            continue;
        }
        match tail.as_bytes()[1] {
            b'n' => out.push('\n'),
            b'r' => out.push('\r'),
            b't' => out.push('\t'),
            b'\\' => out.push('\\'),
            b'"' => out.push('"'),
            b'$' => out.push('$'),
            _ => {
                let v = u32::from_str_radix(&tail[3..len - 1], 16)
                    .ok()
                    .and_then(char::from_u32);
                out.extend(v);
            }
        }
        rest = &tail[len..];
    }
    out.push_str(rest);
    out
}

/// Multi-line strings: drop the newline after the opening quotes and the
/// white-space-only last line, then remove the common indentation.
fn dedent(raw: &mut [StrPart]) {
    if let Some(StrPart::Lit(t)) = raw.first_mut() {
        if let Some(stripped) = t.strip_prefix("\r\n").or_else(|| t.strip_prefix('\n')) {
            *t = stripped.into();
        }
    }
    if let Some(StrPart::Lit(t)) = raw.last_mut() {
        if let Some(nl) = t.rfind('\n') {
            if t[nl + 1..].chars().all(|c| c == ' ' || c == '\t') {
                t.truncate(nl + 1);
            }
        }
    }
    // Line starts: the start of the string and every position after a newline.
    let mut starts = Vec::new();
    if matches!(raw.first(), Some(StrPart::Interp(_))) {
        return; // the first line starts with an interpolation: indentation 0
    }
    for (p, part) in raw.iter().enumerate() {
        if let StrPart::Lit(t) = part {
            if p == 0 {
                starts.push((p, 0));
            }
            starts.extend(t.match_indices('\n').map(|(o, _)| (p, o + 1)));
        }
    }
    let mut indent: Option<usize> = None;
    for &(p, off) in &starts {
        let StrPart::Lit(t) = &raw[p] else { continue };
        let line = &t[off..];
        let line_end = line.find('\n');
        let line = &line[..line_end.unwrap_or(line.len())];
        let ws = line
            .bytes()
            .take_while(|b| *b == b' ' || *b == b'\t')
            .count();
        let continues_into_interp = line_end.is_none() && p + 1 < raw.len();
        let blank = line.trim_end_matches([' ', '\t', '\r']).is_empty() && !continues_into_interp;
        if !blank {
            indent = Some(indent.map_or(ws, |m| m.min(ws)));
        }
    }
    let Some(indent) = indent.filter(|n| *n > 0) else {
        return;
    };
    for (p, part) in raw.iter_mut().enumerate() {
        if let StrPart::Lit(t) = part {
            let mut out = String::with_capacity(t.len());
            for (n, line) in t.split('\n').enumerate() {
                if n > 0 {
                    out.push('\n');
                }
                if n > 0 || p == 0 {
                    let ws = line
                        .bytes()
                        .take(indent)
                        .take_while(|b| *b == b' ' || *b == b'\t')
                        .count();
                    out.push_str(&line[ws..]);
                } else {
                    out.push_str(line);
                }
            }
            *t = out.into();
        }
    }
}
