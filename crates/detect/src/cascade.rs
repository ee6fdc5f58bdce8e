//! OpenCV cascade classifiers: the data model and the XML loaders.
//!
//! Formats read:
//! - the current format (`opencv_storage/<name>` with `stageType BOOST`, `featureType HAAR|LBP`,
//!   `stages/_/weakClassifiers/_/{internalNodes,leafValues}`, `features/_/rects|rect`), Haar
//!   rectangles upright or tilted (45°), stumps or deeper trees, LBP categorical splits;
//! - the old format (`type_id="opencv-haar-classifier"`: `size`, `stages/_/trees/_/_/feature…`)
//!   when its stages form a plain chain, converted the way OpenCV's `CascadeClassifier::convert`
//!   does. Stage *trees* (`next` ≠ -1) and HOG cascades are reported as unsupported.
//!
//! Numbers follow OpenCV exactly (thresholds as `f32`, stage thresholds minus `1e-5`), so that
//! detection gives the same windows as OpenCV's `detectMultiScale`.

use crate::DetectError;
use std::path::Path;

/// Feature family of a cascade.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FeatureType {
    /// Haar-like rectangle sums (Viola–Jones).
    Haar,
    /// Local binary patterns over 3×3 cells.
    Lbp,
}

/// One weighted rectangle of a Haar feature, in window pixels (x, y, w, h).
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct HaarRect {
    /// Left edge.
    pub x: i32,
    /// Top edge.
    pub y: i32,
    /// Width.
    pub w: i32,
    /// Height.
    pub h: i32,
    /// Weight of the rectangle's pixel sum in the feature.
    pub weight: f32,
}

/// A Haar feature: up to three weighted rectangles (unused ones have weight 0); `tilted` ones
/// are rotated by 45° and read from the tilted integral image.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct HaarFeature {
    /// The rectangles.
    pub rects: [HaarRect; 3],
    /// Rotated by 45° (read from the tilted integral image).
    pub tilted: bool,
}

/// An LBP feature: a 3×3 grid of `w × h` cells starting at `(x, y)` in window pixels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct LbpFeature {
    /// Left edge of the grid.
    pub x: i32,
    /// Top edge of the grid.
    pub y: i32,
    /// Width of one cell.
    pub w: i32,
    /// Height of one cell.
    pub h: i32,
}

/// A boosted stage: trees `first..first+ntrees`, passed when the sum of their leaves is
/// `>= threshold` (OpenCV's file threshold minus `1e-5`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Stage {
    pub first: usize,
    pub ntrees: usize,
    pub threshold: f32,
}

/// A tree node; `left`/`right` > 0 index another node of the same tree, ≤ 0 a leaf (`-v`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Node {
    pub feature: u32,
    pub threshold: f32,
    pub left: i32,
    pub right: i32,
}

/// A one-node tree (the common case), stored flat for speed.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Stump {
    pub feature: u32,
    pub threshold: f32,
    pub left: f32,
    pub right: f32,
}

/// A loaded cascade classifier (no image-dependent state; shareable between threads).
#[derive(Debug, Clone)]
pub struct CascadeModel {
    pub(crate) feature_type: FeatureType,
    /// Detection window `(width, height)` in pixels at scale 1.
    pub(crate) window: (i32, i32),
    pub(crate) stages: Vec<Stage>,
    /// Per tree: (first node, node count, first leaf).
    pub(crate) trees: Vec<(usize, usize, usize)>,
    pub(crate) nodes: Vec<Node>,
    pub(crate) leaves: Vec<f32>,
    /// LBP: 8 words (256 bits) per node.
    pub(crate) subsets: Vec<i32>,
    /// Filled when every tree is a single node.
    pub(crate) stumps: Vec<Stump>,
    pub(crate) haar: Vec<HaarFeature>,
    pub(crate) lbp: Vec<LbpFeature>,
    pub(crate) has_tilted: bool,
}

const THRESHOLD_EPS: f32 = 1e-5;
const LBP_SUBSET: usize = 8;

