//! The source formatter behind `rel fmt`: prints a parsed file in the one canonical style.
//!
//! The printer walks the tree in source order and writes tokens. Before each
//! node, and before each closing bracket, it writes the comments that stand
//! before that point in the source. Nothing is ever moved past anything else,
//! so every comment survives in its original order by construction; layout
//! only decides which line and indentation a comment lands on:
//!
//! - between entries of a body, elements of a multi-line list or map, or
//!   top-level items, a comment keeps its own line, or trails the entry it
//!   followed on the same line;
//! - inside an expression a comment stays where it was; a line comment then
//!   ends the line and the expression continues one level deeper, so a
//!   comment never swallows code.
//!
//! String and number literals are copied from the source text byte for byte,
//! comments inside `${...}` interpolations included.

mod nodes;
mod printer;

use crate::syntax::ast::SourceTree;
use printer::Printer;

/// Widest an inline list or map may reach, counting indentation. Longer ones
/// are printed one element per line.
pub const MAX_WIDTH: usize = 100;

/// Formats a file that parsed without errors. `text` is the source the tree
/// was parsed from; literals and comments are copied from it.
///
/// The result ends with exactly one newline (or is empty when the file held
/// neither items nor comments), uses LF line endings, and is a fixed point:
/// formatting it again returns it unchanged.
pub fn format_source(tree: &SourceTree, text: &str) -> String {
    let mut printer = Printer::new(text, &tree.comments);
    printer.sequence(
        None,
        &tree.items,
        |item| item.span,
        false,
        |p, item| {
            p.item(item);
            None
        },
    );
    printer.finish()
}
