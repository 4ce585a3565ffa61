//! The printer's machinery: output with indentation and owed spaces, comment
//! placement, and sequences printed one element per line with `=` alignment.

use crate::source::Span;

/// One level of indentation.
const INDENT: &str = "  ";

/// Where an alignable key (`path` of `path = value`) ends in the output.
#[derive(Clone, Copy)]
pub(super) struct AlignKey {
    /// Byte offset in the output right after the key: padding goes here.
    offset: usize,
    /// Column right after the key.
    width: usize,
}

/// The brackets of a sequence printed one element per line.
pub(super) struct Brackets {
    open: &'static str,
    close: &'static str,
    /// Source offset of the closing bracket: comments before it stay inside.
    close_at: usize,
}

impl Brackets {
    /// Brackets whose source span is `span`, closing bracket last.
    pub(super) fn around(span: Span, open: &'static str, close: &'static str) -> Brackets {
        Brackets {
            open,
            close,
            close_at: (span.end as usize).saturating_sub(1),
        }
    }
}

/// Writes the formatted text. It owns the layout state of the current line
/// and walks the comments in step with the tree.
pub(super) struct Printer<'a> {
    text: &'a str,
    comments: &'a [Span],
    /// Index in `comments` of the first comment not yet written.
    next_comment: usize,
    out: String,
    /// Nothing is on the current line yet; its indentation is written with
    /// the first token, so blank lines never carry trailing spaces.
    at_line_start: bool,
    /// Indentation level of the current line.
    line_indent: usize,
    /// Characters written on the current line so far.
    line_width: usize,
    /// Indentation level of the entry or element being printed; a line broken
    /// inside it (after a line comment) continues one level deeper.
    slot_indent: usize,
    /// A space is owed before the next token.
    pending_space: bool,
    /// A line comment was just written: the next token goes on a new line.
    must_break: bool,
    /// Print every list and map inline; used to measure an inline candidate.
    flat: bool,
}

