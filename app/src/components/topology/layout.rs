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
//! Every phase is linear in what is drawn, so that a big flow costs what its
//! drawing costs: a container whose edges would skip many layers (a dense
//! Dag, each task depending on all earlier ones, is cubic with a dummy per
//! skipped layer) draws the transitive reduction of its dependencies, and
//! counts the implied ones it leaves out ([`Layout::hidden`]). Beyond
//! [`MAX_DRAWN`] nothing is laid out at all ([`TooBig`]).
//!
//! Edges never cross nodes by construction: an edge leaves its unit at the
//! bottom, runs straight down to the bottom of its row, crosses the gap
//! between two rows (where nothing is drawn), and runs down through the
//! rows it skips in the column its dummy unit reserves.

use std::cell::{Cell, RefCell};
use std::collections::{BinaryHeap, HashMap};
use std::fmt::Write as _;

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

/// The most one topology draws: boxes (tasks, group headers, starts and
/// ends), edges, and one more for each row an edge passes through. Beyond
/// it the topology says so instead of drawing; a flow of 1,000 tasks in a
/// line, in a Parallel, or in a Dag where each depends on all earlier ones
/// takes about 2,000 to 3,000. The cost of a drawing (time, the page's
/// HTML, the browser's DOM) grows with this count; raise it here if pages
/// of that size are fine where Mortar runs.
pub(crate) const MAX_DRAWN: usize = 20_000;

/// A graph past [`MAX_DRAWN`]: it is not laid out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct TooBig {
    /// The flow's tasks (flowables included).
    pub tasks: usize,
}

