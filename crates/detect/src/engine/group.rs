//! OpenCV's `groupRectangles`: raw windows into faces (connected components of similar
//! rectangles, averaged, small groups and groups inside bigger ones dropped).

use super::{round_f32, round_f64, Rect};

/// OpenCV's `partition` with `SimilarRects(eps)`: connected components; labels numbered in
/// order of first appearance.
#[allow(clippy::needless_range_loop)] // parallel arrays indexed together
fn partition(rects: &[Rect], eps: f64) -> (Vec<usize>, usize) {
    let n = rects.len();
    let similar = |a: &Rect, b: &Rect| {
        let delta = eps * ((a.w.min(b.w) + a.h.min(b.h)) as f64) * 0.5;
        ((a.x - b.x).abs() as f64) <= delta
            && ((a.y - b.y).abs() as f64) <= delta
            && ((a.x + a.w - b.x - b.w).abs() as f64) <= delta
            && ((a.y + a.h - b.y - b.h).abs() as f64) <= delta
    };
    let mut parent: Vec<usize> = (0..n).collect();
    fn find(parent: &mut [usize], mut i: usize) -> usize {
        while parent[i] != i {
            parent[i] = parent[parent[i]];
            i = parent[i];
        }
        i
    }
    for i in 0..n {
        for j in i + 1..n {
            if similar(&rects[i], &rects[j]) {
                let (a, b) = (find(&mut parent, i), find(&mut parent, j));
                if a != b {
                    parent[a.max(b)] = a.min(b);
                }
            }
        }
    }
    let mut label = vec![usize::MAX; n];
    let mut labels = vec![0; n];
    let mut nclasses = 0;
    for i in 0..n {
        let r = find(&mut parent, i);
        if label[r] == usize::MAX {
            label[r] = nclasses;
            nclasses += 1;
        }
        labels[i] = label[r];
    }
    (labels, nclasses)
}

/// OpenCV's `groupRectangles(rects, groupThreshold, eps)` returning `(rect, neighbours)`.
pub fn group_rectangles(rects: &[Rect], group_threshold: i32, eps: f64) -> Vec<(Rect, i32)> {
    if group_threshold <= 0 || rects.is_empty() {
        return rects.iter().map(|&r| (r, 1)).collect();
    }
    let (labels, nclasses) = partition(rects, eps);
    let mut sums = vec![(0i64, 0i64, 0i64, 0i64); nclasses];
    let mut counts = vec![0i32; nclasses];
    for (r, &c) in rects.iter().zip(&labels) {
        sums[c].0 += r.x as i64;
        sums[c].1 += r.y as i64;
        sums[c].2 += r.w as i64;
        sums[c].3 += r.h as i64;
        counts[c] += 1;
    }
    let avg: Vec<Rect> = (0..nclasses)
        .map(|c| {
            let s = 1.0f32 / counts[c] as f32;
            let f = |v: i64| round_f32(v as f32 * s);
            Rect {
                x: f(sums[c].0),
                y: f(sums[c].1),
                w: f(sums[c].2),
                h: f(sums[c].3),
            }
        })
        .collect();
    let mut out = Vec::new();
    for i in 0..nclasses {
        let r1 = avg[i];
        let n1 = counts[i];
        if n1 <= group_threshold {
            continue;
        }
        let mut inside = false;
        for j in 0..nclasses {
            let n2 = counts[j];
            if j == i || n2 <= group_threshold {
                continue;
            }
            let r2 = avg[j];
            let dx = round_f64(r2.w as f64 * eps);
            let dy = round_f64(r2.h as f64 * eps);
            if r1.x >= r2.x - dx
                && r1.y >= r2.y - dy
                && r1.x + r1.w <= r2.x + r2.w + dx
                && r1.y + r1.h <= r2.y + r2.h + dy
                && (n2 > n1.max(3) || n1 < 3)
            {
                inside = true;
                break;
            }
        }
        if !inside {
            out.push((r1, n1));
        }
    }
    out
}
