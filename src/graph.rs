//! A generic dependency graph over petgraph: nodes are keys, an edge `a → b`
//! means "a depends on b". Deterministic topological order and levels, and
//! the shortest cycle when there is one. Knows nothing of resources.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::hash::Hash;

use rustc_hash::FxHashMap;

use petgraph::Direction;
use petgraph::graph::{DiGraph, NodeIndex};

/// A dependency graph whose nodes are keys `K` and whose edges carry `E`
/// (for example the source span of the reference that made the edge).
#[derive(Debug, Clone)]
pub struct DepGraph<K: Ord + Hash + Clone, E: Clone> {
    graph: DiGraph<K, E>,
    index: FxHashMap<K, NodeIndex>,
    /// Whether nodes were added in key order, so that index order is key
    /// order and sorting by index is enough.
    in_key_order: bool,
}

/// A cycle: `nodes[i]` depends on `nodes[i + 1]` through `edges[i]`, and the
/// last node depends on the first through the last edge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cycle<K, E> {
    pub nodes: Vec<K>,
    pub edges: Vec<E>,
}

impl<K: Ord + Hash + Clone, E: Clone> Default for DepGraph<K, E> {
    fn default() -> Self {
        DepGraph {
            graph: DiGraph::new(),
            index: FxHashMap::default(),
            in_key_order: true,
        }
    }
}

impl<K: Ord + Hash + Clone, E: Clone> DepGraph<K, E> {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a node once; adding it again returns the same index.
    pub fn add_node(&mut self, key: K) -> NodeIndex {
        if let Some(&i) = self.index.get(&key) {
            return i;
        }
        if let Some(last) = self.graph.node_indices().next_back() {
            self.in_key_order &= self.graph[last] < key;
        }
        let i = self.graph.add_node(key.clone());
        self.index.insert(key, i);
        i
    }

    /// `from` depends on `to`. Both are added if new; a repeated edge is kept
    /// once (the first label wins).
    pub fn add_edge(&mut self, from: K, to: K, label: E) {
        let a = self.add_node(from);
        let b = self.add_node(to);
        if self.graph.find_edge(a, b).is_none() {
            self.graph.add_edge(a, b, label);
        }
    }

    pub fn len(&self) -> usize {
        self.graph.node_count()
    }

    pub fn is_empty(&self) -> bool {
        self.graph.node_count() == 0
    }

    pub fn edge_count(&self) -> usize {
        self.graph.edge_count()
    }

    pub fn contains(&self, key: &K) -> bool {
        self.index.contains_key(key)
    }

    /// Every node, in key order.
    pub fn nodes(&self) -> impl Iterator<Item = &K> {
        let mut keys: Vec<&K> = self.index.keys().collect();
        keys.sort();
        keys.into_iter()
    }

    /// Every edge as (from, to, label), in key order of both ends.
    pub fn edges(&self) -> Vec<(&K, &K, &E)> {
        let mut out: Vec<(&K, &K, &E)> = self
            .graph
            .edge_indices()
            .filter_map(|e| {
                let (a, b) = self.graph.edge_endpoints(e)?;
                Some((&self.graph[a], &self.graph[b], &self.graph[e]))
            })
            .collect();
        out.sort_by(|x, y| (x.0, x.1).cmp(&(y.0, y.1)));
        out
    }

    /// What `key` depends on, in key order.
    pub fn dependencies(&self, key: &K) -> Vec<&K> {
        self.neighbours(key, Direction::Outgoing)
    }

    /// Whether `key` depends directly on a node that satisfies `test`
    /// (without collecting or sorting its dependencies).
    pub fn any_dependency(&self, key: &K, mut test: impl FnMut(&K) -> bool) -> bool {
        self.index.get(key).is_some_and(|&i| {
            self.graph
                .neighbors_directed(i, Direction::Outgoing)
                .any(|n| test(&self.graph[n]))
        })
    }

