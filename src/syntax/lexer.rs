//! Lexical layer: the parser input type, trivia (white space and comments,
//! handled here once), identifiers, punctuation, numbers and the error type.

use std::cell::{Cell, RefCell};

use nom::bytes::complete::{take_while, take_while1};
use nom::error::{ErrorKind, ParseError};
use nom::{IResult, Input, Needed};

use super::error::SyntaxError;
use super::{MAX_DEPTH, MAX_ERRORS};
use crate::source::{FileId, Span};

/// Shared parse state: the error sink, the comment list and the nesting depth.
#[derive(Debug)]
pub(super) struct Ctx {
    pub file: FileId,
    pub errors: RefCell<Vec<SyntaxError>>,
    pub comments: RefCell<Vec<Span>>,
    pub depth: Cell<u32>,
    pub gave_up: Cell<bool>,
    /// An unclosed delimiter was reported: enclosing blocks end quietly at end of file.
    pub unclosed: Cell<bool>,
    /// The last trivia skip (from, to): the parser looks at the same gap
    /// several times while deciding what comes next.
    last_trivia: Cell<(usize, usize)>,
    /// Offset of a number literal that directly follows a unary minus.
    pub negated: Cell<usize>,
    /// The last character that is not white space: start and end offsets.
    pub last_char_start: usize,
    pub last_char_end: usize,
}

impl Ctx {
    pub fn new(file: FileId, text: &str) -> Ctx {
        let trimmed = text.trim_end();
        let last_char_start = trimmed.char_indices().next_back().map_or(0, |(i, _)| i);
        Ctx {
            file,
            errors: RefCell::new(Vec::new()),
            comments: RefCell::new(Vec::new()),
            depth: Cell::new(0),
            gave_up: Cell::new(false),
            unclosed: Cell::new(false),
            last_trivia: Cell::new((usize::MAX, 0)),
            negated: Cell::new(usize::MAX),
            last_char_start,
            last_char_end: trimmed.len(),
        }
    }

    /// True when the enclosing block should stop reading: after giving up, or
    /// when the file ended inside an unclosed delimiter that was already reported.
    pub fn stop_block(&self) -> bool {
        self.gave_up.get() || self.unclosed.get()
    }

    /// Records an error, giving up on the file after [`MAX_ERRORS`].
    pub fn report(&self, e: SyntaxError) {
        if self.gave_up.get() {
            return;
        }
        match e {
            SyntaxError::Unclosed { .. } => self.unclosed.set(true),
            // Past the depth limit nothing sensible can be recovered.
            SyntaxError::NestingTooDeep { .. } => {
                self.errors.borrow_mut().push(e);
                self.gave_up.set(true);
                return;
            }
            _ => {}
        }
        let mut errors = self.errors.borrow_mut();
        // Recovery may read the same bad token again; one report is enough.
        if errors
            .last()
            .is_some_and(|last| error_span(last).start == error_span(&e).start)
        {
            return;
        }
        if errors.len() >= MAX_ERRORS {
            let span = error_span(&e);
            errors.push(SyntaxError::TooManyErrors { span });
            self.gave_up.set(true);
            return;
        }
        errors.push(e);
    }
}

fn error_span(e: &SyntaxError) -> Span {
    match e {
        SyntaxError::Unexpected { span, .. }
        | SyntaxError::UnterminatedString { span, .. }
        | SyntaxError::UnterminatedComment { span }
        | SyntaxError::UnknownEscape { span, .. }
        | SyntaxError::InvalidEscape { span, .. }
        | SyntaxError::NestingTooDeep { span }
        | SyntaxError::InvalidNumber { span, .. }
        | SyntaxError::AttributeOutsideBlock { span }
        | SyntaxError::EmptyFile { span }
        | SyntaxError::TooManyErrors { span } => *span,
        SyntaxError::Unclosed { at, .. } => *at,
    }
}

/// The parser's input: the rest of the text, its byte offset in the file, and
/// the shared parse state. Unlike a general located span it does not count
/// lines as it goes; lines are computed only when rendering diagnostics.
#[derive(Clone, Copy, Debug)]
pub(super) struct In<'a> {
    frag: &'a str,
    offset: usize,
    pub extra: &'a Ctx,
}

impl<'a> In<'a> {
    pub fn new_extra(text: &'a str, extra: &'a Ctx) -> In<'a> {
        In {
            frag: text,
            offset: 0,
            extra,
        }
    }

    /// The rest of the text.
    pub fn fragment(&self) -> &&'a str {
        &self.frag
    }

    /// Byte offset of the rest in the file.
    pub fn location_offset(&self) -> usize {
        self.offset
    }
}