type XNode<'a, 'i> = roxmltree::Node<'a, 'i>;

struct Ctx<'s> {
    doc: &'s roxmltree::Document<'s>,
}

/// Where the parts of a cascade start in its XML (1-based lines), so that the checks made
/// after parsing ([`CascadeModel::validate`]) name the line of the part at fault.
#[derive(Default)]
struct Lines {
    /// The window size (`<width>`, or `<size>` in the old format).
    window: u32,
    /// `<stages>`.
    stages: u32,
    /// Each weak classifier (tree), in the order of `CascadeModel::trees`.
    trees: Vec<u32>,
    /// Each Haar feature, in the order of `CascadeModel::haar`.
    haar: Vec<u32>,
    /// Each LBP feature, in the order of `CascadeModel::lbp`.
    lbp: Vec<u32>,
}

impl<'s> Ctx<'s> {
    /// The 1-based line where `node` starts.
    fn line(&self, node: XNode) -> u32 {
        self.doc.text_pos_at(node.range().start).row
    }
    fn err(&self, node: XNode, msg: impl Into<String>) -> DetectError {
        DetectError::Format {
            line: self.line(node),
            msg: msg.into(),
        }
    }
    fn child<'a>(&self, node: XNode<'a, 's>, name: &str) -> Result<XNode<'a, 's>, DetectError> {
        child(node, name).ok_or_else(|| {
            self.err(
                node,
                format!("<{}> has no <{name}>", node.tag_name().name()),
            )
        })
    }
    /// All numbers in a node's text (comments skipped).
    fn numbers(&self, node: XNode) -> Result<Vec<f64>, DetectError> {
        let mut out = Vec::new();
        for t in node.children().filter(|c| c.is_text()) {
            for tok in t.text().unwrap_or("").split_ascii_whitespace() {
                let v: f64 = tok.parse().map_err(|_| {
                    self.err(
                        node,
                        format!("<{}>: `{tok}` is not a number", node.tag_name().name()),
                    )
                })?;
                out.push(v);
            }
        }
        Ok(out)
    }
    fn number(&self, node: XNode) -> Result<f64, DetectError> {
        let v = self.numbers(node)?;
        if v.len() != 1 {
            return Err(self.err(
                node,
                format!(
                    "<{}>: expected one number, found {}",
                    node.tag_name().name(),
                    v.len()
                ),
            ));
        }
        Ok(v[0])
    }
    fn text(&self, node: XNode) -> String {
        node.children()
            .filter(|c| c.is_text())
            .map(|c| c.text().unwrap_or(""))
            .collect::<String>()
            .trim()
            .to_string()
    }
}

fn child<'a, 'i>(node: XNode<'a, 'i>, name: &str) -> Option<XNode<'a, 'i>> {
    node.children()
        .find(|c| c.is_element() && c.tag_name().name() == name)
}

fn items<'a, 'i>(node: XNode<'a, 'i>) -> impl Iterator<Item = XNode<'a, 'i>> {
    node.children().filter(|c| c.is_element())
}

/// OpenCV's `(int)` of a FileNode real: round half to even.
fn to_int(v: f64) -> i32 {
    v.round_ties_even() as i32
}

impl CascadeModel {
    /// Load a cascade from an OpenCV XML file.
    pub fn from_xml_file(path: &Path) -> Result<CascadeModel, DetectError> {
        let text = std::fs::read_to_string(path).map_err(|e| DetectError::Io {
            path: path.to_path_buf(),
            source: e,
        })?;
        Self::from_xml_str(&text).map_err(|e| e.in_file(path))
    }

