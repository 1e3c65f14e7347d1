//! The layered layout of a flow's graph, in pure Rust so that it runs the
//! same on the server, in the browser and in unit tests.
//!
//! The graph is compound: a flowable task is a group whose tasks are laid
//! out inside its box. Each container (the flow's `tasks`, `errors` and
//! `finally`, and every group) is laid out on its own, innermost first, as
//! a layered graph: longest-path layering, a dummy unit on every layer an
//! edge skips, barycentre ordering, then rows centred on each other. A
//! group is then one unit of its parent, as big as its box.
//!
//! Edges never cross nodes by construction: an edge leaves its unit at the
//! bottom, runs straight down to the bottom of its row, crosses the gap
//! between two rows (where nothing is drawn), and runs down through the
//! rows it skips in the column its dummy unit reserves.

use std::collections::HashMap;

use engine::flow::graph::{EdgeKind, Graph, NodeKind, Section};

pub(crate) const NODE_W: f64 = 200.0;
pub(crate) const NODE_H: f64 = 52.0;
const PILL_W: f64 = 72.0;
const PILL_H: f64 = 28.0;
const JUNCTION: f64 = 14.0;
const DUMMY_W: f64 = 12.0;
const H_GAP: f64 = 28.0;
const V_GAP: f64 = 44.0;
const GROUP_PAD: f64 = 14.0;
const SECTION_PAD: f64 = 16.0;
/// Room above a section's box for its title.
const SECTION_TITLE: f64 = 26.0;
const SECTION_GAP: f64 = 56.0;

/// A flow's graph with a position for everything.
#[derive(Debug, Clone, PartialEq, Default)]
pub(crate) struct Layout {
    pub width: f64,
    pub height: f64,
    pub nodes: Vec<Placed>,
    pub groups: Vec<GroupBox>,
    pub edges: Vec<Route>,
    pub sections: Vec<SectionBox>,
}

/// What a placed node is drawn as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Shape {
    /// The flow's start, or the entry of `errors` / `finally`.
    Start,
    End,
    Task,
    /// The header of a flowable's box.
    Group,
    /// Where a flowable's branches meet again.
    Junction,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Placed {
    pub uid: String,
    pub shape: Shape,
    pub task_id: Option<String>,
    pub task_type: Option<String>,
    pub section: Section,
    pub x: f64,
    pub y: f64,
    pub w: f64,
    pub h: f64,
}

/// The box around a flowable task and what is inside it.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct GroupBox {
    pub task_id: String,
    pub x: f64,
    pub y: f64,
    pub w: f64,
    pub h: f64,
}