impl<'a> Printer<'a> {
    pub(super) fn new(text: &'a str, comments: &'a [Span]) -> Printer<'a> {
        Printer {
            text,
            comments,
            next_comment: 0,
            out: String::with_capacity(text.len() + text.len() / 8),
            at_line_start: true,
            line_indent: 0,
            line_width: 0,
            slot_indent: 0,
            pending_space: false,
            must_break: false,
            flat: false,
        }
    }

    /// A printer that puts every list and map on one line, to measure how
    /// wide an inline literal would be (it holds no comments by then).
    pub(super) fn measuring(&self) -> Printer<'a> {
        let mut measure = Printer::new(self.text, &[]);
        measure.flat = true;
        measure
    }

    /// Whether every list and map is to be printed inline.
    pub(super) fn is_measuring(&self) -> bool {
        self.flat
    }

    /// The output so far.
    pub(super) fn output(&self) -> &str {
        &self.out
    }

    /// How many comments have been written (or copied inside literals).
    pub(super) fn comments_written(&self) -> usize {
        self.next_comment
    }

    /// The output with exactly one final newline (none when it is empty).
    pub(super) fn finish(mut self) -> String {
        let kept = self.out.trim_end_matches([' ', '\n']).len();
        self.out.truncate(kept);
        if !self.out.is_empty() {
            self.out.push('\n');
        }
        self.out
    }

    // ---------- writing ----------

    /// Writes a token, after the owed line break, indentation or space.
    pub(super) fn push(&mut self, token: &str) {
        if self.must_break {
            self.newline(self.slot_indent + 1);
        }
        if self.at_line_start {
            for _ in 0..self.line_indent {
                self.out.push_str(INDENT);
            }
            self.line_width = self.line_indent * INDENT.len();
            self.at_line_start = false;
        } else if self.pending_space && !self.out.ends_with(' ') {
            self.out.push(' ');
            self.line_width += 1;
        }
        self.pending_space = false;
        self.out.push_str(token);
        match token.rfind('\n') {
            Some(newline) => self.line_width = token[newline + 1..].chars().count(),
            None => self.line_width += token.chars().count(),
        }
    }

    /// Writes a token that hugs what comes before it: `,` `:` `)` `]` `.` `(`.
    pub(super) fn push_tight(&mut self, token: &str) {
        self.pending_space = false;
        self.push(token);
    }

    /// Owes a space before the next token (dropped if a hugging token or a
    /// line break comes first).
    pub(super) fn space(&mut self) {
        self.pending_space = true;
    }

    /// Ends the current line (unless nothing is on it yet); the next token is
    /// indented `indent` levels.
    fn newline(&mut self, indent: usize) {
        if !self.at_line_start {
            self.out.push('\n');
            self.at_line_start = true;
            self.line_width = 0;
        }
        self.line_indent = indent;
        self.pending_space = false;
        self.must_break = false;
    }

    /// Starts a line for the next entry, after one blank line if `blank`.
    fn start_line(&mut self, indent: usize, blank: bool) {
        self.newline(indent);
        if blank && !self.out.is_empty() && !self.out.ends_with("\n\n") {
            self.out.push('\n');
        }
    }

    /// The column the next token would start at.
    pub(super) fn column(&self) -> usize {
        if self.must_break {
            return (self.slot_indent + 1) * INDENT.len();
        }
        if self.at_line_start {
            return self.line_indent * INDENT.len();
        }
        self.line_width + usize::from(self.pending_space)
    }

    /// The source text of `span`, copied as is (literals).
    pub(super) fn source(&self, span: Span) -> &'a str {
        self.text
            .get(span.start as usize..span.end as usize)
            .unwrap_or_default()
    }

    // ---------- comments ----------

    /// The next unwritten comment, if it starts before source offset `pos`.
    pub(super) fn comment_before(&self, pos: usize) -> Option<Span> {
        self.comments
            .get(self.next_comment)
            .copied()
            .filter(|c| (c.start as usize) < pos)
    }

    /// Writes, where they stand, the comments that come before source offset
    /// `pos`. A comment that had its own line in the source gets one again.
    pub(super) fn comments_before(&mut self, pos: usize) {
        while let Some(comment) = self.comment_before(pos) {
            self.next_comment += 1;
            if !self.at_line_start
                && !self.must_break
                && starts_own_line(self.text, comment.start as usize)
            {
                self.newline(self.slot_indent + 1);
            }
            self.space();
            // A block comment hugs an opening bracket: `f(/* why */ x)`.
            if is_block_comment(self.source(comment))
                && self.out.ends_with(['(', '['])
                && !self.must_break
            {
                self.pending_space = false;
            }
            self.write_comment(comment);
        }
    }

    /// Source offset of the first token at or after `pos`, past white space
    /// and comments: where a keyword or punctuation mark stands.
    pub(super) fn next_token_start(&self, mut pos: usize) -> usize {
        let bytes = self.text.as_bytes();
        loop {
            while bytes
                .get(pos)
                .is_some_and(|b| matches!(b, b' ' | b'\t' | b'\r' | b'\n'))
            {
                pos += 1;
            }
            let index = self.comments.partition_point(|c| (c.start as usize) < pos);
            match self.comments.get(index) {
                Some(comment) if comment.start as usize == pos => pos = end(*comment),
                _ => return pos,
            }
        }
    }

    /// Writes `token`, the first token after source offset `after`, with the
    /// comments before it.
    pub(super) fn token_after(&mut self, after: usize, token: &str) {
        let at = self.next_token_start(after);
        self.comments_before(at);
        self.push(token);
    }

    /// Like [`Printer::token_after`] for a token that hugs what precedes it.
    pub(super) fn tight_token_after(&mut self, after: usize, token: &str) {
        let at = self.next_token_start(after);
        self.comments_before(at);
        self.push_tight(token);
    }

    /// Passes over comments that were copied as part of a literal.
    pub(super) fn skip_comments_before(&mut self, pos: usize) {
        while self.comment_before(pos).is_some() {
            self.next_comment += 1;
        }
    }

    /// Writes a comment where the output stands. Code may follow a block
    /// comment on its line, but not a line comment.
    fn write_comment(&mut self, comment: Span) {
        let text = comment_text(self.source(comment));
        self.push(&text);
        if is_block_comment(&text) {
            self.pending_space = true;
        } else {
            self.must_break = true;
        }
    }

    /// Comments on the same source line as what was printed last (before
    /// `limit`) stay on that line.
    fn trailing_comments(&mut self, limit: usize) {
        while let Some(comment) = self.comment_before(limit) {
            // After a line comment the line is over, whatever the source says.
            if self.must_break || starts_own_line(self.text, comment.start as usize) {
                break;
            }
            self.next_comment += 1;
            self.space();
            self.write_comment(comment);
        }
    }

    /// Comments before `limit` on lines of their own, at `indent`. Returns
    /// whether any was written. `first` is true while nothing has been
    /// printed in the sequence (no blank line is kept before the first line).
    fn own_line_comments(&mut self, limit: usize, indent: usize, first: &mut bool) -> bool {
        let mut wrote = false;
        while let Some(comment) = self.comment_before(limit) {
            self.next_comment += 1;
            let start = comment.start as usize;
            if self.must_break || starts_own_line(self.text, start) {
                self.start_line(indent, !*first && blank_line_before(self.text, start));
                *first = false;
            } else {
                // After a block comment on the same line: stays beside it.
                self.space();
            }
            self.slot_indent = indent;
            self.write_comment(comment);
            wrote = true;
        }
        wrote
    }

    // ---------- sequences: items, entries, fields, multi-line lists and maps ----------

    /// Prints `elements` one per line, with the comments around them, between
    /// `brackets` (or as the whole file when there are none). `render` prints
    /// one element and returns its key when the element may be aligned with
    /// its neighbours on `=`.
    pub(super) fn sequence<T>(
        &mut self,
        brackets: Option<Brackets>,
        elements: &[T],
        span_of: fn(&T) -> Span,
        comma: bool,
        mut render: impl FnMut(&mut Self, &T) -> Option<AlignKey>,
    ) {
        let saved_slot_indent = self.slot_indent;
        let outer_indent;
        let close_at;
        match &brackets {
            Some(b) => {
                self.push(b.open);
                outer_indent = self.line_indent;
                close_at = b.close_at;
                if elements.is_empty() && self.comment_before(close_at).is_none() {
                    self.push_tight(b.close);
                    return;
                }
                self.trailing_comments(
                    elements
                        .first()
                        .map_or(close_at, |e| span_of(e).start as usize),
                );
            }
            None => {
                outer_indent = self.line_indent;
                close_at = usize::MAX;
            }
        }
        let indent = if brackets.is_some() {
            outer_indent + 1
        } else {
            outer_indent
        };
        let mut first = true;
        let mut run: Vec<AlignKey> = Vec::new();
        let mut pads: Vec<(usize, usize)> = Vec::new();
        for (index, element) in elements.iter().enumerate() {
            let span = span_of(element);
            let start = span.start as usize;
            let mut breaks_run = self.own_line_comments(start, indent, &mut first);
            let blank = !first && blank_line_before(self.text, start);
            breaks_run |= blank;
            self.start_line(indent, blank);
            first = false;
            self.slot_indent = indent;
            let element_start = self.out.len();
            let key = render(self, element);
            // Nothing inside the element may be left behind.
            self.comments_before(span.end as usize);
            if comma {
                self.push_tight(",");
            }
            let next_start = elements
                .get(index + 1)
                .map_or(close_at, |e| span_of(e).start as usize);
            self.trailing_comments(next_start);
            let single_line = !self.out[element_start..].contains('\n');
            if breaks_run || key.is_none() || !single_line {
                finish_run(&mut run, &mut pads);
            }
            if let Some(key) = key.filter(|_| single_line) {
                run.push(key);
            }
        }
        finish_run(&mut run, &mut pads);
        self.own_line_comments(close_at, indent, &mut first);
        self.insert_padding(&pads);
        self.slot_indent = saved_slot_indent;
        if let Some(b) = brackets {
            self.newline(outer_indent);
            self.push_tight(b.close);
        }
    }

    /// Inserts `(offset, spaces)` pairs, sorted by offset, in one pass over
    /// the output after the first of them.
    fn insert_padding(&mut self, pads: &[(usize, usize)]) {
        let Some(&(first, _)) = pads.first() else {
            return;
        };
        let tail = self.out.split_off(first);
        let mut copied = 0;
        for &(offset, spaces) in pads {
            let upto = offset.saturating_sub(first);
            self.out
                .push_str(tail.get(copied..upto).unwrap_or_default());
            self.out.extend(std::iter::repeat_n(' ', spaces));
            copied = upto;
        }
        self.out.push_str(tail.get(copied..).unwrap_or_default());
        // The current line may have been padded.
        let line = self.out.rsplit('\n').next().unwrap_or_default();
        self.line_width = line.chars().count();
    }

    /// The key just printed, for alignment.
    pub(super) fn align_key(&self) -> AlignKey {
        AlignKey {
            offset: self.out.len(),
            width: self.column(),
        }
    }
}

