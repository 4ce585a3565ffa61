//! Scopes: what a name means at a point in the source.

use rustc_hash::FxHashMap;

use super::{ModuleId, ResolveError};
use crate::source::Span;
use crate::syntax::ast::{Entry, Item, ItemKind};

/// How deep item references go. The checker walks items at most three levels
/// deep (a top-level item, an app or component body, a service body); anything
/// nested deeper is reported as misplaced and never referenced.
pub const MAX_ITEM_DEPTH: usize = 6;

/// Where an item is: its module and the index path from the top-level item
/// down through nested bodies' entries. Copied freely: it is a graph and
/// memo key on hot paths.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ItemRef {
    pub module: ModuleId,
    len: u8,
    indices: [u32; MAX_ITEM_DEPTH],
}

impl ItemRef {
    /// The module itself (an empty path): the parent of its top-level items.
    pub fn top(module: ModuleId) -> ItemRef {
        ItemRef {
            module,
            len: 0,
            indices: [0; MAX_ITEM_DEPTH],
        }
    }

    pub fn path(&self) -> &[u32] {
        &self.indices[..self.len as usize]
    }

    /// The entry `index` of this item's body. Past [`MAX_ITEM_DEPTH`] the
    /// path saturates; the checker never goes that deep.
    pub fn child(&self, index: usize) -> ItemRef {
        let mut child = *self;
        if (child.len as usize) < MAX_ITEM_DEPTH {
            child.indices[child.len as usize] = index as u32;
            child.len += 1;
        }
        child
    }

    /// The ancestor `depth` levels from the module (0 is the module itself).
    pub fn ancestor(&self, depth: usize) -> ItemRef {
        let mut a = *self;
        a.len = depth.min(self.len as usize) as u8;
        a.indices[a.len as usize..].fill(0);
        a
    }
}

/// What a name refers to.
#[derive(Clone, Debug, PartialEq)]
pub enum Def {
    Item(ItemRef),
    Module(ModuleId),
    /// A comprehension variable, by the span of its binding.
    Local(Span),
    /// A name rel provides in a context: `env`, `tier`, `service`, `app`, `git`.
    Implicit(&'static str),
}

/// One level of names.
#[derive(Clone, Debug, Default)]
pub struct Scope {
    names: FxHashMap<String, (Def, Span)>,
}

impl Scope {
    pub fn new() -> Scope {
        Scope::default()
    }

    /// The scope of a list of items (a module's top level, or a block body),
    /// reporting names defined twice.
    pub fn of_items<'a>(
        parent: &ItemRef,
        items: impl Iterator<Item = (usize, &'a Item)>,
        errors: &mut Vec<ResolveError>,
    ) -> Scope {
        let mut scope = Scope::new();
        scope.names.reserve(items.size_hint().0);
        // Outputs are read through an instance (`db.url`), not by bare name,
        // so they may share a name with a parameter; they must differ among themselves.
        let mut outputs = Scope::new();
        for (index, item) in items {
            let Some(name) = item.kind.name() else {
                continue;
            };
            let def = Def::Item(parent.child(index));
            match &item.kind {
                ItemKind::Import { .. } => continue, // added by the caller with the module it resolved to
                ItemKind::Output { .. } => outputs.define(&name.name, def, name.span, errors),
                _ => scope.define(&name.name, def, name.span, errors),
            }
        }
        scope
    }

    /// The scope of a body's nested items.
    pub fn of_body(parent: &ItemRef, entries: &[Entry], errors: &mut Vec<ResolveError>) -> Scope {
        // Most bodies (services, resources, instances) hold attributes only.
        if !entries.iter().any(|e| matches!(e, Entry::Item(_))) {
            return Scope::new();
        }
        let items: Vec<(usize, &Item)> = entries
            .iter()
            .enumerate()
            .filter_map(|(i, e)| match e {
                Entry::Item(item) => Some((i, &**item)),
                Entry::Attr(_) => None,
            })
            .collect();
        Scope::of_items(parent, items.into_iter(), errors)
    }

    pub fn define(&mut self, name: &str, def: Def, span: Span, errors: &mut Vec<ResolveError>) {
        if let Some((_, previous)) = self.names.get(name) {
            errors.push(ResolveError::Duplicate {
                span,
                previous: *previous,
                name: name.to_string(),
            });
            return;
        }
        self.names.insert(name.to_string(), (def, span));
    }

    /// Defines a name, shadowing any earlier one (comprehension variables).
    pub fn bind(&mut self, name: &str, def: Def, span: Span) {
        self.names.insert(name.to_string(), (def, span));
    }

    pub fn get(&self, name: &str) -> Option<&Def> {
        self.names.get(name).map(|(d, _)| d)
    }

    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.names.keys().map(String::as_str)
    }
}