    /// Parse a cascade from OpenCV XML text.
    pub fn from_xml_str(text: &str) -> Result<CascadeModel, DetectError> {
        let opts = roxmltree::ParsingOptions {
            allow_dtd: true,
            ..Default::default()
        };
        let doc = roxmltree::Document::parse_with_options(text, opts).map_err(|e| {
            DetectError::Format {
                line: e.pos().row,
                msg: format!("not XML: {e}"),
            }
        })?;
        let ctx = Ctx { doc: &doc };
        let root = doc.root_element();
        if root.tag_name().name() != "opencv_storage" {
            return Err(ctx.err(
                root,
                format!(
                    "root element is <{}>, expected <opencv_storage> (an OpenCV cascade XML)",
                    root.tag_name().name()
                ),
            ));
        }
        let top = items(root)
            .next()
            .ok_or_else(|| ctx.err(root, "<opencv_storage> is empty"))?;
        let (model, lines) = if child(top, "stageType").is_some() {
            read_new(&ctx, top)?
        } else if child(top, "size").is_some() && child(top, "stages").is_some() {
            read_old(&ctx, top)?
        } else {
            return Err(ctx.err(
                top,
                format!(
                    "<{}> is neither a cascade (no <stageType>) nor an old-format Haar cascade (no <size>/<stages>)",
                    top.tag_name().name()
                ),
            ));
        };
        model.validate(&lines)?;
        Ok(model)
    }

    /// Detection window `(width, height)` in pixels.
    pub fn window_size(&self) -> (u32, u32) {
        (self.window.0 as u32, self.window.1 as u32)
    }
    /// Haar or LBP.
    pub fn feature_type(&self) -> FeatureType {
        self.feature_type
    }
    /// Number of boosted stages.
    pub fn stage_count(&self) -> usize {
        self.stages.len()
    }

    fn finish(&mut self) {
        let max_nodes = self.trees.iter().map(|t| t.1).max().unwrap_or(0);
        self.stumps.clear();
        if max_nodes == 1 {
            for &(n0, _, l0) in &self.trees {
                let n = self.nodes[n0];
                self.stumps.push(Stump {
                    feature: n.feature,
                    threshold: n.threshold,
                    left: self.leaves[l0],
                    right: self.leaves[l0 + 1],
                });
            }
        }
        self.has_tilted = self.haar.iter().any(|f| f.tilted);
    }

    /// Reject anything that would make evaluation read outside a window or loop forever; the
    /// error names the line (from `at`) of the part at fault.
    fn validate(&self, at: &Lines) -> Result<(), DetectError> {
        let bad = |line: u32, msg: String| DetectError::Format { line, msg };
        let nth = |v: &[u32], i: usize| v.get(i).copied().unwrap_or(0);
        let (ww, wh) = self.window;
        if ww < 3 || wh < 3 || ww > 4096 || wh > 4096 {
            return Err(bad(
                at.window,
                format!("window size {ww}x{wh} is not usable"),
            ));
        }
        if self.stages.is_empty() {
            return Err(bad(at.stages, "the cascade has no stages".into()));
        }
        let nfeat = match self.feature_type {
            FeatureType::Haar => self.haar.len(),
            FeatureType::Lbp => self.lbp.len(),
        };
        for (ti, &(n0, nc, l0)) in self.trees.iter().enumerate() {
            let bad = |msg: String| bad(nth(&at.trees, ti), msg);
            if nc == 0 {
                return Err(bad(format!("weak classifier {ti} has no nodes")));
            }
            for k in 0..nc {
                let n = self.nodes[n0 + k];
                if n.feature as usize >= nfeat {
                    return Err(bad(format!(
                        "weak classifier {ti} uses feature {} of {nfeat}",
                        n.feature
                    )));
                }
                for c in [n.left, n.right] {
                    if c > 0 {
                        if c as usize >= nc || c as usize <= k {
                            return Err(bad(format!(
                                "weak classifier {ti}: node {k} points to node {c} (must be a later node of {nc})"
                            )));
                        }
                    } else if (-c) as usize > nc {
                        return Err(bad(format!(
                            "weak classifier {ti}: node {k} points to leaf {} of {}",
                            -c,
                            nc + 1
                        )));
                    }
                }
            }
            if l0 + nc + 1 > self.leaves.len() {
                return Err(bad(format!("weak classifier {ti}: too few leaf values")));
            }
        }
        for (i, f) in self.haar.iter().enumerate() {
            for r in &f.rects {
                if r.weight == 0.0 && r.w == 0 && r.h == 0 {
                    continue;
                }
                let ok = if f.tilted {
                    r.w >= 0
                        && r.h >= 0
                        && r.y >= 0
                        && r.x - r.h >= 0
                        && r.x + r.w <= ww
                        && r.y + r.w + r.h <= wh
                } else {
                    r.x >= 0
                        && r.y >= 0
                        && r.w >= 0
                        && r.h >= 0
                        && r.x + r.w <= ww
                        && r.y + r.h <= wh
                };
                if !ok {
                    return Err(bad(
                        nth(&at.haar, i),
                        format!(
                            "Haar feature {i}: rectangle {} {} {} {}{} leaves the {ww}x{wh} window",
                            r.x,
                            r.y,
                            r.w,
                            r.h,
                            if f.tilted { " (tilted)" } else { "" }
                        ),
                    ));
                }
            }
        }
        for (i, f) in self.lbp.iter().enumerate() {
            if f.x < 0
                || f.y < 0
                || f.w <= 0
                || f.h <= 0
                || f.x + 3 * f.w > ww
                || f.y + 3 * f.h > wh
            {
                return Err(bad(
                    nth(&at.lbp, i),
                    format!(
                        "LBP feature {i}: {} {} {} {} leaves the {ww}x{wh} window",
                        f.x, f.y, f.w, f.h
                    ),
                ));
            }
        }
        Ok(())
    }
}