    /// What depends on `key`, in key order.
    pub fn dependents(&self, key: &K) -> Vec<&K> {
        self.neighbours(key, Direction::Incoming)
    }

    fn neighbours(&self, key: &K, direction: Direction) -> Vec<&K> {
        let Some(&i) = self.index.get(key) else {
            return Vec::new();
        };
        let mut out: Vec<&K> = self
            .graph
            .neighbors_directed(i, direction)
            .map(|n| &self.graph[n])
            .collect();
        out.sort();
        out.dedup();
        out
    }

    /// Nodes grouped in levels: every node comes after all it depends on, and
    /// the nodes of one level depend only on earlier levels, so each level
    /// can run in parallel. Within a level, nodes are in key order.
    pub fn levels(&self) -> Result<Vec<Vec<&K>>, Cycle<K, E>> {
        let mut remaining: BTreeMap<NodeIndex, usize> = self
            .graph
            .node_indices()
            .map(|n| {
                (
                    n,
                    self.graph
                        .neighbors_directed(n, Direction::Outgoing)
                        .count(),
                )
            })
            .collect();
        let mut ready: Vec<NodeIndex> = remaining
            .iter()
            .filter(|(_, d)| **d == 0)
            .map(|(n, _)| *n)
            .collect();
        let mut levels = Vec::new();
        let mut placed = 0;
        while !ready.is_empty() {
            if self.in_key_order {
                ready.sort_unstable();
            } else {
                ready.sort_by(|a, b| self.graph[*a].cmp(&self.graph[*b]));
            }
            let mut next = Vec::new();
            for &n in &ready {
                for dependent in self.graph.neighbors_directed(n, Direction::Incoming) {
                    if let Some(d) = remaining.get_mut(&dependent) {
                        *d -= 1;
                        if *d == 0 {
                            next.push(dependent);
                        }
                    }
                }
            }
            placed += ready.len();
            levels.push(ready.iter().map(|n| &self.graph[*n]).collect());
            ready = next;
        }
        if placed < self.graph.node_count() {
            return Err(self
                .shortest_cycle()
                .expect("a graph that cannot be levelled has a cycle"));
        }
        Ok(levels)
    }

    /// Nodes in an order where every node comes after all it depends on;
    /// ties are broken by key order, so the order is deterministic.
    pub fn topological_order(&self) -> Result<Vec<&K>, Cycle<K, E>> {
        Ok(self.levels()?.into_iter().flatten().collect())
    }

    /// The shortest cycle, if any. Among cycles of the same length, the one
    /// through the smallest key, starting there.
    pub fn shortest_cycle(&self) -> Option<Cycle<K, E>> {
        let mut best: Option<Vec<NodeIndex>> = None;
        // Only nodes of a strongly connected component with a cycle can
        // start one; searching from those alone keeps this near linear.
        let mut starts: Vec<NodeIndex> = petgraph::algo::tarjan_scc(&self.graph)
            .into_iter()
            .filter(|scc| {
                scc.len() > 1 || scc.iter().any(|n| self.graph.find_edge(*n, *n).is_some())
            })
            .flatten()
            .collect();
        starts.sort_by(|a, b| self.graph[*a].cmp(&self.graph[*b]));
        for start in starts {
            if let Some(path) = self.shortest_path_back(start, best.as_ref().map(Vec::len)) {
                if best.as_ref().is_none_or(|b| path.len() < b.len()) {
                    best = Some(path);
                }
            }
        }
        let nodes = best?;
        let edges = (0..nodes.len())
            .map(|i| {
                let (a, b) = (nodes[i], nodes[(i + 1) % nodes.len()]);
                let e = self
                    .graph
                    .find_edge(a, b)
                    .expect("consecutive cycle nodes are joined");
                self.graph[e].clone()
            })
            .collect();
        Some(Cycle {
            nodes: nodes.into_iter().map(|n| self.graph[n].clone()).collect(),
            edges,
        })
    }

