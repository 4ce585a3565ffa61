//! Resource addresses: typed, ordered, with one canonical string form used
//! as graph key, state key and artifact name.

use std::fmt;
use std::sync::Arc;

use serde::{Serialize, Serializer};

/// Which stack a resource belongs to.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Layer {
    /// Items outside any app: domains, clusters, certificates.
    Shared,
    /// One environment's copy of the app.
    Environment(String),
}

/// A resource's place: its layer and a path of `kind.name` segments.
/// Shared and immutable: a model holds each address in several places (its
/// resource, the graph's node and index, edges), and copies are a count.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Address(Arc<Place>);

/// What an address names.
#[derive(Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Place {
    pub layer: Layer,
    pub path: Vec<String>,
    /// A hash of the above, computed once (addresses key the graph's index
    /// and many lookups); last, so that it never decides an order.
    hash: u64,
}

impl std::hash::Hash for Address {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        state.write_u64(self.0.hash);
    }
}

impl std::ops::Deref for Address {
    type Target = Place;
    fn deref(&self) -> &Place {
        &self.0
    }
}

impl Address {
    pub fn new(layer: Layer, path: Vec<String>) -> Address {
        use std::hash::{Hash, Hasher};
        let mut hasher = rustc_hash::FxHasher::default();
        layer.hash(&mut hasher);
        path.hash(&mut hasher);
        let hash = hasher.finish();
        Address(Arc::new(Place { layer, path, hash }))
    }

    pub fn shared() -> Address {
        Address::new(Layer::Shared, Vec::new())
    }

    pub fn environment(name: &str) -> Address {
        Address::new(Layer::Environment(name.to_string()), Vec::new())
    }

    /// This address with one more segment, `kind.name`.
    pub fn child(&self, kind: &str, name: &str) -> Address {
        let mut path = Vec::with_capacity(self.path.len() + 1);
        path.extend(self.path.iter().cloned());
        path.push(format!("{kind}.{name}"));
        Address::new(self.layer.clone(), path)
    }

    /// Whether `other` is this address or below it.
    pub fn contains(&self, other: &Address) -> bool {
        self.layer == other.layer && other.path.starts_with(&self.path)
    }

    /// The last segment's name (`vpc` in `.../resource.vpc`).
    pub fn name(&self) -> &str {
        self.path
            .last()
            .and_then(|s| s.split_once('.'))
            .map_or("", |(_, n)| n)
    }
}

impl fmt::Display for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.layer {
            Layer::Shared => f.write_str("shared")?,
            Layer::Environment(name) => write!(f, "env:{name}")?,
        }
        for segment in &self.path {
            write!(f, "/{segment}")?;
        }
        Ok(())
    }
}

impl Serialize for Address {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}
