//! Resource addresses: typed, ordered, with one canonical string form used
//! as graph key, state key and artifact name. Below `eval` in the
//! pipeline, so a value known only after apply names its resource by
//! address, never by text parsed back.

use std::fmt;
use std::sync::Arc;

/// One `kind.name` segment of an address.
pub type Segment = compact_str::CompactString;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Which stack a resource belongs to. Written (in states and plans) as
/// `shared` or `env:NAME`.
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
/// Addresses order by layer (shared first), then segment by segment, a
/// path before the paths below it.
#[derive(Clone, Debug)]
pub struct Address(Arc<Place>);

/// What an address names.
#[derive(Debug)]
pub struct Place {
    pub layer: Layer,
    /// Segments, inline when short (most are).
    pub path: Vec<Segment>,
    /// The order as one byte string: the layer's tag and name, then each
    /// segment, each followed by a NUL (which names never contain), so
    /// that comparing keys compares (layer, path) in one `memcmp`.
    key: Box<[u8]>,
    /// A hash of the key, computed once.
    hash: u64,
    /// The canonical text, made on first use.
    text: std::sync::OnceLock<Box<str>>,
}

impl PartialEq for Address {
    fn eq(&self, other: &Address) -> bool {
        Arc::ptr_eq(&self.0, &other.0) || self.0.key == other.0.key
    }
}

impl Eq for Address {}

impl PartialOrd for Address {
    fn partial_cmp(&self, other: &Address) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Address {
    fn cmp(&self, other: &Address) -> std::cmp::Ordering {
        self.0.key.cmp(&other.0.key)
    }
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
    pub fn new(layer: Layer, path: Vec<Segment>) -> Address {
        use std::hash::Hasher;
        let mut key = Vec::with_capacity(16 + path.iter().map(|s| s.len() + 1).sum::<usize>());
        match &layer {
            Layer::Shared => key.push(0),
            Layer::Environment(name) => {
                key.push(1);
                key.extend_from_slice(name.as_bytes());
                key.push(0);
            }
        }
        for segment in &path {
            key.extend_from_slice(segment.as_bytes());
            key.push(0);
        }
        let mut hasher = rustc_hash::FxHasher::default();
        hasher.write(&key);
        let hash = hasher.finish();
        Address(Arc::new(Place {
            layer,
            path,
            key: key.into_boxed_slice(),
            hash,
            text: std::sync::OnceLock::new(),
        }))
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
        let mut segment = Segment::with_capacity(kind.len() + 1 + name.len());
        segment.push_str(kind);
        segment.push('.');
        segment.push_str(name);
        path.push(segment);
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

impl Layer {
    /// Whether this is the shared layer.
    pub fn is_shared(&self) -> bool {
        *self == Layer::Shared
    }

    /// The written form: `shared` or `env:NAME`.
    pub fn text(&self) -> String {
        match self {
            Layer::Shared => String::from("shared"),
            Layer::Environment(name) => format!("env:{name}"),
        }
    }
}

impl fmt::Display for Layer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text())
    }
}

impl Serialize for Layer {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.text())
    }
}

impl<'de> Deserialize<'de> for Layer {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Layer, D::Error> {
        let text = String::deserialize(d)?;
        match text.as_str() {
            "shared" => Ok(Layer::Shared),
            other => match other.strip_prefix("env:") {
                Some(name) if !name.is_empty() => Ok(Layer::Environment(name.to_string())),
                _ => Err(serde::de::Error::custom(format!(
                    "layer `{text}` is neither `shared` nor `env:NAME`"
                ))),
            },
        }
    }
}

impl Address {
    /// The canonical text: `shared/...` or `env:NAME/...`, segments joined
    /// by `/`. Made once per address.
    pub fn text(&self) -> &str {
        self.0.text.get_or_init(|| {
            let mut out = self.layer.text();
            for segment in &self.path {
                out.push('/');
                out.push_str(segment);
            }
            out.into_boxed_str()
        })
    }
}

impl fmt::Display for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.text())
    }
}

impl Serialize for Address {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.text())
    }
}