/// The box around the `errors` or `finally` tasks, set apart from `tasks`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct SectionBox {
    pub section: Section,
    pub x: f64,
    pub y: f64,
    pub w: f64,
    pub h: f64,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Route {
    pub from: String,
    pub to: String,
    pub kind: EdgeKind,
    pub label: Option<String>,
    /// Where the label goes: the middle of the first gap it crosses.
    pub label_at: (f64, f64),
    /// The path: a start point, then segments.
    pub start: (f64, f64),
    pub segments: Vec<Segment>,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Segment {
    Line((f64, f64)),
    /// A vertical S-curve across the gap between two rows, to this point.
    Curve((f64, f64)),
}

impl Route {
    /// The SVG path data.
    pub(crate) fn path(&self) -> String {
        let mut d = format!("M{:.1},{:.1}", self.start.0, self.start.1);
        let mut at = self.start;
        for segment in &self.segments {
            match *segment {
                Segment::Line((x, y)) => d.push_str(&format!(" L{x:.1},{y:.1}")),
                Segment::Curve((x, y)) => {
                    let mid = (at.1 + y) / 2.0;
                    d.push_str(&format!(" C{:.1},{mid:.1} {x:.1},{mid:.1} {x:.1},{y:.1}", at.0));
                }
            }
            at = match *segment {
                Segment::Line(p) | Segment::Curve(p) => p,
            };
        }
        d
    }

    /// Points along the path, curves sampled, for tests.
    #[cfg(test)]
    pub(crate) fn sample(&self) -> Vec<(f64, f64)> {
        let mut points = vec![self.start];
        let mut at = self.start;
        for segment in &self.segments {
            let (to, curve) = match *segment {
                Segment::Line(p) => (p, false),
                Segment::Curve(p) => (p, true),
            };
            for i in 1..=20 {
                let t = f64::from(i) / 20.0;
                let x = if curve {
                    // A cubic with control points at the ends' x: smoothstep.
                    at.0 + (to.0 - at.0) * (3.0 * t * t - 2.0 * t * t * t)
                } else {
                    at.0 + (to.0 - at.0) * t
                };
                let y = if curve {
                    let mid = (at.1 + to.1) / 2.0;
                    let u = 1.0 - t;
                    u * u * u * at.1 + 3.0 * u * u * t * mid + 3.0 * u * t * t * mid + t * t * t * to.1
                } else {
                    at.1 + (to.1 - at.1) * t
                };
                points.push((x, y));
            }
            at = to;
        }
        points
    }
}

/// Lays out a graph. Never panics, whatever the graph: duplicate uids keep
/// their first node, edges to unknown nodes and edges that would go back up
/// (a cycle in an invalid Dag) are left out.
pub(crate) fn layout(graph: &Graph) -> Layout {
    let mut index: HashMap<&str, usize> = HashMap::new();
    for (i, node) in graph.nodes.iter().enumerate() {
        index.entry(node.uid.as_str()).or_insert(i);
    }
    let ctx = Ctx { graph, index };
    let mut containers: HashMap<Key, Members> = HashMap::new();
    for (i, node) in graph.nodes.iter().enumerate() {
        if ctx.index.get(node.uid.as_str()) != Some(&i) {
            continue;
        }
        if matches!(node.kind, NodeKind::Task | NodeKind::Group) {
            containers.entry(Key::new(node.section, node.parent.clone())).or_default().units.push(node.uid.clone());
        }
    }
    for edge in &graph.edges {
        if let Some((key, from, to)) = ctx.edge_units(&edge.from, &edge.to)
            && from != to
        {
            containers.entry(key).or_default().edges.push(EdgeRef { from, to, kind: edge.kind, label: edge.label.clone(), uid: (edge.from.clone(), edge.to.clone()) });
        }
    }
    let mut out = Layout::default();
    let mut x = 0.0;
    for section in [Section::Tasks, Section::Errors, Section::Finally] {
        let key = Key::new(section, None);
        if section != Section::Tasks && !containers.contains_key(&key) {
            continue;
        }
        let block = ctx.container(&key, &containers, 0);
        if section == Section::Tasks {
            out.absorb(block.clone(), x, 0.0);
            x += block.w;
            out.height = out.height.max(block.h);
        } else {
            x += SECTION_GAP;
            let (w, h) = (block.w + 2.0 * SECTION_PAD, block.h + 2.0 * SECTION_PAD);
            out.sections.push(SectionBox { section, x, y: SECTION_TITLE, w, h });
            out.absorb(block, x + SECTION_PAD, SECTION_TITLE + SECTION_PAD);
            x += w;
            out.height = out.height.max(SECTION_TITLE + h);
        }
    }
    out.width = x;
    out
}

/// A container: the flow's section (`None`) or a group inside it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct Key(SectionKey, Option<String>);

/// `Section` as a hash key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct SectionKey(u8);

impl From<Section> for SectionKey {
    fn from(section: Section) -> Self {
        SectionKey(match section {
            Section::Tasks => 0,
            Section::Errors => 1,
            Section::Finally => 2,
        })
    }
}

impl Key {
    fn new(section: Section, group: Option<String>) -> Self {
        Key(section.into(), group)
    }

    fn section(&self) -> Section {
        match self.0.0 {
            0 => Section::Tasks,
            1 => Section::Errors,
            _ => Section::Finally,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Unit {
    Entry,
    Exit,
    /// A task, or a group's whole box.
    Node(String),
}

#[derive(Default)]
struct Members {
    units: Vec<String>,
    edges: Vec<EdgeRef>,
}

struct EdgeRef {
    from: Unit,
    to: Unit,
    kind: EdgeKind,
    label: Option<String>,
    uid: (String, String),
}

struct Ctx<'a> {
    graph: &'a Graph,
    index: HashMap<&'a str, usize>,
}

/// A laid-out container, with its own origin at the top left.
#[derive(Debug, Clone, Default)]
struct Block {
    w: f64,
    h: f64,
    nodes: Vec<Placed>,
    groups: Vec<GroupBox>,
    edges: Vec<Route>,
}

impl Layout {
    fn absorb(&mut self, block: Block, dx: f64, dy: f64) {
        let mut block = block;
        block.translate(dx, dy);
        self.nodes.extend(block.nodes);
        self.groups.extend(block.groups);
        self.edges.extend(block.edges);
    }
}

impl Block {
    fn translate(&mut self, dx: f64, dy: f64) {
        for n in &mut self.nodes {
            n.x += dx;
            n.y += dy;
        }
        for g in &mut self.groups {
            g.x += dx;
            g.y += dy;
        }
        for e in &mut self.edges {
            e.start = (e.start.0 + dx, e.start.1 + dy);
            e.label_at = (e.label_at.0 + dx, e.label_at.1 + dy);
            for s in &mut e.segments {
                match s {
                    Segment::Line(p) | Segment::Curve(p) => *p = (p.0 + dx, p.1 + dy),
                }
            }
        }
    }
}

impl Ctx<'_> {
    fn node(&self, uid: &str) -> Option<&engine::flow::graph::GraphNode> {
        self.index.get(uid).map(|&i| &self.graph.nodes[i])
    }

    /// The container a node is a unit of, seen from outside, and the unit.
    fn outer(&self, uid: &str) -> Option<(Key, Unit)> {
        let n = self.node(uid)?;
        Some(match n.kind {
            NodeKind::Start => (Key::new(Section::Tasks, None), Unit::Entry),
            NodeKind::End => (Key::new(n.section, None), Unit::Exit),
            NodeKind::Task | NodeKind::Group => (Key::new(n.section, n.parent.clone()), Unit::Node(n.uid.clone())),
            NodeKind::GroupEnd => {
                let group = self.node(n.parent.as_deref()?)?;
                (Key::new(group.section, group.parent.clone()), Unit::Node(group.uid.clone()))
            }
        })
    }

    /// The container an edge is drawn in, and its two units.
    fn edge_units(&self, from: &str, to: &str) -> Option<(Key, Unit, Unit)> {
        let a = self.node(from)?;
        let b = self.node(to)?;
        // From a group's header into its own box.
        if a.kind == NodeKind::Group && b.parent.as_deref() == Some(a.uid.as_str()) {
            let to = if b.kind == NodeKind::GroupEnd { Unit::Exit } else { Unit::Node(b.uid.clone()) };
            return Some((Key::new(a.section, Some(a.uid.clone())), Unit::Entry, to));
        }
        // From inside a group to where its branches meet.
        if b.kind == NodeKind::GroupEnd {
            let (_, unit) = self.outer(from)?;
            return Some((Key::new(b.section, b.parent.clone()), unit, Unit::Exit));
        }
        // The flow's start or end into `errors` or `finally`.
        if matches!(a.kind, NodeKind::Start | NodeKind::End) && b.section != a.section {
            let (_, unit) = self.outer(to)?;
            return Some((Key::new(b.section, None), Unit::Entry, unit));
        }
        let (key, from) = self.outer(from)?;
        let (other, to) = self.outer(to)?;
        (key == other).then_some((key, from, to))
    }

    fn container(&self, key: &Key, all: &HashMap<Key, Members>, depth: usize) -> Block {
        let empty = Members::default();
        let members = all.get(key).unwrap_or(&empty);
        // Units: entry, members in document order, exit.
        let mut units: Vec<Unit> = vec![Unit::Entry];
        units.extend(members.units.iter().map(|u| Unit::Node(u.clone())));
        units.push(Unit::Exit);
        let position: HashMap<&Unit, usize> = units.iter().enumerate().map(|(i, u)| (u, i)).collect();
        let mut sizes: Vec<(f64, f64)> = Vec::with_capacity(units.len());
        let mut inner: Vec<Option<Block>> = Vec::with_capacity(units.len());
        for unit in &units {
            let (size, block) = match unit {
                Unit::Entry => match (&key.1, key.section()) {
                    (Some(_), _) => ((NODE_W, NODE_H), None),
                    (None, _) => ((PILL_W, PILL_H), None),
                },
                Unit::Exit => match (&key.1, key.section()) {
                    (Some(_), _) => ((JUNCTION, JUNCTION), None),
                    (None, Section::Tasks) => ((PILL_W, PILL_H), None),
                    (None, _) => ((JUNCTION, JUNCTION), None),
                },
                Unit::Node(uid) => match self.node(uid).map(|n| n.kind) {
                    // Deeper than any real flow nests: drawn as a plain node.
                    Some(NodeKind::Group) if depth < 32 => {
                        let block = self.container(&Key(key.0, Some(uid.clone())), all, depth + 1);
                        ((block.w + 2.0 * GROUP_PAD, block.h + 2.0 * GROUP_PAD), Some(block))
                    }
                    _ => ((NODE_W, NODE_H), None),
                },
            };
            sizes.push(size);
            inner.push(block);
        }
        let mut edges: Vec<(usize, usize, usize)> = Vec::new();
        for (i, e) in members.edges.iter().enumerate() {
            if let (Some(&a), Some(&b)) = (position.get(&e.from), position.get(&e.to))
                && a != b
                && !edges.iter().any(|&(x, y, _)| x == a && y == b)
            {
                edges.push((a, b, i));
            }
        }
        let layer = layers(units.len(), &edges);
        // Edges that go back up (a cycle) are not drawn.
        edges.retain(|&(a, b, _)| layer[a] < layer[b]);

        // Dummy units on every layer an edge skips.
        let layer_count = layer.iter().copied().max().unwrap_or(0) + 1;
        let mut rows: Vec<Vec<Item>> = vec![Vec::new(); layer_count];
        for (i, &l) in layer.iter().enumerate() {
            rows[l].push(Item::Unit(i));
        }
        // Each edge as its chain of items, one per layer.
        let mut chains: Vec<Vec<Item>> = Vec::with_capacity(edges.len());
        for (n, &(a, b, _)) in edges.iter().enumerate() {
            let mut chain = vec![Item::Unit(a)];
            for (l, row) in rows.iter_mut().enumerate().take(layer[b]).skip(layer[a] + 1) {
                let dummy = Item::Dummy(n, l);
                row.push(dummy);
                chain.push(dummy);
            }
            chain.push(Item::Unit(b));
            chains.push(chain);
        }
        order_rows(&mut rows, &chains);

        // Coordinates: rows from top to bottom, each centred.
        let width_of = |item: &Item| match item {
            Item::Unit(i) => sizes[*i].0,
            Item::Dummy(..) => DUMMY_W,
        };
        let height_of = |item: &Item| match item {
            Item::Unit(i) => sizes[*i].1,
            Item::Dummy(..) => 0.0,
        };
        let row_w: Vec<f64> = rows
            .iter()
            .map(|row| row.iter().map(width_of).sum::<f64>() + H_GAP * row.len().saturating_sub(1) as f64)
            .collect();
        let width = row_w.iter().copied().fold(0.0, f64::max);
        let row_h: Vec<f64> = rows.iter().map(|row| row.iter().map(height_of).fold(0.0, f64::max)).collect();
        let mut row_y = Vec::with_capacity(rows.len());
        let mut y = 0.0;
        for h in &row_h {
            row_y.push(y);
            y += h + V_GAP;
        }
        let height = (y - V_GAP).max(0.0);
        let mut place: HashMap<Item, (f64, f64, f64)> = HashMap::new(); // x, y, w
        for (l, row) in rows.iter().enumerate() {
            let mut x = (width - row_w[l]) / 2.0;
            for item in row {
                let w = width_of(item);
                place.insert(*item, (x, row_y[l], w));
                x += w + H_GAP;
            }
        }

        let mut block = Block { w: width, h: height, ..Block::default() };
        for (i, unit) in units.iter().enumerate() {
            let (x, y, w) = place[&Item::Unit(i)];
            let h = sizes[i].1;
            match unit {
                Unit::Entry => {
                    let (uid, shape, node) = match &key.1 {
                        Some(group) => (group.clone(), Shape::Group, self.node(group)),
                        None => (format!("{}.start", section_name(key.section())), Shape::Start, None),
                    };
                    block.nodes.push(Placed {
                        uid,
                        shape,
                        task_id: node.and_then(|n| n.task_id.clone()),
                        task_type: node.and_then(|n| n.task_type.clone()),
                        section: key.section(),
                        x,
                        y,
                        w,
                        h,
                    });
                }
                Unit::Exit => {
                    let (uid, shape) = match (&key.1, key.section()) {
                        (Some(group), _) => (format!("{group}.end"), Shape::Junction),
                        (None, Section::Tasks) => ("root.end".to_owned(), Shape::End),
                        (None, section) => (format!("{}.end", section_name(section)), Shape::Junction),
                    };
                    block.nodes.push(Placed { uid, shape, task_id: None, task_type: None, section: key.section(), x, y, w, h });
                }
                Unit::Node(uid) => match inner[i].take() {
                    Some(mut group) => {
                        group.translate(x + GROUP_PAD, y + GROUP_PAD);
                        block.groups.push(GroupBox { task_id: uid.clone(), x, y, w, h });
                        block.nodes.extend(group.nodes);
                        block.groups.extend(group.groups);
                        block.edges.extend(group.edges);
                    }
                    None => {
                        let node = self.node(uid);
                        block.nodes.push(Placed {
                            uid: uid.clone(),
                            shape: Shape::Task,
                            task_id: node.and_then(|n| n.task_id.clone()),
                            task_type: node.and_then(|n| n.task_type.clone()),
                            section: key.section(),
                            x,
                            y,
                            w,
                            h,
                        });
                    }
                },
            }
        }
        for (chain, &(a, b, e)) in chains.iter().zip(&edges) {
            let edge = &members.edges[e];
            let (ax, ay, aw) = place[&Item::Unit(a)];
            let start = (ax + aw / 2.0, ay + sizes[a].1);
            let mut segments = Vec::new();
            let mut label_at = start;
            let mut bottom = row_y[layer[a]] + row_h[layer[a]];
            if bottom > start.1 {
                segments.push(Segment::Line((start.0, bottom)));
            }
            for (n, item) in chain.iter().enumerate().skip(1) {
                let (x, y, w) = place[item];
                let cx = x + w / 2.0;
                if n == 1 {
                    label_at = ((start.0 + cx) / 2.0, (bottom + y) / 2.0);
                }
                segments.push(Segment::Curve((cx, y)));
                if let Item::Dummy(_, l) = item {
                    bottom = row_y[*l] + row_h[*l];
                    segments.push(Segment::Line((cx, bottom)));
                }
            }
            let _ = b;
            block.edges.push(Route {
                from: edge.uid.0.clone(),
                to: edge.uid.1.clone(),
                kind: edge.kind,
                label: edge.label.clone(),
                label_at,
                start,
                segments,
            });
        }
        block
    }
}

fn section_name(section: Section) -> &'static str {
    match section {
        Section::Tasks => "root",
        Section::Errors => "errors",
        Section::Finally => "finally",
    }
}

/// A unit, or the place an edge crosses a layer it skips.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Item {
    Unit(usize),
    Dummy(usize, usize),
}