    /// Breadth-first from `start` back to itself: the shortest cycle through
    /// it, if shorter than `limit`. Neighbours are visited in key order.
    fn shortest_path_back(&self, start: NodeIndex, limit: Option<usize>) -> Option<Vec<NodeIndex>> {
        let mut parent: BTreeMap<NodeIndex, NodeIndex> = BTreeMap::new();
        let mut seen: BTreeSet<NodeIndex> = BTreeSet::new();
        let mut queue: VecDeque<(NodeIndex, usize)> = VecDeque::new();
        queue.push_back((start, 0));
        seen.insert(start);
        while let Some((n, depth)) = queue.pop_front() {
            if limit.is_some_and(|l| depth + 1 >= l) {
                return None;
            }
            let mut next: Vec<NodeIndex> = self
                .graph
                .neighbors_directed(n, Direction::Outgoing)
                .collect();
            next.sort_by(|a, b| self.graph[*a].cmp(&self.graph[*b]));
            next.dedup();
            for m in next {
                if m == start {
                    let mut path = vec![n];
                    let mut cur = n;
                    while cur != start {
                        cur = parent[&cur];
                        path.push(cur);
                    }
                    path.reverse();
                    return Some(path);
                }
                if seen.insert(m) {
                    parent.insert(m, n);
                    queue.push_back((m, depth + 1));
                }
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn graph(edges: &[(&'static str, &'static str)]) -> DepGraph<&'static str, usize> {
        let mut g = DepGraph::new();
        for (i, (a, b)) in edges.iter().enumerate() {
            g.add_edge(*a, *b, i);
        }
        g
    }

    #[test]
    fn order_puts_dependencies_first_and_breaks_ties_by_key() {
        let mut g = graph(&[
            ("app", "db"),
            ("app", "cluster"),
            ("db", "vpc"),
            ("cluster", "vpc"),
        ]);
        g.add_node("zone");
        assert_eq!(
            g.topological_order().unwrap(),
            vec![&"vpc", &"zone", &"cluster", &"db", &"app"]
        );
        assert_eq!(
            g.levels().unwrap(),
            vec![vec![&"vpc", &"zone"], vec![&"cluster", &"db"], vec![&"app"]]
        );
        assert_eq!(g.dependencies(&"app"), vec![&"cluster", &"db"]);
        assert_eq!(g.dependents(&"vpc"), vec![&"cluster", &"db"]);
    }

    #[test]
    fn insertion_order_does_not_change_the_result() {
        let a = graph(&[("c", "a"), ("b", "a"), ("d", "b"), ("d", "c")]);
        let b = graph(&[("d", "c"), ("d", "b"), ("b", "a"), ("c", "a")]);
        assert_eq!(
            a.topological_order().unwrap(),
            b.topological_order().unwrap()
        );
        assert_eq!(a.nodes().collect::<Vec<_>>(), b.nodes().collect::<Vec<_>>());
    }

    #[test]
    fn the_shortest_cycle_is_reported_with_its_edges() {
        // A long cycle a→b→c→d→a and a short one c→e→c.
        let g = graph(&[
            ("a", "b"),
            ("b", "c"),
            ("c", "d"),
            ("d", "a"),
            ("c", "e"),
            ("e", "c"),
        ]);
        let cycle = g.topological_order().unwrap_err();
        assert_eq!(cycle.nodes, vec!["c", "e"]);
        assert_eq!(cycle.edges, vec![4, 5]);
    }

    #[test]
    fn a_self_reference_is_a_cycle_of_one() {
        let g = graph(&[("a", "b"), ("b", "b")]);
        let cycle = g.shortest_cycle().unwrap();
        assert_eq!(cycle.nodes, vec!["b"]);
        assert_eq!(cycle.edges, vec![1]);
    }

    #[test]
    fn repeated_edges_are_kept_once() {
        let g = graph(&[("a", "b"), ("a", "b")]);
        assert_eq!(g.edge_count(), 1);
        assert_eq!(g.edges(), vec![(&"a", &"b", &0)]);
        assert!(g.shortest_cycle().is_none());
    }
}
