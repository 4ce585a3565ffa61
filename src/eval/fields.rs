//! The fields of a map value: a vector sorted by key.
//!
//! Maps in infrastructure values are small (a handful of keys each) and
//! many (tens of thousands in a large build). A B-tree spends a node of
//! eleven slots on each; a sorted vector spends what the keys need, keeps
//! them together in memory and iterates in key order like a `BTreeMap`.

use std::fmt;

use super::value::{Str, Value};

/// Key-ordered fields of a map value, each key once. Keys are compact
/// strings: short ones live inline and static ones are borrowed, so most
/// keys cost no allocation.
#[derive(Clone, Default, PartialEq)]
pub struct Fields(Vec<(Str, Value)>);

pub type Iter<'a> =
    std::iter::Map<std::slice::Iter<'a, (Str, Value)>, fn(&(Str, Value)) -> (&Str, &Value)>;

impl Fields {
    pub fn new() -> Fields {
        Fields(Vec::new())
    }

    fn find(&self, key: &str) -> Result<usize, usize> {
        self.0.binary_search_by(|(k, _)| key_order(k, key))
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn get(&self, key: &str) -> Option<&Value> {
        self.find(key).ok().map(|i| &self.0[i].1)
    }

    pub fn get_mut(&mut self, key: &str) -> Option<&mut Value> {
        self.find(key).ok().map(|i| &mut self.0[i].1)
    }

    pub fn contains_key(&self, key: &str) -> bool {
        self.find(key).is_ok()
    }

    /// Sets a field, returning the value it replaces.
    pub fn insert(&mut self, key: impl Into<Str>, value: Value) -> Option<Value> {
        let key = key.into();
        match self.find(&key) {
            Ok(i) => Some(std::mem::replace(&mut self.0[i].1, value)),
            Err(i) => {
                self.0.insert(i, (key, value));
                None
            }
        }
    }

    pub fn remove(&mut self, key: &str) -> Option<Value> {
        self.find(key).ok().map(|i| self.0.remove(i).1)
    }

    /// The field's value, inserted from `default` if absent.
    pub fn get_or_insert_with(&mut self, key: &str, default: impl FnOnce() -> Value) -> &mut Value {
        let i = match self.find(key) {
            Ok(i) => i,
            Err(i) => {
                self.0.insert(i, (Str::from(key), default()));
                i
            }
        };
        &mut self.0[i].1
    }

    pub fn iter(&self) -> Iter<'_> {
        self.0.iter().map(|(k, v)| (k, v))
    }

    pub fn keys(&self) -> impl DoubleEndedIterator<Item = &Str> + ExactSizeIterator {
        self.0.iter().map(|(k, _)| k)
    }

    pub fn values(&self) -> impl DoubleEndedIterator<Item = &Value> + ExactSizeIterator {
        self.0.iter().map(|(_, v)| v)
    }
}

/// The order of keys (byte order, as `str`'s), deciding on the first byte
/// inline when it differs: keys of one map mostly differ there, and a
/// `memcmp` call costs more than the comparison.
#[inline]
fn key_order(a: &str, b: &str) -> std::cmp::Ordering {
    match (a.as_bytes().first(), b.as_bytes().first()) {
        (Some(x), Some(y)) if x != y => x.cmp(y),
        _ => a.cmp(b),
    }
}

impl fmt::Debug for Fields {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.iter()).finish()
    }
}

impl<K: Into<Str>> FromIterator<(K, Value)> for Fields {
    /// Later pairs win over earlier ones with the same key, as in a map.
    fn from_iter<I: IntoIterator<Item = (K, Value)>>(iter: I) -> Fields {
        let mut pairs: Vec<(Str, Value)> = iter.into_iter().map(|(k, v)| (k.into(), v)).collect();
        if pairs.windows(2).all(|w| w[0].0 < w[1].0) {
            return Fields(pairs);
        }
        // Stable: equal keys keep their order, so the last one is the latest.
        pairs.sort_by(|a, b| a.0.cmp(&b.0));
        let mut out: Vec<(Str, Value)> = Vec::with_capacity(pairs.len());
        for pair in pairs {
            match out.last_mut() {
                Some(last) if last.0 == pair.0 => *last = pair,
                _ => out.push(pair),
            }
        }
        Fields(out)
    }
}

impl<K: Into<Str>> Extend<(K, Value)> for Fields {
    fn extend<I: IntoIterator<Item = (K, Value)>>(&mut self, iter: I) {
        for (k, v) in iter {
            self.insert(k, v);
        }
    }
}

impl IntoIterator for Fields {
    type Item = (Str, Value);
    type IntoIter = std::vec::IntoIter<(Str, Value)>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.into_iter()
    }
}

impl<'a> IntoIterator for &'a Fields {
    type Item = (&'a Str, &'a Value);
    type IntoIter = Iter<'a>;
    fn into_iter(self) -> Iter<'a> {
        self.iter()
    }
}

impl<K: Into<Str>, const N: usize> From<[(K, Value); N]> for Fields {
    fn from(pairs: [(K, Value); N]) -> Fields {
        pairs.into_iter().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_order_is_str_order() {
        let keys = [
            "",
            "a",
            "ab",
            "b",
            "ba",
            "B",
            "é",
            "a.b",
            "a/b",
            "image",
            "imagePullPolicy",
        ];
        for a in keys {
            for b in keys {
                assert_eq!(key_order(a, b), a.cmp(b), "{a:?} vs {b:?}");
            }
        }
    }

    #[test]
    fn keys_stay_sorted_and_unique() {
        let mut f = Fields::new();
        for k in ["b", "a", "c", "a"] {
            f.insert(k, Value::Str(k.into()));
        }
        assert_eq!(
            f.keys().map(Str::as_str).collect::<Vec<_>>(),
            ["a", "b", "c"]
        );
        assert_eq!(f.remove("b"), Some(Value::Str("b".into())));
        assert!(!f.contains_key("b"));
        let collected: Fields = [("z", 1), ("y", 2), ("z", 3)]
            .into_iter()
            .map(|(k, n)| (k.to_string(), Value::Int(n)))
            .collect();
        assert_eq!(collected.get("z"), Some(&Value::Int(3)));
        assert_eq!(collected.len(), 2);
        assert_eq!(collected.keys().next().map(Str::as_str), Some("y"));
    }
}