/// Longest-path layers: the entry (unit 0) on layer 0, every unit below
/// all of its predecessors, the exit (the last unit) alone at the bottom.
/// A cycle is broken at the first unit, in order, that is still waiting.
fn layers(count: usize, edges: &[(usize, usize, usize)]) -> Vec<usize> {
    let exit = count - 1;
    let mut incoming = vec![0usize; count];
    for &(_, b, _) in edges {
        incoming[b] += 1;
    }
    let mut layer = vec![0usize; count];
    let mut done = vec![false; count];
    let mut remaining = count;
    while remaining > 0 {
        let next = (0..count)
            .find(|&i| !done[i] && incoming[i] == 0 && (i != exit || remaining == 1))
            .or_else(|| (0..count).find(|&i| !done[i] && i != exit))
            .unwrap_or(exit);
        done[next] = true;
        remaining -= 1;
        if next != 0 && layer[next] == 0 {
            layer[next] = 1;
        }
        for &(a, b, _) in edges {
            if a == next && !done[b] {
                incoming[b] -= 1;
                layer[b] = layer[b].max(layer[next] + 1);
            }
        }
    }
    let deepest = layer[..exit].iter().copied().max().unwrap_or(0);
    layer[exit] = deepest + 1;
    layer
}

/// Barycentre ordering: a few sweeps down then up, each row sorted by the
/// mean position of its neighbours in the row before.
fn order_rows(rows: &mut [Vec<Item>], chains: &[Vec<Item>]) {
    let mut up: HashMap<Item, Vec<Item>> = HashMap::new();
    let mut down: HashMap<Item, Vec<Item>> = HashMap::new();
    for chain in chains {
        for pair in chain.windows(2) {
            down.entry(pair[0]).or_default().push(pair[1]);
            up.entry(pair[1]).or_default().push(pair[0]);
        }
    }
    for _ in 0..4 {
        for l in 1..rows.len() {
            let (before, after) = rows.split_at_mut(l);
            sort_by_barycentre(&mut after[0], &before[l - 1], &up);
        }
        for l in (0..rows.len().saturating_sub(1)).rev() {
            let (before, after) = rows.split_at_mut(l + 1);
            sort_by_barycentre(&mut before[l], &after[0], &down);
        }
    }
}