/// The source offset where `span` ends.
pub(super) fn end(span: Span) -> usize {
    span.end as usize
}

/// Pads the keys of a finished run of alignable entries to the widest.
fn finish_run(run: &mut Vec<AlignKey>, pads: &mut Vec<(usize, usize)>) {
    if run.len() > 1 {
        let widest = run.iter().map(|key| key.width).max().unwrap_or(0);
        pads.extend(
            run.iter()
                .filter(|key| key.width < widest)
                .map(|key| (key.offset, widest - key.width)),
        );
    }
    run.clear();
}

/// The comment as printed: LF line endings and no trailing white space on
/// any of its lines.
fn comment_text(raw: &str) -> String {
    let mut text = String::with_capacity(raw.len());
    for (index, line) in raw.split('\n').enumerate() {
        if index > 0 {
            text.push('\n');
        }
        text.push_str(line.trim_end_matches([' ', '\t', '\r']));
    }
    text
}

/// Whether a comment is `/* ... */` (and so may have code after it on its line).
fn is_block_comment(text: &str) -> bool {
    text.starts_with("/*")
}

/// Whether only white space stands between the start of the line and `pos`.
fn starts_own_line(text: &str, pos: usize) -> bool {
    let before = text.as_bytes().get(..pos).unwrap_or_default();
    for &byte in before.iter().rev() {
        match byte {
            b' ' | b'\t' | b'\r' => continue,
            b'\n' => return true,
            _ => return false,
        }
    }
    true
}

/// Whether a blank line separates `pos` from the token before it (commas
/// between entries are looked through, but a line holding one is not blank).
fn blank_line_before(text: &str, pos: usize) -> bool {
    let before = text.as_bytes().get(..pos).unwrap_or_default();
    let mut seen_newline = false;
    for &byte in before.iter().rev() {
        match byte {
            b' ' | b'\t' | b'\r' => continue,
            b'\n' if seen_newline => return true,
            b'\n' => seen_newline = true,
            b',' => seen_newline = false,
            _ => return false,
        }
    }
    false
}