/// A flow's graph with a position for everything.
#[derive(Debug, Clone, PartialEq, Default)]
pub(crate) struct Layout {
    pub width: f64,
    pub height: f64,
    pub nodes: Vec<Placed>,
    pub groups: Vec<GroupBox>,
    pub edges: Vec<Route>,
    pub sections: Vec<SectionBox>,
    /// Dependencies not drawn because a longer path implies them.
    pub hidden: usize,
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
        // Writing into one string: a `format!` per segment allocated twice.
        let mut d = String::with_capacity(16 + 40 * self.segments.len());
        let _ = write!(d, "M{:.1},{:.1}", self.start.0, self.start.1);
        let mut at = self.start;
        for segment in &self.segments {
            let _ = match *segment {
                Segment::Line((x, y)) => write!(d, " L{x:.1},{y:.1}"),
                Segment::Curve((x, y)) => {
                    let mid = (at.1 + y) / 2.0;
                    write!(d, " C{:.1},{mid:.1} {x:.1},{mid:.1} {x:.1},{y:.1}", at.0)
                }
            };
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
                    u * u * u * at.1
                        + 3.0 * u * u * t * mid
                        + 3.0 * u * t * t * mid
                        + t * t * t * to.1
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

/// Lays out a graph, or refuses one past [`MAX_DRAWN`]. Never panics,
/// whatever the graph: duplicate uids keep their first node, edges to
/// unknown nodes and edges that would go back up (a cycle in an invalid
/// Dag) are left out.
pub(crate) fn layout(graph: &Graph) -> Result<Layout, TooBig> {
    let too_big = || TooBig {
        tasks: graph
            .nodes
            .iter()
            .filter(|n| matches!(n.kind, NodeKind::Task | NodeKind::Group))
            .count(),
    };
    if graph.nodes.len() > MAX_DRAWN {
        return Err(too_big());
    }
    let mut index: HashMap<&str, usize> = HashMap::with_capacity(graph.nodes.len());
    for (i, node) in graph.nodes.iter().enumerate() {
        index.entry(node.uid.as_str()).or_insert(i);
    }
    let ctx = Ctx {
        graph,
        index,
        drawn: Cell::new(0),
        hidden: Cell::new(0),
        slot: RefCell::new(vec![usize::MAX; graph.nodes.len()]),
    };
    let mut containers: HashMap<Key, Members> = HashMap::new();
    for (i, node) in graph.nodes.iter().enumerate() {
        if ctx.index.get(node.uid.as_str()) != Some(&i) {
            continue;
        }
        if matches!(node.kind, NodeKind::Task | NodeKind::Group) {
            containers
                .entry(Key::new(node.section, node.parent.as_deref()))
                .or_default()
                .units
                .push(i);
        }
    }
    // A Dag's edges come grouped by target and container: the last lookup
    // of each is reused rather than hashed again, a third of the time of a
    // dense Dag's layout.
    let mut last_to: Option<(&str, usize)> = None;
    let mut last_key: Option<Key> = None;
    let mut edges_of: Vec<EdgeRef> = Vec::new();
    for (i, edge) in graph.edges.iter().enumerate() {
        let to = match last_to {
            Some((uid, b)) if uid == edge.to => Some(b),
            _ => ctx.index.get(edge.to.as_str()).copied(),
        };
        let Some(b) = to else { continue };
        last_to = Some((edge.to.as_str(), b));
        if let Some(&a) = ctx.index.get(edge.from.as_str())
            && let Some((key, from, to)) = ctx.edge_units(a, b)
            && from != to
        {
            if last_key != Some(key) {
                if let Some(previous) = last_key {
                    containers
                        .entry(previous)
                        .or_default()
                        .edges
                        .append(&mut edges_of);
                }
                last_key = Some(key);
            }
            edges_of.push(EdgeRef { from, to, edge: i });
        }
    }
    if let Some(previous) = last_key {
        containers
            .entry(previous)
            .or_default()
            .edges
            .append(&mut edges_of);
    }
    let mut out = Layout::default();
    let mut x = 0.0;
    for section in [Section::Tasks, Section::Errors, Section::Finally] {
        let key = Key::new(section, None);
        if section != Section::Tasks && !containers.contains_key(&key) {
            continue;
        }
        let block = ctx
            .container(&key, &containers, 0)
            .map_err(|Refused| too_big())?;
        if section == Section::Tasks {
            let (w, h) = (block.w, block.h);
            out.absorb(block, x, 0.0);
            x += w;
            out.height = out.height.max(h);
        } else {
            x += SECTION_GAP;
            let (w, h) = (block.w + 2.0 * SECTION_PAD, block.h + 2.0 * SECTION_PAD);
            out.sections.push(SectionBox {
                section,
                x,
                y: SECTION_TITLE,
                w,
                h,
            });
            out.absorb(block, x + SECTION_PAD, SECTION_TITLE + SECTION_PAD);
            x += w;
            out.height = out.height.max(SECTION_TITLE + h);
        }
    }
    out.width = x;
    out.hidden = ctx.hidden.get();
    Ok(out)
}

/// A container: the flow's section (`None`) or a group inside it. Keys
/// borrow the graph's uids and units are node indices: a dense Dag has
/// hundreds of edges per task, and copying or hashing strings for each was
/// most of the layout's time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct Key<'a>(SectionKey, Option<&'a str>);

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

impl<'a> Key<'a> {
    fn new(section: Section, group: Option<&'a str>) -> Self {
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

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Unit {
    Entry,
    Exit,
    /// A task, or a group's whole box: its node's index in the graph.
    Node(usize),
}

#[derive(Default)]
struct Members {
    units: Vec<usize>,
    edges: Vec<EdgeRef>,
}

struct EdgeRef {
    from: Unit,
    to: Unit,
    /// The edge in the graph.
    edge: usize,
}

struct Ctx<'a> {
    graph: &'a Graph,
    index: HashMap<&'a str, usize>,
    /// What the containers laid out so far draw, against [`MAX_DRAWN`].
    drawn: Cell<usize>,
    /// Implied dependencies left out so far.
    hidden: Cell<usize>,
    /// Each node's place among the units of the container being laid out
    /// (containers have no node in common), so that edges find their units
    /// without hashing.
    slot: RefCell<Vec<usize>>,
}

/// A container past [`MAX_DRAWN`].
struct Refused;

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

impl<'a> Ctx<'a> {
    fn node(&self, uid: &str) -> Option<&'a engine::flow::graph::GraphNode> {
        self.index.get(uid).map(|&i| &self.graph.nodes[i])
    }

    /// The container node `i` is a unit of, seen from outside, and the unit.
    fn outer(&self, i: usize) -> Option<(Key<'a>, Unit)> {
        let n = &self.graph.nodes[i];
        Some(match n.kind {
            NodeKind::Start => (Key::new(Section::Tasks, None), Unit::Entry),
            NodeKind::End => (Key::new(n.section, None), Unit::Exit),
            NodeKind::Task | NodeKind::Group => {
                (Key::new(n.section, n.parent.as_deref()), Unit::Node(i))
            }
            NodeKind::GroupEnd => {
                let g = *self.index.get(n.parent.as_deref()?)?;
                let group = &self.graph.nodes[g];
                (
                    Key::new(group.section, group.parent.as_deref()),
                    Unit::Node(g),
                )
            }
        })
    }

    /// The container an edge between nodes `ai` and `bi` is drawn in, and its two units.
    fn edge_units(&self, ai: usize, bi: usize) -> Option<(Key<'a>, Unit, Unit)> {
        let (a, b) = (&self.graph.nodes[ai], &self.graph.nodes[bi]);
        // From a group's header into its own box.
        if a.kind == NodeKind::Group && b.parent.as_deref() == Some(a.uid.as_str()) {
            let to = if b.kind == NodeKind::GroupEnd {
                Unit::Exit
            } else {
                Unit::Node(bi)
            };
            return Some((Key::new(a.section, Some(a.uid.as_str())), Unit::Entry, to));
        }
        // From inside a group to where its branches meet.
        if b.kind == NodeKind::GroupEnd {
            let (_, unit) = self.outer(ai)?;
            return Some((Key::new(b.section, b.parent.as_deref()), unit, Unit::Exit));
        }
        // The flow's start or end into `errors` or `finally`.
        if matches!(a.kind, NodeKind::Start | NodeKind::End) && b.section != a.section {
            let (_, unit) = self.outer(bi)?;
            return Some((Key::new(b.section, None), Unit::Entry, unit));
        }
        let (key, from) = self.outer(ai)?;
        let (other, to) = self.outer(bi)?;
        (key == other).then_some((key, from, to))
    }

    fn container(
        &self,
        key: &Key<'a>,
        all: &HashMap<Key<'a>, Members>,
        depth: usize,
    ) -> Result<Block, Refused> {
        let empty = Members::default();
        let members = all.get(key).unwrap_or(&empty);
        // Units: entry, members in document order, exit.
        let mut units: Vec<Unit> = vec![Unit::Entry];
        units.extend(members.units.iter().map(|&u| Unit::Node(u)));
        units.push(Unit::Exit);
        let mut sizes: Vec<(f64, f64)> = Vec::with_capacity(units.len());
        let mut inner: Vec<Option<Block>> = Vec::with_capacity(units.len());
        for &unit in &units {
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
                Unit::Node(n) => match self.graph.nodes[n].kind {
                    // Deeper than any real flow nests: drawn as a plain node.
                    NodeKind::Group if depth < 32 => {
                        let block = self.container(
                            &Key(key.0, Some(self.graph.nodes[n].uid.as_str())),
                            all,
                            depth + 1,
                        )?;
                        (
                            (block.w + 2.0 * GROUP_PAD, block.h + 2.0 * GROUP_PAD),
                            Some(block),
                        )
                    }
                    _ => ((NODE_W, NODE_H), None),
                },
            };
            sizes.push(size);
            inner.push(block);
        }
        let count = units.len();
        // After the groups inside are laid out: they use the slots too.
        let mut slot = self.slot.borrow_mut();
        for (p, &unit) in units.iter().enumerate() {
            if let Unit::Node(n) = unit {
                slot[n] = p;
            }
        }
        let position = |unit: Unit| match unit {
            Unit::Entry => Some(0),
            Unit::Exit => Some(count - 1),
            Unit::Node(n) => Some(slot[n]).filter(|&p| units.get(p) == Some(&unit)),
        };
        // Each edge once: `last[b]` is the last unit seen with an edge to b.
        let mut edges: Vec<(usize, usize, usize)> = Vec::new();
        let mut by_from: Vec<Vec<(usize, usize)>> = vec![Vec::new(); count];
        for (i, e) in members.edges.iter().enumerate() {
            if let (Some(a), Some(b)) = (position(e.from), position(e.to))
                && a != b
            {
                by_from[a].push((b, i));
            }
        }
        drop(slot);
        let mut last = vec![usize::MAX; count];
        let mut first = vec![false; members.edges.len()];
        let mut ends = vec![(0, 0); members.edges.len()];
        for (a, out) in by_from.iter().enumerate() {
            for &(b, i) in out {
                ends[i] = (a, b);
                if last[b] != a {
                    last[b] = a;
                    first[i] = true;
                }
            }
        }
        drop(by_from);
        for (i, &keep) in first.iter().enumerate() {
            if keep {
                edges.push((ends[i].0, ends[i].1, i));
            }
        }
        let layer = layers(count, &edges);
        // Edges that go back up (a cycle) are not drawn.
        edges.retain(|&(a, b, _)| layer[a] < layer[b]);

        // What this container draws at least, whatever the reduction
        // leaves: its units and an edge into each unit that has one. Checked
        // first, so that the reduction's bitsets stay within the limit's square.
        let mut entered = vec![false; count];
        for &(_, b, _) in &edges {
            entered[b] = true;
        }
        let at_least = count + entered.iter().filter(|&&e| e).count();
        if self.drawn.get() + at_least > MAX_DRAWN {
            return Err(Refused);
        }
        let skipped = |edges: &[(usize, usize, usize)]| {
            edges
                .iter()
                .map(|&(a, b, _)| layer[b] - layer[a] - 1)
                .sum::<usize>()
        };
        // Dense: more dummy units than units. Below that every dependency
        // written is drawn, as in the YAML.
        if skipped(&edges) > count {
            let dependency =
                |e: usize| self.graph.edges[members.edges[e].edge].kind == EdgeKind::Dependency;
            let hidden = reduce(count, &layer, &mut edges, dependency);
            self.hidden.set(self.hidden.get() + hidden);
        }
        let drawn = self.drawn.get() + count + edges.len() + skipped(&edges);
        if drawn > MAX_DRAWN {
            return Err(Refused);
        }
        self.drawn.set(drawn);

        // Items: the units (0..count), then a dummy for every layer an edge
        // skips, each edge as its chain of items, one per layer.
        let layer_count = layer.iter().copied().max().unwrap_or(0) + 1;
        let mut rows: Vec<Vec<usize>> = vec![Vec::new(); layer_count];
        for (i, &l) in layer.iter().enumerate() {
            rows[l].push(i);
        }
        let mut item_layer = layer.clone();
        let mut chains: Vec<Vec<usize>> = Vec::with_capacity(edges.len());
        for &(a, b, _) in &edges {
            let mut chain = Vec::with_capacity(layer[b] - layer[a] + 1);
            chain.push(a);
            for (l, row) in rows
                .iter_mut()
                .enumerate()
                .take(layer[b])
                .skip(layer[a] + 1)
            {
                let dummy = item_layer.len();
                item_layer.push(l);
                row.push(dummy);
                chain.push(dummy);
            }
            chain.push(b);
            chains.push(chain);
        }
        order_rows(&mut rows, &chains, item_layer.len());

        // Coordinates: rows from top to bottom, each centred.
        let width_of = |item: usize| if item < count { sizes[item].0 } else { DUMMY_W };
        let height_of = |item: usize| if item < count { sizes[item].1 } else { 0.0 };
        let row_w: Vec<f64> = rows
            .iter()
            .map(|row| {
                row.iter().map(|&i| width_of(i)).sum::<f64>()
                    + H_GAP * row.len().saturating_sub(1) as f64
            })
            .collect();
        let width = row_w.iter().copied().fold(0.0, f64::max);
        let row_h: Vec<f64> = rows
            .iter()
            .map(|row| row.iter().map(|&i| height_of(i)).fold(0.0, f64::max))
            .collect();
        let mut row_y = Vec::with_capacity(rows.len());
        let mut y = 0.0;
        for h in &row_h {
            row_y.push(y);
            y += h + V_GAP;
        }
        let height = (y - V_GAP).max(0.0);
        let mut place: Vec<(f64, f64, f64)> = vec![(0.0, 0.0, 0.0); item_layer.len()]; // x, y, w
        for (l, row) in rows.iter().enumerate() {
            let mut x = (width - row_w[l]) / 2.0;
            for &item in row {
                let w = width_of(item);
                place[item] = (x, row_y[l], w);
                x += w + H_GAP;
            }
        }

        let mut block = Block {
            w: width,
            h: height,
            ..Block::default()
        };
        for (i, &unit) in units.iter().enumerate() {
            let (x, y, w) = place[i];
            let h = sizes[i].1;
            match unit {
                Unit::Entry => {
                    let (uid, shape, node) = match key.1 {
                        Some(group) => (group.to_owned(), Shape::Group, self.node(group)),
                        None => (
                            format!("{}.start", section_name(key.section())),
                            Shape::Start,
                            None,
                        ),
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
                        (None, section) => {
                            (format!("{}.end", section_name(section)), Shape::Junction)
                        }
                    };
                    block.nodes.push(Placed {
                        uid,
                        shape,
                        task_id: None,
                        task_type: None,
                        section: key.section(),
                        x,
                        y,
                        w,
                        h,
                    });
                }
                Unit::Node(n) => match inner[i].take() {
                    Some(mut group) => {
                        group.translate(x + GROUP_PAD, y + GROUP_PAD);
                        block.groups.push(GroupBox {
                            task_id: self.graph.nodes[n].uid.clone(),
                            x,
                            y,
                            w,
                            h,
                        });
                        block.nodes.extend(group.nodes);
                        block.groups.extend(group.groups);
                        block.edges.extend(group.edges);
                    }
                    None => {
                        let node = Some(&self.graph.nodes[n]);
                        block.nodes.push(Placed {
                            uid: self.graph.nodes[n].uid.clone(),
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
        for (chain, &(a, _, e)) in chains.iter().zip(&edges) {
            let edge = &self.graph.edges[members.edges[e].edge];
            let (ax, ay, aw) = place[a];
            let start = (ax + aw / 2.0, ay + sizes[a].1);
            let mut segments = Vec::with_capacity(2 * chain.len());
            let mut label_at = start;
            let mut bottom = row_y[layer[a]] + row_h[layer[a]];
            if bottom > start.1 {
                segments.push(Segment::Line((start.0, bottom)));
            }
            for (n, &item) in chain.iter().enumerate().skip(1) {
                let (x, y, w) = place[item];
                let cx = x + w / 2.0;
                if n == 1 {
                    label_at = ((start.0 + cx) / 2.0, (bottom + y) / 2.0);
                }
                segments.push(Segment::Curve((cx, y)));
                if item >= count {
                    let l = item_layer[item];
                    bottom = row_y[l] + row_h[l];
                    segments.push(Segment::Line((cx, bottom)));
                }
            }
            block.edges.push(Route {
                from: edge.from.clone(),
                to: edge.to.clone(),
                kind: edge.kind,
                label: edge.label.clone(),
                label_at,
                start,
                segments,
            });
        }
        Ok(block)
    }
}

fn section_name(section: Section) -> &'static str {
    match section {
        Section::Tasks => "root",
        Section::Errors => "errors",
        Section::Finally => "finally",
    }
}

/// Longest-path layers: the entry (unit 0) on layer 0, every unit below
/// all of its predecessors, the exit (the last unit) alone at the bottom.
/// Units are taken in order among those ready; a cycle is broken at the
/// first unit, in order, that is still waiting. O((units + edges) log units).
fn layers(count: usize, edges: &[(usize, usize, usize)]) -> Vec<usize> {
    let exit = count - 1;
    let mut incoming = vec![0usize; count];
    let mut out: Vec<Vec<usize>> = vec![Vec::new(); count];
    for &(a, b, _) in edges {
        incoming[b] += 1;
        out[a].push(b);
    }
    let mut layer = vec![0usize; count];
    let mut done = vec![false; count];
    // The exit waits until everything else is placed.
    let mut ready: BinaryHeap<std::cmp::Reverse<usize>> = (0..exit)
        .filter(|&i| incoming[i] == 0)
        .map(std::cmp::Reverse)
        .collect();
    let mut first_waiting = 0;
    for _ in 0..count {
        let next = match ready.pop() {
            Some(std::cmp::Reverse(i)) => i,
            None => {
                while first_waiting < exit && done[first_waiting] {
                    first_waiting += 1;
                }
                first_waiting
            }
        };
        done[next] = true;
        if next != 0 && layer[next] == 0 {
            layer[next] = 1;
        }
        for &b in &out[next] {
            if !done[b] {
                incoming[b] -= 1;
                layer[b] = layer[b].max(layer[next] + 1);
                if incoming[b] == 0 && b != exit {
                    ready.push(std::cmp::Reverse(b));
                }
            }
        }
    }
    let deepest = layer[..exit].iter().copied().max().unwrap_or(0);
    layer[exit] = deepest + 1;
    layer
}

/// Leaves out the edges that a longer path implies (the transitive
/// reduction), among those `may_drop` (given an edge's third field)
/// allows; returns how many it left out. Every edge goes down the layers,
/// so units by layer are a topological order; walking it from the bottom,
/// each unit's reach is a bitset, and an edge is implied when its target is
/// already reached through a nearer successor. O(units² / 64) memory and
/// O(edges + kept edges × units / 64) time: milliseconds for thousands of
/// tasks.
fn reduce(
    count: usize,
    layer: &[usize],
    edges: &mut Vec<(usize, usize, usize)>,
    may_drop: impl Fn(usize) -> bool,
) -> usize {
    let mut order: Vec<usize> = (0..count).collect();
    order.sort_by_key(|&u| (layer[u], u));
    let mut rank = vec![0usize; count];
    for (r, &u) in order.iter().enumerate() {
        rank[u] = r;
    }
    let mut out: Vec<Vec<usize>> = vec![Vec::new(); count];
    for (e, &(a, _, _)) in edges.iter().enumerate() {
        out[a].push(e);
    }
    let words = count.div_ceil(64);
    let mut reach = vec![0u64; count * words];
    let mut covered = vec![0u64; words];
    let mut keep = vec![true; edges.len()];
    let mut hidden = 0;
    for &v in order.iter().rev() {
        covered.fill(0);
        // Nearest successors first: one that reaches another comes before it.
        out[v].sort_by_key(|&e| rank[edges[e].1]);
        for &e in &out[v] {
            let (_, w, i) = edges[e];
            if covered[w / 64] & (1 << (w % 64)) != 0 {
                if may_drop(i) {
                    keep[e] = false;
                    hidden += 1;
                }
                continue;
            }
            for (c, r) in covered.iter_mut().zip(&reach[w * words..(w + 1) * words]) {
                *c |= r;
            }
        }
        covered[v / 64] |= 1 << (v % 64);
        reach[v * words..(v + 1) * words].copy_from_slice(&covered);
    }
    let mut e = 0;
    edges.retain(|_| {
        e += 1;
        keep[e - 1]
    });
    hidden
}

/// Barycentre ordering: a few sweeps down then up, each row sorted by the
/// mean position of its neighbours in the row before. Items are indices;
/// each sweep is linear in items and chain links (plus sorting the rows).
fn order_rows(rows: &mut [Vec<usize>], chains: &[Vec<usize>], items: usize) {
    let mut up: Vec<Vec<usize>> = vec![Vec::new(); items];
    let mut down: Vec<Vec<usize>> = vec![Vec::new(); items];
    for chain in chains {
        for pair in chain.windows(2) {
            down[pair[0]].push(pair[1]);
            up[pair[1]].push(pair[0]);
        }
    }
    // Each item's place in its row.
    let mut at = vec![0usize; items];
    for row in rows.iter() {
        for (p, &item) in row.iter().enumerate() {
            at[item] = p;
        }
    }
    for _ in 0..4 {
        for l in 1..rows.len() {
            let fixed = rows[l - 1].len();
            sort_by_barycentre(&mut rows[l], fixed, &up, &mut at);
        }
        for l in (0..rows.len().saturating_sub(1)).rev() {
            let fixed = rows[l + 1].len();
            sort_by_barycentre(&mut rows[l], fixed, &down, &mut at);
        }
    }
}

/// Sorts `row` by its items' neighbours in the fixed row next to it, whose
/// length is `fixed` (chains link adjacent rows only).
fn sort_by_barycentre(
    row: &mut [usize],
    fixed: usize,
    neighbours: &[Vec<usize>],
    at: &mut [usize],
) {
    // Scale the fixed row onto this one so units without neighbours keep their place.
    let scale = if fixed > 1 {
        (row.len().max(1) - 1) as f64 / (fixed - 1) as f64
    } else {
        1.0
    };
    let mut keyed: Vec<(f64, usize, usize)> = row
        .iter()
        .enumerate()
        .map(|(i, &item)| {
            let near = &neighbours[item];
            let key = if near.is_empty() {
                i as f64
            } else {
                near.iter().map(|&n| at[n] as f64).sum::<f64>() / near.len() as f64 * scale
            };
            (key, i, item)
        })
        .collect();
    keyed.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
    for (p, (slot, (_, _, item))) in row.iter_mut().zip(keyed).enumerate() {
        *slot = item;
        at[item] = p;
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

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
                let overlap =
                    a.x < b.x + b.w && b.x < a.x + a.w && a.y < b.y + b.h && b.y < a.y + a.h;
                assert!(!overlap, "{} overlaps {}", a.uid, b.uid);
            }
        }
        for edge in &layout.edges {
            for (x, y) in edge.sample() {
                for node in &layout.nodes {
                    if node.uid == edge.from
                        || node.uid == edge.to
                        || node.uid == format!("{}.end", edge.from)
                    {
                        continue;
                    }
                    let inside = x > node.x + 0.5
                        && x < node.x + node.w - 0.5
                        && y > node.y + 0.5
                        && y < node.y + node.h - 0.5;
                    assert!(
                        !inside,
                        "edge {} -> {} crosses {} at ({x}, {y})",
                        edge.from, edge.to, node.uid
                    );
                }
            }
        }
    }

    #[test]
    fn blueprints_lay_out_without_edges_crossing_nodes() {
        for blueprint in engine::blueprints::all() {
            let layout = layout(&graph_of(blueprint.source)).expect("drawn");
            assert!(layout.width > 0.0 && layout.height > 0.0);
            check_no_crossing(&layout);
            // Every task of the flow is drawn once.
            let parsed = engine::flow::parse(blueprint.source);
            for task in parsed.flow.unwrap().all_tasks() {
                let drawn = layout
                    .nodes
                    .iter()
                    .filter(|n| n.task_id.as_deref() == Some(task.id.value.as_str()))
                    .count();
                assert_eq!(drawn, 1, "{} in {}", task.id.value, blueprint.header.id);
            }
        }
    }

    #[test]
    fn a_dag_is_layered_by_its_dependencies() {
        let layout = layout(&graph_of(include_str!(
            "../../../../blueprints/databricks_dag.yml"
        )))
        .expect("drawn");
        let y = |id: &str| {
            layout
                .nodes
                .iter()
                .find(|n| n.task_id.as_deref() == Some(id))
                .unwrap()
                .y
        };
        assert_eq!(y("cluster"), y("upload"));
        assert!(y("transform") > y("cluster"));
        assert!(y("check") > y("transform"));
        // `pipeline` is a group holding the four tasks.
        let group = layout
            .groups
            .iter()
            .find(|g| g.task_id == "pipeline")
            .unwrap();
        for id in ["cluster", "upload", "transform", "check"] {
            let n = layout
                .nodes
                .iter()
                .find(|n| n.task_id.as_deref() == Some(id))
                .unwrap();
            assert!(
                n.x >= group.x
                    && n.x + n.w <= group.x + group.w
                    && n.y >= group.y
                    && n.y + n.h <= group.y + group.h,
                "{id}"
            );
        }
        // errors and finally are set apart, to the right of the tasks.
        let sections: Vec<Section> = layout.sections.iter().map(|s| s.section).collect();
        assert_eq!(sections, [Section::Errors, Section::Finally]);
        let cleanup = layout
            .nodes
            .iter()
            .find(|n| n.task_id.as_deref() == Some("cleanup"))
            .unwrap();
        assert!(cleanup.x > group.x + group.w);
    }

    #[test]
    fn nested_flowables_and_skipped_layers_do_not_cross() {
        let source = "id: f\nnamespace: n\ntasks:\n  - id: par\n    type: io.kestra.plugin.core.flow.Parallel\n    tasks:\n      - id: a\n        type: log.Log\n        message: a\n      - id: seq\n        type: io.kestra.plugin.core.flow.Sequential\n        tasks:\n          - id: b\n            type: log.Log\n            message: b\n          - id: c\n            type: log.Log\n            message: c\n  - id: branch\n    type: io.kestra.plugin.core.flow.If\n    condition: \"{{ true }}\"\n    then:\n      - id: d\n        type: log.Log\n        message: d\n    else:\n      - id: e\n        type: log.Log\n        message: e\n      - id: f2\n        type: log.Log\n        message: f\n";
        let graph = graph_of(source);
        let layout = layout(&graph).expect("drawn");
        check_no_crossing(&layout);
        assert_eq!(layout.groups.len(), 3);
        let labels: Vec<&str> = layout
            .edges
            .iter()
            .filter_map(|e| e.label.as_deref())
            .collect();
        assert!(
            labels.contains(&"then") && labels.contains(&"else"),
            "{labels:?}"
        );
    }

    #[test]
    fn broken_graphs_do_not_panic() {
        // A cycle, duplicate ids and an unknown dependency.
        let source = "id: f\nnamespace: n\ntasks:\n  - id: dag\n    type: io.kestra.plugin.core.flow.Dag\n    tasks:\n      - task:\n          id: a\n          type: log.Log\n          message: a\n        dependsOn: [b]\n      - task:\n          id: b\n          type: log.Log\n          message: b\n        dependsOn: [a, nope]\n  - id: a\n    type: log.Log\n    message: again\n";
        let layout = layout(&graph_of(source)).expect("drawn");
        assert!(
            layout
                .nodes
                .iter()
                .any(|n| n.task_id.as_deref() == Some("b"))
        );
        let empty = layout_of_empty();
        assert_eq!(empty.nodes.len(), 2);
    }

    fn layout_of_empty() -> Layout {
        layout(&graph_of("id: f\nnamespace: n\ntasks: []\n")).expect("drawn")
    }

    /// A flow with one Dag of `n` tasks, task `i` depending on `deps(i)`.
    fn dag_flow(n: usize, deps: impl Fn(usize) -> Vec<usize>) -> String {
        let mut yaml = String::from(
            "id: big\nnamespace: n\ntasks:\n  - id: dag\n    type: io.kestra.plugin.core.flow.Dag\n    tasks:\n",
        );
        for i in 0..n {
            let deps: Vec<String> = deps(i).iter().map(|d| format!("t{d}")).collect();
            write!(yaml, "      - task:\n          id: t{i}\n          type: io.kestra.plugin.core.log.Log\n          message: m\n").unwrap();
            if !deps.is_empty() {
                writeln!(yaml, "        dependsOn: [{}]", deps.join(", ")).unwrap();
            }
        }
        yaml
    }

    /// A flow of `n` tasks, in a line or in one Parallel.
    fn wide_flow(n: usize, parallel: bool) -> String {
        let mut yaml = String::from("id: big\nnamespace: n\ntasks:\n");
        let indent = if parallel {
            yaml.push_str(
                "  - id: par\n    type: io.kestra.plugin.core.flow.Parallel\n    tasks:\n",
            );
            "    "
        } else {
            ""
        };
        for i in 0..n {
            write!(yaml, "{indent}  - id: t{i}\n{indent}    type: io.kestra.plugin.core.log.Log\n{indent}    message: m\n").unwrap();
        }
        yaml
    }

    /// What a drawing must be, whatever the graph: no two nodes overlap,
    /// each edge runs from its `from` node (or the box it closes) to its
    /// `to` node, and the edges of the graph that are not drawn are
    /// dependencies that the drawn edges imply, as many as `hidden` says.
    fn check_drawn(graph: &Graph, layout: &Layout) {
        let mut by_y: Vec<&Placed> = layout.nodes.iter().collect();
        by_y.sort_by(|a, b| a.y.total_cmp(&b.y));
        // Overlaps, among nodes whose rows meet (a sweep, not every pair).
        for (i, a) in by_y.iter().enumerate() {
            for b in by_y[i + 1..].iter().take_while(|b| b.y < a.y + a.h) {
                let overlap = a.x < b.x + b.w && b.x < a.x + a.w;
                assert!(!overlap, "{} overlaps {}", a.uid, b.uid);
            }
        }
        let placed: HashMap<&str, &Placed> =
            layout.nodes.iter().map(|n| (n.uid.as_str(), n)).collect();
        let near = |(x, y): (f64, f64), n: &Placed| {
            x >= n.x - 0.5
                && x <= n.x + n.w + 0.5
                && y >= n.y - GROUP_PAD - 0.5
                && y <= n.y + n.h + GROUP_PAD + 0.5
        };
        for edge in &layout.edges {
            let from = placed
                .get(edge.from.as_str())
                .unwrap_or_else(|| panic!("{} is not placed", edge.from));
            let to = placed
                .get(edge.to.as_str())
                .unwrap_or_else(|| panic!("{} is not placed", edge.to));
            let end = match edge.segments.last() {
                Some(Segment::Line(p) | Segment::Curve(p)) => *p,
                None => edge.start,
            };
            assert!(
                near(edge.start, from),
                "{} -> {} starts away from {}",
                edge.from,
                edge.to,
                edge.from
            );
            assert!(
                near(end, to),
                "{} -> {} ends away from {}",
                edge.from,
                edge.to,
                edge.to
            );
        }
        let mut next: HashMap<&str, Vec<&str>> = HashMap::new();
        for e in &layout.edges {
            next.entry(e.from.as_str()).or_default().push(e.to.as_str());
        }
        let drawn: HashSet<(&str, &str)> = layout
            .edges
            .iter()
            .map(|e| (e.from.as_str(), e.to.as_str()))
            .collect();
        let mut left_out: HashSet<(&str, &str)> = HashSet::new();
        // What the drawn edges lead to from a node, once per node.
        let mut reached: HashMap<&str, HashSet<&str>> = HashMap::new();
        for e in &graph.edges {
            if drawn.contains(&(e.from.as_str(), e.to.as_str()))
                || !left_out.insert((e.from.as_str(), e.to.as_str()))
            {
                continue;
            }
            assert_eq!(
                e.kind,
                EdgeKind::Dependency,
                "{} -> {} is not drawn",
                e.from,
                e.to
            );
            // Implied: `to` is reached from `from` by drawn edges.
            let seen = reached.entry(e.from.as_str()).or_insert_with(|| {
                let mut seen: HashSet<&str> = HashSet::new();
                let mut stack = vec![e.from.as_str()];
                while let Some(at) = stack.pop() {
                    for &n in next.get(at).into_iter().flatten() {
                        if seen.insert(n) {
                            stack.push(n);
                        }
                    }
                }
                seen
            });
            assert!(
                seen.contains(e.to.as_str()),
                "{} -> {} is left out but nothing drawn leads there",
                e.from,
                e.to
            );
        }
        assert_eq!(left_out.len(), layout.hidden);
    }

    /// Random DAGs (edges from lower to higher units), reduced: the edges
    /// left out are exactly those with a longer path, and what each unit
    /// reaches is unchanged.
    #[test]
    fn the_reduction_drops_exactly_the_implied_edges() {
        let mut seed = 0x2545_f491_4f6c_dd1d_u64;
        let mut random = move |below: usize| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            (seed % below as u64) as usize
        };
        for round in 0..200 {
            let count = 2 + random(40);
            let mut edges: Vec<(usize, usize, usize)> = Vec::new();
            for b in 1..count {
                for a in 0..b {
                    if random(100) < 10 + round % 60 {
                        // Odd edges may not be dropped.
                        edges.push((a, b, edges.len()));
                    }
                }
            }
            let reach = |edges: &[(usize, usize, usize)]| {
                let mut reach = vec![vec![false; count]; count];
                for a in (0..count).rev() {
                    for &(x, b, _) in edges {
                        if x == a {
                            reach[a][b] = true;
                            let below = reach[b].clone();
                            for (r, &x) in reach[a].iter_mut().zip(&below) {
                                *r |= x;
                            }
                        }
                    }
                }
                reach
            };
            let before = reach(&edges);
            // Implied: reached through another successor.
            let implied: Vec<bool> = edges
                .iter()
                .map(|&(a, b, _)| {
                    edges
                        .iter()
                        .any(|&(x, c, _)| x == a && c != b && before[c][b])
                })
                .collect();
            let layer = layers(count, &edges);
            let mut reduced = edges.clone();
            let hidden = reduce(count, &layer, &mut reduced, |e| e % 2 == 0);
            let expected: Vec<(usize, usize, usize)> = edges
                .iter()
                .zip(&implied)
                .filter(|&(e, &imp)| !(imp && e.2 % 2 == 0))
                .map(|(e, _)| *e)
                .collect();
            assert_eq!(reduced, expected, "round {round}");
            assert_eq!(hidden, edges.len() - expected.len());
            assert_eq!(reach(&reduced), before, "round {round}");
        }
    }

    #[test]
    fn a_dense_dag_draws_a_line_and_counts_what_it_leaves_out() {
        let n = 300;
        let graph = graph_of(&dag_flow(n, |i| (0..i).collect()));
        let layout = layout(&graph).expect("drawn");
        check_drawn(&graph, &layout);
        // t0 -> t1 -> ... -> t299: every other dependency is implied.
        assert_eq!(layout.hidden, n * (n - 1) / 2 - (n - 1));
        assert!(layout.edges.len() <= n + 4, "{} edges", layout.edges.len());
        let segments: usize = layout.edges.iter().map(|e| e.segments.len()).sum();
        assert!(segments <= 4 * n, "{segments} segments");
        let y = |id: &str| layout.nodes.iter().find(|n| n.uid == id).unwrap().y;
        assert!((1..n).all(|i| y(&format!("t{i}")) > y(&format!("t{}", i - 1))));
    }

    #[test]
    fn a_sparse_dag_draws_every_dependency() {
        // t2 depends on t0 as well as on t1, which depends on t0: implied,
        // but the Dag is not dense, so it is drawn as written.
        let graph = graph_of(&dag_flow(4, |i| match i {
            1 => vec![0],
            2 => vec![0, 1],
            3 => vec![2],
            _ => vec![],
        }));
        let layout = layout(&graph).expect("drawn");
        check_drawn(&graph, &layout);
        assert_eq!(layout.hidden, 0);
        assert!(layout.edges.iter().any(|e| e.from == "t0" && e.to == "t2"));
    }

    #[test]
    fn big_lines_parallels_and_mixed_dags_are_drawn_whole() {
        for source in [
            wide_flow(1000, false),
            wide_flow(1000, true),
            // Each task depends on the one before and on every tenth before it.
            dag_flow(500, |i| {
                (0..i).filter(|d| d + 1 == i || d % 10 == 0).collect()
            }),
            // Two chains that meet at the end, and a task depending on all.
            dag_flow(200, |i| match i {
                0 | 1 => vec![],
                199 => (0..199).collect(),
                i => vec![i - 2],
            }),
        ] {
            let graph = graph_of(&source);
            let layout = layout(&graph).expect("drawn");
            check_drawn(&graph, &layout);
            let tasks = graph
                .nodes
                .iter()
                .filter(|n| n.kind == NodeKind::Task)
                .count();
            assert_eq!(
                layout
                    .nodes
                    .iter()
                    .filter(|n| n.shape == Shape::Task)
                    .count(),
                tasks
            );
        }
    }

    #[test]
    fn past_the_limit_nothing_is_laid_out() {
        use engine::flow::graph::{Edge, GraphNode};
        let node = |uid: String, kind| GraphNode {
            uid,
            kind,
            task_id: None,
            task_type: None,
            parent: None,
            section: Section::Tasks,
        };
        let line = |n: usize| {
            let mut nodes = vec![
                node("root.start".into(), NodeKind::Start),
                node("root.end".into(), NodeKind::End),
            ];
            let mut edges = Vec::new();
            let mut previous = "root.start".to_owned();
            for i in 0..n {
                nodes.push(node(format!("t{i}"), NodeKind::Task));
                edges.push(Edge {
                    from: previous,
                    to: format!("t{i}"),
                    kind: EdgeKind::Sequence,
                    label: None,
                });
                previous = format!("t{i}");
            }
            edges.push(Edge {
                from: previous,
                to: "root.end".into(),
                kind: EdgeKind::Sequence,
                label: None,
            });
            Graph { nodes, edges }
        };
        // A line draws a box and an edge per task.
        assert!(layout(&line(MAX_DRAWN / 2 - 10)).is_ok());
        assert_eq!(
            layout(&line(MAX_DRAWN / 2 + 10)),
            Err(TooBig {
                tasks: MAX_DRAWN / 2 + 10
            })
        );
        assert_eq!(
            layout(&line(MAX_DRAWN + 1)),
            Err(TooBig {
                tasks: MAX_DRAWN + 1
            })
        );
        // Few tasks, but edges that cannot be reduced and pass through
        // many rows: a chain of 400, and 400 tasks each after its first and
        // before its last.
        let source = dag_flow(800, |i| match i {
            0 | 400 => vec![],
            1..400 => vec![i - 1],
            _ => vec![0],
        });
        let mut graph = graph_of(&source);
        // The last of the chain after all the others.
        for i in 400..800 {
            graph.edges.push(Edge {
                from: format!("t{i}"),
                to: "t399".into(),
                kind: EdgeKind::Dependency,
                label: None,
            });
        }
        assert_eq!(layout(&graph), Err(TooBig { tasks: 801 }));
    }
}