fn read_new(ctx: &Ctx, top: XNode) -> Result<(CascadeModel, Lines), DetectError> {
    let mut lines = Lines::default();
    let stage_type = ctx.text(ctx.child(top, "stageType")?);
    if stage_type != "BOOST" {
        return Err(DetectError::Unsupported(format!(
            "stageType {stage_type} (only BOOST cascades exist in OpenCV)"
        )));
    }
    let ft = ctx.text(ctx.child(top, "featureType")?);
    let feature_type = match ft.as_str() {
        "HAAR" => FeatureType::Haar,
        "LBP" => FeatureType::Lbp,
        "HOG" => {
            return Err(DetectError::Unsupported(
                "HOG cascades (OpenCV itself dropped them in 3.0)".into(),
            ))
        }
        other => return Err(DetectError::Unsupported(format!("featureType {other}"))),
    };
    let width_node = ctx.child(top, "width")?;
    lines.window = ctx.line(width_node);
    let width = to_int(ctx.number(width_node)?);
    let height = to_int(ctx.number(ctx.child(top, "height")?)?);
    let fp = ctx.child(top, "featureParams")?;
    let ncat = match child(fp, "maxCatCount") {
        Some(n) => to_int(ctx.number(n)?),
        None => 0,
    };
    let subset_size = ((ncat + 31) / 32) as usize;
    if feature_type == FeatureType::Lbp && subset_size != LBP_SUBSET {
        return Err(DetectError::Unsupported(format!(
            "LBP cascade with maxCatCount {ncat} (expected 256)"
        )));
    }
    if feature_type == FeatureType::Haar && ncat > 0 {
        return Err(DetectError::Unsupported(
            "categorical Haar cascade (maxCatCount > 0)".into(),
        ));
    }
    let node_step = 3 + if ncat > 0 { subset_size } else { 1 };

    let mut m = CascadeModel {
        feature_type,
        window: (width, height),
        stages: vec![],
        trees: vec![],
        nodes: vec![],
        leaves: vec![],
        subsets: vec![],
        stumps: vec![],
        haar: vec![],
        lbp: vec![],
        has_tilted: false,
    };
    let stages = ctx.child(top, "stages")?;
    lines.stages = ctx.line(stages);
    for st in items(stages) {
        let thr = ctx.number(ctx.child(st, "stageThreshold")?)? as f32 - THRESHOLD_EPS;
        let weaks = ctx.child(st, "weakClassifiers")?;
        let first = m.trees.len();
        for wk in items(weaks) {
            let inodes = ctx.numbers(ctx.child(wk, "internalNodes")?)?;
            let leaves = ctx.numbers(ctx.child(wk, "leafValues")?)?;
            if inodes.is_empty() || inodes.len() % node_step != 0 {
                return Err(ctx.err(
                    wk,
                    format!(
                        "internalNodes has {} numbers, expected a multiple of {node_step}",
                        inodes.len()
                    ),
                ));
            }
            let nc = inodes.len() / node_step;
            if leaves.len() != nc + 1 {
                return Err(ctx.err(
                    wk,
                    format!(
                        "{nc} nodes need {} leafValues, found {}",
                        nc + 1,
                        leaves.len()
                    ),
                ));
            }
            m.trees.push((m.nodes.len(), nc, m.leaves.len()));
            lines.trees.push(ctx.line(wk));
            for c in inodes.chunks_exact(node_step) {
                let feature = to_int(c[2]);
                if feature < 0 {
                    return Err(ctx.err(wk, format!("negative feature index {feature}")));
                }
                let threshold = if ncat > 0 {
                    m.subsets.extend(c[3..].iter().map(|&v| to_int(v)));
                    0.0
                } else {
                    c[3] as f32
                };
                m.nodes.push(Node {
                    feature: feature as u32,
                    threshold,
                    left: to_int(c[0]),
                    right: to_int(c[1]),
                });
            }
            m.leaves.extend(leaves.iter().map(|&v| v as f32));
        }
        let ntrees = m.trees.len() - first;
        if ntrees == 0 {
            return Err(ctx.err(st, "stage without weak classifiers"));
        }
        m.stages.push(Stage {
            first,
            ntrees,
            threshold: thr,
        });
    }
    let feats = ctx.child(top, "features")?;
    for f in items(feats) {
        match feature_type {
            FeatureType::Haar => {
                let mut hf = HaarFeature::default();
                let rects = ctx.child(f, "rects")?;
                for (ri, r) in items(rects).enumerate() {
                    if ri >= 3 {
                        return Err(ctx.err(r, "a Haar feature has at most 3 rectangles"));
                    }
                    let v = ctx.numbers(r)?;
                    if v.len() != 5 {
                        return Err(ctx.err(r, "a Haar rectangle is `x y w h weight`"));
                    }
                    hf.rects[ri] = HaarRect {
                        x: to_int(v[0]),
                        y: to_int(v[1]),
                        w: to_int(v[2]),
                        h: to_int(v[3]),
                        weight: v[4] as f32,
                    };
                }
                if let Some(t) = child(f, "tilted") {
                    hf.tilted = to_int(ctx.number(t)?) != 0;
                }
                m.haar.push(hf);
                lines.haar.push(ctx.line(f));
            }
            FeatureType::Lbp => {
                let v = ctx.numbers(ctx.child(f, "rect")?)?;
                if v.len() != 4 {
                    return Err(ctx.err(f, "an LBP rect is `x y w h`"));
                }
                m.lbp.push(LbpFeature {
                    x: to_int(v[0]),
                    y: to_int(v[1]),
                    w: to_int(v[2]),
                    h: to_int(v[3]),
                });
                lines.lbp.push(ctx.line(f));
            }
        }
    }
    m.finish();
    Ok((m, lines))
}