impl<'a> Input for In<'a> {
    type Item = char;
    type Iter = std::str::Chars<'a>;
    type IterIndices = std::str::CharIndices<'a>;

    fn input_len(&self) -> usize {
        self.frag.len()
    }

    #[inline]
    fn take(&self, index: usize) -> Self {
        In {
            frag: &self.frag[..index],
            ..*self
        }
    }

    #[inline]
    fn take_from(&self, index: usize) -> Self {
        In {
            frag: &self.frag[index..],
            offset: self.offset + index,
            extra: self.extra,
        }
    }

    fn take_split(&self, index: usize) -> (Self, Self) {
        (self.take_from(index), self.take(index))
    }

    fn position<P>(&self, predicate: P) -> Option<usize>
    where
        P: Fn(Self::Item) -> bool,
    {
        self.frag.position(predicate)
    }

    fn iter_elements(&self) -> Self::Iter {
        self.frag.chars()
    }

    fn iter_indices(&self) -> Self::IterIndices {
        self.frag.char_indices()
    }

    fn slice_index(&self, count: usize) -> Result<usize, Needed> {
        self.frag.slice_index(count)
    }
}
pub(super) type PResult<'a, T> = IResult<In<'a>, T, PError>;

/// A parse failure. Cheap to build while nom backtracks; the message is made
/// only when the error is reported.
#[derive(Debug)]
pub(super) enum PError {
    /// Expected something at this offset; `found` is computed when reporting.
    Expected {
        offset: usize,
        expected: &'static str,
        help: Option<&'static str>,
    },
    /// A fully formed error (unterminated string, nesting, ...).
    Full(Box<SyntaxError>),
}

impl<'a> ParseError<In<'a>> for PError {
    fn from_error_kind(input: In<'a>, _kind: ErrorKind) -> Self {
        PError::Expected {
            offset: input.location_offset(),
            expected: "valid syntax",
            help: None,
        }
    }

    fn append(_input: In<'a>, _kind: ErrorKind, other: Self) -> Self {
        other
    }

    fn or(self, other: Self) -> Self {
        if self.offset() >= other.offset() {
            self
        } else {
            other
        }
    }
}

impl PError {
    pub fn offset(&self) -> usize {
        match self {
            PError::Expected { offset, .. } => *offset,
            PError::Full(e) => error_span(e).start as usize,
        }
    }

    /// Turns the error into a reportable one, describing what stands at its offset.
    /// `base` is any input at or before the error's offset.
    pub fn into_syntax(self, base: In<'_>) -> SyntaxError {
        let ctx = base.extra;
        match self {
            PError::Full(e) => *e,
            PError::Expected {
                offset,
                expected,
                help,
            } => {
                let frag = base.fragment();
                let rel = offset
                    .saturating_sub(base.location_offset())
                    .min(frag.len());
                let (found, len) = describe_at(frag.get(rel..).unwrap_or(""));
                SyntaxError::Unexpected {
                    span: Span::new(ctx.file, offset, offset + len),
                    expected: expected.to_string(),
                    found,
                    help,
                }
            }
        }
    }
}

/// Describes the token at the start of `rest` for "found ..." messages.
fn describe_at(rest: &str) -> (String, usize) {
    let Some(c) = rest.chars().next() else {
        return ("end of file".to_string(), 0);
    };
    if c.is_ascii_alphabetic() || c == '_' {
        let word: String = rest
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .take(40)
            .collect();
        let len = word.len();
        let what = if super::is_keyword(&word) {
            "keyword"
        } else {
            "identifier"
        };
        return (format!("{what} `{word}`"), len);
    }
    if c.is_ascii_digit() {
        let num: String = rest
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_' || *c == '.')
            .take(40)
            .collect();
        let len = num.len();
        return (format!("number `{num}`"), len);
    }
    match c {
        '"' => ("a string".to_string(), 1),
        '\n' | '\r' => ("end of line".to_string(), 1),
        c if c.is_control() => (
            format!("control character U+{:04X}", c as u32),
            c.len_utf8(),
        ),
        c => (format!("`{c}`"), c.len_utf8()),
    }
}

pub(super) fn expected<'a, T>(i: In<'a>, what: &'static str) -> PResult<'a, T> {
    Err(nom::Err::Failure(PError::Expected {
        offset: i.location_offset(),
        expected: what,
        help: None,
    }))
}

pub(super) fn expected_help<'a, T>(
    i: In<'a>,
    what: &'static str,
    help: &'static str,
) -> PResult<'a, T> {
    Err(nom::Err::Failure(PError::Expected {
        offset: i.location_offset(),
        expected: what,
        help: Some(help),
    }))
}