fn sort_by_barycentre(row: &mut [Item], fixed: &[Item], neighbours: &HashMap<Item, Vec<Item>>) {
    let at: HashMap<Item, usize> = fixed.iter().enumerate().map(|(i, item)| (*item, i)).collect();
    let mut keyed: Vec<(f64, usize, Item)> = row
        .iter()
        .enumerate()
        .map(|(i, item)| {
            let positions: Vec<f64> =
                neighbours.get(item).into_iter().flatten().filter_map(|n| at.get(n)).map(|&p| p as f64).collect();
            // Scale the fixed row onto this one so units without neighbours keep their place.
            let scale = if fixed.len() > 1 { (row.len().max(1) - 1) as f64 / (fixed.len() - 1) as f64 } else { 1.0 };
            let key = if positions.is_empty() { i as f64 } else { positions.iter().sum::<f64>() / positions.len() as f64 * scale };
            (key, i, *item)
        })
        .collect();
    keyed.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
    for (slot, (_, _, item)) in row.iter_mut().zip(keyed) {
        *slot = item;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn graph_of(source: &str) -> Graph {
        let parsed = engine::flow::parse(source);
        engine::flow::graph::graph(parsed.flow.as_ref().expect("a flow"))
    }

    /// Every edge, sampled, stays out of every node but its own two ends,
    /// and no two nodes overlap.
    fn check_no_crossing(layout: &Layout) {
        for (i, a) in layout.nodes.iter().enumerate() {
            for b in &layout.nodes[i + 1..] {
                let overlap = a.x < b.x + b.w && b.x < a.x + a.w && a.y < b.y + b.h && b.y < a.y + a.h;
                assert!(!overlap, "{} overlaps {}", a.uid, b.uid);
            }
        }
        for edge in &layout.edges {
            for (x, y) in edge.sample() {
                for node in &layout.nodes {
                    if node.uid == edge.from || node.uid == edge.to || node.uid == format!("{}.end", edge.from) {
                        continue;
                    }
                    let inside = x > node.x + 0.5 && x < node.x + node.w - 0.5 && y > node.y + 0.5 && y < node.y + node.h - 0.5;
                    assert!(!inside, "edge {} -> {} crosses {} at ({x}, {y})", edge.from, edge.to, node.uid);
                }
            }
        }
    }

    #[test]
    fn blueprints_lay_out_without_edges_crossing_nodes() {
        for blueprint in engine::blueprints::all() {
            let layout = layout(&graph_of(blueprint.source));
            assert!(layout.width > 0.0 && layout.height > 0.0);
            check_no_crossing(&layout);
            // Every task of the flow is drawn once.
            let parsed = engine::flow::parse(blueprint.source);
            for task in parsed.flow.unwrap().all_tasks() {
                let drawn = layout.nodes.iter().filter(|n| n.task_id.as_deref() == Some(task.id.value.as_str())).count();
                assert_eq!(drawn, 1, "{} in {}", task.id.value, blueprint.header.id);
            }
        }
    }

    #[test]
    fn a_dag_is_layered_by_its_dependencies() {
        let layout = layout(&graph_of(include_str!("../../../../blueprints/databricks_dag.yml")));
        let y = |id: &str| layout.nodes.iter().find(|n| n.task_id.as_deref() == Some(id)).unwrap().y;
        assert_eq!(y("cluster"), y("upload"));
        assert!(y("transform") > y("cluster"));
        assert!(y("check") > y("transform"));
        // `pipeline` is a group holding the four tasks.
        let group = layout.groups.iter().find(|g| g.task_id == "pipeline").unwrap();
        for id in ["cluster", "upload", "transform", "check"] {
            let n = layout.nodes.iter().find(|n| n.task_id.as_deref() == Some(id)).unwrap();
            assert!(n.x >= group.x && n.x + n.w <= group.x + group.w && n.y >= group.y && n.y + n.h <= group.y + group.h, "{id}");
        }
        // errors and finally are set apart, to the right of the tasks.
        let sections: Vec<Section> = layout.sections.iter().map(|s| s.section).collect();
        assert_eq!(sections, [Section::Errors, Section::Finally]);
        let cleanup = layout.nodes.iter().find(|n| n.task_id.as_deref() == Some("cleanup")).unwrap();
        assert!(cleanup.x > group.x + group.w);
    }

    #[test]
    fn nested_flowables_and_skipped_layers_do_not_cross() {
        let source = "id: f\nnamespace: n\ntasks:\n  - id: par\n    type: io.kestra.plugin.core.flow.Parallel\n    tasks:\n      - id: a\n        type: log.Log\n        message: a\n      - id: seq\n        type: io.kestra.plugin.core.flow.Sequential\n        tasks:\n          - id: b\n            type: log.Log\n            message: b\n          - id: c\n            type: log.Log\n            message: c\n  - id: branch\n    type: io.kestra.plugin.core.flow.If\n    condition: \"{{ true }}\"\n    then:\n      - id: d\n        type: log.Log\n        message: d\n    else:\n      - id: e\n        type: log.Log\n        message: e\n      - id: f2\n        type: log.Log\n        message: f\n";
        let graph = graph_of(source);
        let layout = layout(&graph);
        check_no_crossing(&layout);
        assert_eq!(layout.groups.len(), 3);
        let labels: Vec<&str> = layout.edges.iter().filter_map(|e| e.label.as_deref()).collect();
        assert!(labels.contains(&"then") && labels.contains(&"else"), "{labels:?}");
    }

    #[test]
    fn broken_graphs_do_not_panic() {
        // A cycle, duplicate ids and an unknown dependency.
        let source = "id: f\nnamespace: n\ntasks:\n  - id: dag\n    type: io.kestra.plugin.core.flow.Dag\n    tasks:\n      - task:\n          id: a\n          type: log.Log\n          message: a\n        dependsOn: [b]\n      - task:\n          id: b\n          type: log.Log\n          message: b\n        dependsOn: [a, nope]\n  - id: a\n    type: log.Log\n    message: again\n";
        let layout = layout(&graph_of(source));
        assert!(layout.nodes.iter().any(|n| n.task_id.as_deref() == Some("b")));
        let empty = layout_of_empty();
        assert_eq!(empty.nodes.len(), 2);
    }

    fn layout_of_empty() -> Layout {
        layout(&graph_of("id: f\nnamespace: n\ntasks: []\n"))
    }
}