/// The old (OpenCV 1.x) Haar format, converted as `CascadeClassifier::convert` does.
fn read_old(ctx: &Ctx, top: XNode) -> Result<(CascadeModel, Lines), DetectError> {
    let size_node = ctx.child(top, "size")?;
    let mut lines = Lines {
        window: ctx.line(size_node),
        ..Lines::default()
    };
    let size = ctx.numbers(size_node)?;
    if size.len() != 2 {
        return Err(ctx.err(top, "<size> must be `width height`"));
    }
    let mut m = CascadeModel {
        feature_type: FeatureType::Haar,
        window: (to_int(size[0]), to_int(size[1])),
        stages: vec![],
        trees: vec![],
        nodes: vec![],
        leaves: vec![],
        subsets: vec![],
        stumps: vec![],
        haar: vec![],
        lbp: vec![],
        has_tilted: false,
    };
    let stages = ctx.child(top, "stages")?;
    lines.stages = ctx.line(stages);
    for (si, st) in items(stages).enumerate() {
        // A stage tree (OpenCV 1.x "parent/next") cannot be expressed as a chain.
        let parent = match child(st, "parent") {
            Some(p) => to_int(ctx.number(p)?),
            None => si as i32 - 1,
        };
        let next = match child(st, "next") {
            Some(p) => to_int(ctx.number(p)?),
            None => -1,
        };
        if parent != si as i32 - 1 || next != -1 {
            return Err(DetectError::Unsupported(format!(
                "old-format cascade whose stages form a tree (stage {si}: parent {parent}, next {next})"
            )));
        }
        let thr = ctx.number(ctx.child(st, "stage_threshold")?)? as f32 - THRESHOLD_EPS;
        let trees = ctx.child(st, "trees")?;
        let first = m.trees.len();
        for tr in items(trees) {
            let n0 = m.nodes.len();
            let l0 = m.leaves.len();
            let mut nodes = Vec::new();
            let mut leaves: Vec<f32> = Vec::new();
            for nn in items(tr) {
                let fnode = ctx.child(nn, "feature")?;
                let mut hf = HaarFeature::default();
                if let Some(t) = child(fnode, "tilted") {
                    hf.tilted = to_int(ctx.number(t)?) != 0;
                }
                for (k, r) in items(ctx.child(fnode, "rects")?).enumerate() {
                    if k >= 3 {
                        return Err(ctx.err(r, "a Haar feature has at most 3 rectangles"));
                    }
                    let v = ctx.numbers(r)?;
                    if v.len() != 5 {
                        return Err(ctx.err(r, "a Haar rectangle is `x y w h weight`"));
                    }
                    hf.rects[k] = HaarRect {
                        x: to_int(v[0]),
                        y: to_int(v[1]),
                        w: to_int(v[2]),
                        h: to_int(v[3]),
                        weight: v[4] as f32,
                    };
                }
                // The converter drops a third rectangle of (near) zero weight.
                if hf.rects[2].weight.abs() < f32::EPSILON {
                    hf.rects[2] = HaarRect::default();
                }
                let feature = m.haar.len() as u32;
                m.haar.push(hf);
                lines.haar.push(ctx.line(fnode));
                let threshold = ctx.number(ctx.child(nn, "threshold")?)? as f32;
                let left = if let Some(v) = child(nn, "left_val") {
                    leaves.push(ctx.number(v)? as f32);
                    -(leaves.len() as i32 - 1)
                } else {
                    to_int(ctx.number(ctx.child(nn, "left_node")?)?)
                };
                let right = if let Some(v) = child(nn, "right_val") {
                    leaves.push(ctx.number(v)? as f32);
                    -(leaves.len() as i32 - 1)
                } else {
                    to_int(ctx.number(ctx.child(nn, "right_node")?)?)
                };
                nodes.push(Node {
                    feature,
                    threshold,
                    left,
                    right,
                });
            }
            if nodes.is_empty() || leaves.len() != nodes.len() + 1 {
                return Err(ctx.err(
                    tr,
                    format!(
                        "a tree with {} nodes has {} leaves (expected one more)",
                        nodes.len(),
                        leaves.len()
                    ),
                ));
            }
            m.trees.push((n0, nodes.len(), l0));
            lines.trees.push(ctx.line(tr));
            m.nodes.extend(nodes);
            m.leaves.extend(leaves);
        }
        let ntrees = m.trees.len() - first;
        if ntrees == 0 {
            return Err(ctx.err(st, "stage without trees"));
        }
        m.stages.push(Stage {
            first,
            ntrees,
            threshold: thr,
        });
    }
    m.finish();
    Ok((m, lines))
}