pub(super) fn fail<T>(i: In<'_>, e: SyntaxError) -> PResult<'_, T> {
    let _ = i;
    Err(nom::Err::Failure(PError::Full(Box::new(e))))
}

/// Span from the start of `a` to the start of `b`.
pub(super) fn span(a: &In<'_>, b: &In<'_>) -> Span {
    Span::new(a.extra.file, a.location_offset(), b.location_offset())
}

/// Where "the file ends here" points: the last character of the text, so the
/// label shows on a line that exists.
pub(super) fn eof_span(i: &In<'_>) -> Span {
    let end = i.extra.last_char_end.max(i.extra.last_char_start);
    Span::new(i.extra.file, i.extra.last_char_start, end)
}

pub(super) fn point(i: &In<'_>, len: usize) -> Span {
    Span::new(i.extra.file, i.location_offset(), i.location_offset() + len)
}

/// Skips white space and comments, recording each comment's span.
///
/// The one place trivia is handled: every token function starts here.
#[inline]
pub(super) fn trivia(i: In<'_>) -> In<'_> {
    // Most calls find a token right away.
    if !matches!(
        i.frag.as_bytes().first(),
        Some(b' ' | b'\t' | b'\n' | b'\r' | b'/' | b'#')
    ) {
        return i;
    }
    let (from, to) = i.extra.last_trivia.get();
    if from == i.offset {
        return i.take_from(to - from);
    }
    skip_trivia(i)
}

fn skip_trivia(mut i: In<'_>) -> In<'_> {
    let start = i.offset;
    loop {
        let bytes = i.fragment().as_bytes();
        let ws = bytes
            .iter()
            .take_while(|b| matches!(b, b' ' | b'\t' | b'\n' | b'\r'))
            .count();
        if ws > 0 {
            i = i.take_from(ws);
        }
        let bytes = i.fragment().as_bytes();
        if bytes.starts_with(b"//") || bytes.first() == Some(&b'#') {
            let len = memchr_newline(bytes);
            let text_end = if len > 0 && bytes[len - 1] == b'\r' {
                len - 1
            } else {
                len
            };
            i.extra.comments.borrow_mut().push(point(&i, text_end));
            i = i.take_from(len);
        } else if bytes.starts_with(b"/*") {
            match find(&bytes[2..], b"*/") {
                Some(end) => {
                    i.extra.comments.borrow_mut().push(point(&i, end + 4));
                    i = i.take_from(end + 4);
                }
                None => {
                    i.extra
                        .report(SyntaxError::UnterminatedComment { span: point(&i, 2) });
                    i.extra.comments.borrow_mut().push(point(&i, bytes.len()));
                    i = i.take_from(bytes.len());
                }
            }
        } else {
            i.extra.last_trivia.set((start, i.offset));
            return i;
        }
    }
}

fn memchr_newline(bytes: &[u8]) -> usize {
    bytes
        .iter()
        .position(|b| *b == b'\n')
        .unwrap_or(bytes.len())
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

fn is_ident_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

/// `IDENT = ( letter | "_" ) { letter | digit | "_" }` (keywords included; callers decide).
pub(super) fn word(i: In<'_>) -> PResult<'_, (&str, Span)> {
    let i = trivia(i);
    let start = i;
    let bytes = i.fragment().as_bytes();
    if !bytes
        .first()
        .is_some_and(|b| b.is_ascii_alphabetic() || *b == b'_')
    {
        return Err(nom::Err::Error(PError::Expected {
            offset: i.location_offset(),
            expected: "a name",
            help: None,
        }));
    }
    // Identifiers are ASCII, so the scan can go byte by byte.
    let len = bytes
        .iter()
        .take_while(|b| b.is_ascii_alphanumeric() || **b == b'_')
        .count();
    let (rest, w) = i.take_split(len);
    Ok((rest, (*w.fragment(), span(&start, &rest))))
}

/// The next word without consuming it (after trivia).
#[inline]
pub(super) fn peek_word<'a>(i: In<'a>) -> Option<&'a str> {
    let i = trivia(i);
    let frag: &'a str = i.fragment();
    if !frag
        .as_bytes()
        .first()
        .is_some_and(|b| b.is_ascii_alphabetic() || *b == b'_')
    {
        return None;
    }
    let len = frag
        .bytes()
        .take_while(|b| b.is_ascii_alphanumeric() || *b == b'_')
        .count();
    Some(&frag[..len])
}

/// True if the next token is the keyword `kw` (a whole word).
#[inline]
pub(super) fn at_keyword(i: In<'_>, kw: &str) -> bool {
    let bytes = trivia(i).frag.as_bytes();
    bytes.starts_with(kw.as_bytes())
        && !bytes
            .get(kw.len())
            .is_some_and(|b| b.is_ascii_alphanumeric() || *b == b'_')
}

/// The input after trivia.
#[inline]
pub(super) fn at(i: In<'_>) -> In<'_> {
    trivia(i)
}

/// True if the next token starts with `p`.
#[inline]
pub(super) fn peek(i: In<'_>, p: &str) -> bool {
    trivia(i).fragment().starts_with(p)
}

/// Consumes `p` if it is next.
#[inline]
pub(super) fn eat<'a>(i: In<'a>, p: &str) -> Option<(In<'a>, Span)> {
    let i = trivia(i);
    if i.fragment().starts_with(p) {
        let s = point(&i, p.len());
        Some((i.take_from(p.len()), s))
    } else {
        None
    }
}

/// Requires punctuation `p`, failing with "expected `what`".
pub(super) fn punct<'a>(i: In<'a>, p: &str, what: &'static str) -> PResult<'a, Span> {
    match eat(i, p) {
        Some(r) => Ok(r),
        None => expected(trivia(i), what),
    }
}

/// Consumes keyword `kw` if it is next as a whole word.
pub(super) fn eat_keyword<'a>(i: In<'a>, kw: &str) -> Option<(In<'a>, Span)> {
    if peek_word(i) == Some(kw) {
        let i = trivia(i);
        let s = point(&i, kw.len());
        Some((i.take_from(kw.len()), s))
    } else {
        None
    }
}

/// A number literal: `INT` or `FLOAT`.
pub(super) enum Number {
    Int(i64),
    Float(f64),
}

/// `INT = digit { digit | "_" }`, `FLOAT = INT ( "." INT [ exponent ] | exponent )`
pub(super) fn number(i: In<'_>) -> PResult<'_, (Number, Span)> {
    let i = trivia(i);
    let start = i;
    let (mut rest, _) = take_while1(|c: char| c.is_ascii_digit() || c == '_')(i)?;
    let mut is_float = false;
    let frag = rest.fragment().as_bytes();
    if frag.first() == Some(&b'.') && frag.get(1).is_some_and(|b| b.is_ascii_digit()) {
        is_float = true;
        let (r, _) = take_while(|c: char| c.is_ascii_digit() || c == '_')(rest.take_from(1))?;
        rest = r;
    }
    let frag = rest.fragment().as_bytes();
    if matches!(frag.first(), Some(b'e' | b'E')) {
        let sign = usize::from(matches!(frag.get(1), Some(b'+' | b'-')));
        if frag.get(1 + sign).is_some_and(|b| b.is_ascii_digit()) {
            is_float = true;
            let (r, _) = take_while(|c: char| c.is_ascii_digit())(rest.take_from(1 + sign))?;
            rest = r;
        }
    }
    // A letter straight after a number is a typo such as `8080px`.
    let (rest, junk) = take_while(is_ident_char)(rest)?;
    let sp = span(&start, &rest);
    let text = &start.fragment()[..sp.len()];
    if !junk.fragment().is_empty() {
        return fail(
            start,
            SyntaxError::InvalidNumber {
                span: sp,
                text: text.to_string(),
                reason: "letters after a number",
                help: "Numbers are decimal; write a value with a unit as a string (\"8080px\") and hexadecimal values in decimal.",
            },
        );
    }
    let clean: std::borrow::Cow<str> = if text.contains('_') {
        text.chars()
            .filter(|c| *c != '_')
            .collect::<String>()
            .into()
    } else {
        text.into()
    };
    let n = if is_float {
        match clean.parse::<f64>() {
            Ok(f) if f.is_finite() => Number::Float(f),
            _ => {
                return fail(
                    start,
                    SyntaxError::InvalidNumber {
                        span: sp,
                        text: text.to_string(),
                        reason: "not a finite float",
                        help: "Floats are IEEE doubles; this value is too large to represent.",
                    },
                );
            }
        }
    } else {
        match clean.parse::<i64>() {
            Ok(n) => Number::Int(n),
            Err(_) => {
                // The one integer whose magnitude only fits when negative.
                if clean == "9223372036854775808"
                    && i.extra.negated.get() == start.location_offset()
                {
                    return Ok((rest, (Number::Int(i64::MIN), sp)));
                }
                return fail(
                    start,
                    SyntaxError::InvalidNumber {
                        span: sp,
                        text: text.to_string(),
                        reason: "does not fit in 64 bits",
                        help: "Integers are signed 64-bit; write larger values as floats or strings.",
                    },
                );
            }
        }
    };
    Ok((rest, (n, sp)))
}

/// Enters one nesting level, failing past [`MAX_DEPTH`].
pub(super) fn enter(i: In<'_>) -> Result<(), nom::Err<PError>> {
    let ctx = i.extra;
    let d = ctx.depth.get() + 1;
    // The outermost expression or block is level one; MAX_DEPTH more may nest in it.
    if d > MAX_DEPTH + 1 {
        let at = trivia(i);
        // Point at the whole next character, or at the file's end.
        let len = at.frag.chars().next().map_or(0, char::len_utf8);
        let span = if len == 0 {
            eof_span(&at)
        } else {
            point(&at, len)
        };
        return Err(nom::Err::Failure(PError::Full(Box::new(
            SyntaxError::NestingTooDeep { span },
        ))));
    }
    ctx.depth.set(d);
    Ok(())
}

pub(super) fn leave(i: In<'_>) {
    let ctx = i.extra;
    ctx.depth.set(ctx.depth.get().saturating_sub(1));
}

/// Where to resume after an entry that failed at byte `err_offset`: the start
/// of the error's line when that is past the entry's first line (the parser got
/// that far, so what follows is likely the next entry), else past the entry.
pub(super) fn recover(i: In<'_>, err_offset: usize, top_level: bool) -> In<'_> {
    let start = i.location_offset();
    let frag = *i.fragment();
    let rel = err_offset.saturating_sub(start).min(frag.len());
    if let Some(nl) = frag[..rel].rfind('\n') {
        let line_start = nl + 1;
        if frag[line_start..rel]
            .bytes()
            .all(|b| b == b' ' || b == b'\t' || b == b'\r')
        {
            return i.take_from(line_start);
        }
    }
    let next = skip_entry(i, top_level);
    if next.location_offset() == start && !next.fragment().starts_with('}') {
        return next.take_from(next.fragment().chars().next().map_or(0, char::len_utf8));
    }
    next
}

/// Skips a broken entry: to the end of its line at bracket depth zero, or to
/// the `}` closing the enclosing block (not consumed). Always makes progress
/// unless at `}` or end of input.
pub(super) fn skip_entry(i: In<'_>, top_level: bool) -> In<'_> {
    let bytes = i.fragment().as_bytes();
    let mut depth: i64 = 0;
    let mut pos = 0;
    while pos < bytes.len() {
        let b = bytes[pos];
        match b {
            b'"' => {
                let triple = bytes[pos..].starts_with(b"\"\"\"");
                pos += if triple { 3 } else { 1 };
                while pos < bytes.len() {
                    if bytes[pos] == b'\\' {
                        pos += 2;
                        continue;
                    }
                    if triple && bytes[pos..].starts_with(b"\"\"\"") {
                        pos += 3;
                        break;
                    }
                    if !triple && bytes[pos] == b'"' {
                        pos += 1;
                        break;
                    }
                    if !triple && bytes[pos] == b'\n' {
                        break;
                    }
                    pos += 1;
                }
                continue;
            }
            b'#' => {
                pos += memchr_newline(&bytes[pos..]);
                continue;
            }
            b'/' if bytes.get(pos + 1) == Some(&b'/') => {
                pos += memchr_newline(&bytes[pos..]);
                continue;
            }
            b'/' if bytes.get(pos + 1) == Some(&b'*') => {
                pos += find(&bytes[pos + 2..], b"*/").map_or(bytes.len() - pos, |e| e + 4);
                continue;
            }
            b'{' | b'[' | b'(' => depth += 1,
            b'}' | b']' | b')' => {
                if depth == 0 {
                    if top_level {
                        pos += 1;
                        continue;
                    }
                    if b == b'}' {
                        break;
                    }
                } else {
                    depth -= 1;
                }
            }
            b'\n' if depth == 0 && pos > 0 => {
                pos += 1;
                break;
            }
            // At the top level a line starting in column 0 with a letter is a
            // new item, even inside brackets left open by the broken one.
            b'\n' if top_level && bytes.get(pos + 1).is_some_and(|c| c.is_ascii_alphabetic()) => {
                pos += 1;
                break;
            }
            _ => {}
        }
        pos += 1;
    }
    let pos = pos.min(bytes.len());
    // Keep UTF-8 boundaries: move forward to the next char boundary.
    let frag = *i.fragment();
    let mut pos = pos;
    while !frag.is_char_boundary(pos) {
        pos += 1;
    }
    i.take_from(pos)
}
