//! Face tracking across video frames.
//!
//! Each track keeps its last *raw* landmarks; their tight box ([`BoxF::around`], a landmark box
//! as [`Landmarker`] expects) places the landmarker on the next frame, so the detector is not
//! needed on most frames. The detector runs on the first frame, every `redetect_every` frames,
//! on any frame where a track is lost, and every `idle_detect_every` frames while there is no
//! track.
//!
//! A track is **lost** (dropped, and the detector runs on that frame) when its new landmarks
//! - contain a non-finite value, or
//! - collapse: their box is narrower or shorter than `min_face` pixels, or its height/width
//!   ratio leaves `[0.4, 2.5]` (a 68-point face box is about square), or
//! - jump implausibly: the box centre moves more than `max_jump` × the previous box side, or the
//!   box side changes by more than the factor `max_scale_change`, from one frame to the next.
//!
//! A new track is *tentative* until detections have matched it on `confirm_hits` detection
//! frames (its first detection counts): while any track is tentative the detector runs on every
//! frame (only around the tentative tracks, unless a full detection is due anyway), tentative
//! tracks are not returned, and like any track they are dropped after
//! `max_misses` detection frames in a row without a matching detection. A false detection in
//! one frame (a raised hand) never shows; a real face the detector finds only now and then
//! still gets confirmed.
//!
//! On detection frames, detections are associated to tracks greedily by IoU (highest first,
//! at least `iou_match`); unmatched detections start tracks; a track that no detection supports
//! on `max_misses` consecutive detection frames is dropped (a drifting track cannot live long),
//! and of two tracks overlapping by more than `duplicate_iou` the younger is dropped.
//!
//! Landmarks are then smoothed per track by One Euro filters on the face's pose and shape
//! ([`crate::smooth::FaceSmoother`]); tracking
//! itself always uses the raw landmarks, so smoothing adds no lag to the crops.

use crate::points::eye_distance;
use crate::smooth::{FaceSmoother, Smoothing};
use facemark_core::{BoxF, Detection, FaceDetector, Landmarker, Point};
use image::GrayImage;

/// Tracking and smoothing settings.
#[derive(Debug, Clone, PartialEq)]
pub struct TrackerOptions {
    /// Run the detector every N frames (0: only when needed: no track, or one lost).
    pub redetect_every: u32,
    /// Minimum IoU to associate a detection with a track.
    pub iou_match: f32,
    /// Two tracks overlapping more than this are duplicates.
    pub duplicate_iou: f32,
    /// Smallest landmark box side, pixels.
    pub min_face: f32,
    /// Largest centre movement per frame, in previous box sides.
    pub max_jump: f32,
    /// Largest box side change per frame, as a factor.
    pub max_scale_change: f32,
    /// Detection frames without a matching detection before a track is dropped.
    pub max_misses: u32,
    /// Detection frames that must match a new track before it is shown (1: at once).
    pub confirm_hits: u32,
    /// With no track at all, run the detector on every N-th frame only (1: every frame).
    pub idle_detect_every: u32,
    /// Confirm tentative tracks by running the detector only around them (a region twice their
    /// size) on frames where no full detection is due; `false`: whole frame.
    pub local_confirm: bool,
    /// Run the landmarker twice on a new detection (box from the first result).
    pub refine_new: bool,
    /// Place the next frame's crop on the box of the *smoothed* points (when smoothing is on)
    /// instead of the raw ones: breaks the feedback of landmark noise into the next crop.
    pub crop_from_smoothed: bool,
    /// One Euro smoothing of each face (pose and shape, [`FaceSmoother`]); `None`: raw points.
    pub smooth: Option<Smoothing>,
}

impl Default for TrackerOptions {
    fn default() -> Self {
        TrackerOptions {
            redetect_every: 10,
            iou_match: 0.3,
            duplicate_iou: 0.5,
            min_face: 12.0,
            max_jump: 0.5,
            max_scale_change: 1.5,
            max_misses: 3,
            confirm_hits: 2,
            idle_detect_every: 2,
            local_confirm: true,
            refine_new: true,
            smooth: Some(Smoothing::default()),
            crop_from_smoothed: false,
        }
    }
}

/// One face in one frame.
#[derive(Debug, Clone, PartialEq)]
pub struct TrackedFace {
    /// Track id, stable across frames, from 1.
    pub id: u64,
    /// Landmarks to use (smoothed when smoothing is on), pixels.
    pub points: Vec<Point>,
    /// The landmarker's raw output this frame, pixels.
    pub raw: Vec<Point>,
    /// Landmark box of `raw`.
    pub bbox: BoxF,
    /// Frames this track has existed, counting this one (1 on its first frame).
    pub age: u64,
}

/// Counters over a run.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TrackerCounters {
    /// Frames given to [`Tracker::update`].
    pub frames: u64,
    /// Detector runs, whole-frame and local (the costly step tracking saves).
    pub detector_runs: u64,
    /// Landmarker runs (one per followed track per frame, more for new faces).
    pub landmarker_runs: u64,
    /// Tracks created from a detection.
    pub tracks_started: u64,
    /// Tracks ended because the landmarks in their crop were implausible (too small, jumped or
    /// rescaled too far): the face left or the landmarker lost it.
    pub tracks_lost: u64,
    /// Tracks ended because `max_misses` detection frames found no detection to support them.
    pub tracks_dropped_unsupported: u64,
    /// Detector runs limited to the surroundings of tentative tracks (part of `detector_runs`).
    pub local_detector_runs: u64,
}

struct Track {
    id: u64,
    raw: Vec<Point>,
    /// Landmark box of `raw`.
    bbox: BoxF,
    /// Where the next frame's crop goes.
    crop: BoxF,
    age: u64,
    misses: u32,
    hits: u32,
    smoother: Option<FaceSmoother>,
}

/// The tracker. Feed frames in order with [`Tracker::update`].
pub struct Tracker<'a> {
    detector: &'a dyn FaceDetector,
    landmarker: &'a dyn Landmarker,
    /// The settings; may be changed between frames.
    pub options: TrackerOptions,
    tracks: Vec<Track>,
    next_id: u64,
    frame: u64,
    /// Consecutive frames (this one included) without any track.
    idle_frames: u64,
    /// What the tracker has done so far (for reports and tests).
    pub counters: TrackerCounters,
}

fn side(b: &BoxF) -> f32 {
    b.w.max(b.h)
}

impl<'a> Tracker<'a> {
    /// A tracker with no track yet; the detector finds faces, the landmarker places (and
    /// follows) them. Both are borrowed for the tracker's life.
    pub fn new(
        detector: &'a dyn FaceDetector,
        landmarker: &'a dyn Landmarker,
        options: TrackerOptions,
    ) -> Self {
        Tracker {
            detector,
            landmarker,
            options,
            tracks: vec![],
            next_id: 1,
            frame: 0,
            idle_frames: 0,
            counters: TrackerCounters::default(),
        }
    }

    /// Is `pts` a plausible face, and (with `prev`) a plausible successor of box `prev`?
    /// Returns the landmark box when plausible. See the module doc for the test.
    pub fn plausible(&self, pts: &[Point], prev: Option<&BoxF>) -> Option<BoxF> {
        if pts.is_empty() || pts.iter().any(|p| !p[0].is_finite() || !p[1].is_finite()) {
            return None;
        }
        let b = BoxF::around(pts)?;
        let o = &self.options;
        if b.w < o.min_face || b.h < o.min_face {
            return None;
        }
        let ratio = b.h / b.w;
        if !(0.4..=2.5).contains(&ratio) {
            return None;
        }
        if let Some(p) = prev {
            let (c0, c1) = (p.center(), b.center());
            let d = ((c1[0] - c0[0]).powi(2) + (c1[1] - c0[1]).powi(2)).sqrt();
            if d > o.max_jump * side(p) {
                return None;
            }
            let s = side(&b) / side(p).max(1e-3);
            if s > o.max_scale_change || s < 1.0 / o.max_scale_change {
                return None;
            }
        }
        Some(b)
    }

    /// The points to report and the points to follow ([`Landmarker::landmarks_to_track`]).
    fn run_landmarker(&mut self, gray: &GrayImage, b: &BoxF) -> (Vec<Point>, Vec<Point>) {
        self.counters.landmarker_runs += 1;
        self.landmarker.landmarks_to_track(gray, b)
    }

    /// Process the next frame (gray, as the detector and landmarker take it) at time `t`
    /// seconds. Returns the faces in this frame, oldest track first.
    pub fn update(&mut self, gray: &GrayImage, t: f64) -> Vec<TrackedFace> {
        let frame = self.frame;
        self.frame += 1;
        self.counters.frames += 1;

        // 1. follow each track from its last landmark box
        let mut lost = false;
        let tracks = std::mem::take(&mut self.tracks);
        for mut tr in tracks {
            let (pts, follow) = self.run_landmarker(gray, &tr.crop);
            match self.plausible(&follow, Some(&tr.bbox)) {
                Some(b) => {
                    tr.raw = pts;
                    tr.bbox = b;
                    tr.crop = b;
                    tr.age += 1;
                    self.tracks.push(tr);
                }
                None => {
                    lost = true;
                    self.counters.tracks_lost += 1;
                }
            }
        }

        // 2. detection when due
        let every = self.options.redetect_every as u64;
        let confirm = self.options.confirm_hits;
        let tentative = self.tracks.iter().any(|t| t.hits < confirm);
        let idle = self.options.idle_detect_every.max(1) as u64;
        self.idle_frames = if self.tracks.is_empty() {
            self.idle_frames + 1
        } else {
            0
        };
        let full = (self.tracks.is_empty()
            && (lost || (self.idle_frames - 1).is_multiple_of(idle)))
            || (!self.tracks.is_empty() && lost)
            || (every > 0 && frame.is_multiple_of(every))
            || (tentative && !self.options.local_confirm);
        if full || tentative {
            self.counters.detector_runs += 1;
            let dets = if full {
                self.detector.detect(gray)
            } else {
                // only tentative tracks need a detection: search around them
                self.counters.local_detector_runs += 1;
                let mut d = vec![];
                for tr in self.tracks.iter().filter(|t| t.hits < confirm) {
                    d.extend(detect_around(self.detector, gray, &tr.bbox));
                }
                d
            };
            let mut pairs: Vec<(f32, usize, usize)> = vec![];
            for (ti, tr) in self.tracks.iter().enumerate() {
                for (di, d) in dets.iter().enumerate() {
                    let iou = tr.bbox.iou(&d.bbox);
                    if iou >= self.options.iou_match {
                        pairs.push((iou, ti, di));
                    }
                }
            }
            pairs.sort_by(|a, b| b.0.total_cmp(&a.0));
            let mut t_used = vec![false; self.tracks.len()];
            let mut d_used = vec![false; dets.len()];
            for (_, ti, di) in pairs {
                if !t_used[ti] && !d_used[di] {
                    t_used[ti] = true;
                    d_used[di] = true;
                }
            }
            let max_misses = self.options.max_misses;
            let mut dropped = 0;
            let mut keep = t_used.iter();
            self.tracks.retain_mut(|tr| {
                let matched = *keep.next().unwrap_or(&false);
                if matched {
                    tr.misses = 0;
                    tr.hits += 1;
                    true
                } else if !full && tr.hits >= confirm {
                    true // not searched this frame
                } else {
                    tr.misses += 1;
                    let k = tr.misses < max_misses;
                    dropped += (!k) as u64;
                    k
                }
            });
            self.counters.tracks_dropped_unsupported += dropped;
            for (di, d) in dets.iter().enumerate() {
                if d_used[di]
                    || self
                        .tracks
                        .iter()
                        .any(|tr| tr.bbox.iou(&d.bbox) >= self.options.iou_match)
                {
                    continue;
                }
                let (mut pts, mut follow) = self.run_landmarker(gray, &d.bbox);
                if self.options.refine_new {
                    if let Some(b) = self.plausible(&follow, None) {
                        (pts, follow) = self.run_landmarker(gray, &b);
                    }
                }
                if let Some(b) = self.plausible(&follow, None) {
                    self.tracks.push(Track {
                        id: self.next_id,
                        raw: pts,
                        bbox: b,
                        crop: b,
                        age: 1,
                        misses: 0,
                        hits: 1,
                        smoother: self
                            .options
                            .smooth
                            .map(|s| FaceSmoother::new(s.pose, s.shape)),
                    });
                    self.next_id += 1;
                    self.counters.tracks_started += 1;
                }
            }
        }

        // 3. duplicates: two tracks on one face → keep the older
        let mut i = 0;
        while i < self.tracks.len() {
            let dup = (0..i).any(|j| {
                self.tracks[j].bbox.iou(&self.tracks[i].bbox) > self.options.duplicate_iou
            });
            if dup {
                self.tracks.remove(i);
            } else {
                i += 1;
            }
        }

        // 4. smoothing
        let from_smoothed = self.options.crop_from_smoothed;
        self.tracks
            .iter_mut()
            .filter(|tr| tr.hits >= confirm)
            .map(|tr| {
                let points = match &mut tr.smoother {
                    Some(s) => s.filter(&tr.raw, t, eye_distance_or_box(&tr.raw, &tr.bbox)),
                    None => tr.raw.clone(),
                };
                if from_smoothed {
                    if let Some(b) = BoxF::around(&points) {
                        tr.crop = b;
                    }
                }
                TrackedFace {
                    id: tr.id,
                    points,
                    raw: tr.raw.clone(),
                    bbox: tr.bbox,
                    age: tr.age,
                }
            })
            .collect()
    }
}

/// Detections in the square region twice the size of `b` around its centre (clipped to the
/// image), in image pixels.
fn detect_around(detector: &dyn FaceDetector, gray: &GrayImage, b: &BoxF) -> Vec<Detection> {
    let r = b.square(2.0);
    let x0 = r.x.floor().max(0.0) as u32;
    let y0 = r.y.floor().max(0.0) as u32;
    let x1 = ((r.x + r.w).ceil().max(0.0) as u32).min(gray.width());
    let y1 = ((r.y + r.h).ceil().max(0.0) as u32).min(gray.height());
    if x1 <= x0 || y1 <= y0 {
        return vec![];
    }
    let sub = image::imageops::crop_imm(gray, x0, y0, x1 - x0, y1 - y0).to_image();
    detector
        .detect(&sub)
        .into_iter()
        .map(|mut d| {
            d.bbox.x += x0 as f32;
            d.bbox.y += y0 as f32;
            d
        })
        .collect()
}

/// Eye distance for 68-point faces, else a third of the landmark box side (the same scale).
fn eye_distance_or_box(pts: &[Point], b: &BoxF) -> f32 {
    if pts.len() == 68 {
        eye_distance(pts).max(1.0)
    } else {
        (side(b) / 3.0).max(1.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::points::MEAN_SHAPE_68;
    use facemark_core::{Detection, Scheme};
    use std::sync::Mutex;

    /// A synthetic scene: faces are mean shapes at known positions per frame. The landmarker
    /// returns the face whose landmark box overlaps the query box most (none: garbage, tiny),
    /// the detector returns the true landmark boxes.
    struct Scene {
        faces: Mutex<Vec<Vec<Point>>>,
        scheme: Scheme,
    }

    fn face(cx: f32, cy: f32, s: f32) -> Vec<Point> {
        MEAN_SHAPE_68
            .iter()
            .map(|p| [cx + p[0] * s, cy + p[1] * s])
            .collect()
    }

    impl FaceDetector for Scene {
        fn detect(&self, _: &GrayImage) -> Vec<Detection> {
            self.faces
                .lock()
                .unwrap()
                .iter()
                .map(|f| Detection {
                    bbox: BoxF::around(f).unwrap(),
                    score: 1.0,
                })
                .collect()
        }
        fn name(&self) -> String {
            "scene".into()
        }
    }

    impl Landmarker for Scene {
        fn scheme(&self) -> &Scheme {
            &self.scheme
        }
        fn landmarks(&self, _: &GrayImage, b: &BoxF) -> Vec<Point> {
            let faces = self.faces.lock().unwrap();
            let best = faces
                .iter()
                .map(|f| (BoxF::around(f).unwrap().iou(b), f))
                .max_by(|a, b| a.0.total_cmp(&b.0));
            match best {
                Some((iou, f)) if iou > 0.1 => f.clone(),
                // what a landmarker does on background: a small shape in the box
                _ => vec![[b.x + 1.0, b.y + 1.0]; 68],
            }
        }
    }

    fn scene(faces: Vec<Vec<Point>>) -> Scene {
        Scene {
            faces: Mutex::new(faces),
            scheme: Scheme::generic(68),
        }
    }

    /// A landmarker whose reported points jump by ±`jump` pixels from call to call (as a
    /// cascade's trees can), while the points it follows are the scene's.
    struct Jumpy<'a> {
        scene: &'a Scene,
        jump: f32,
        calls: Mutex<u32>,
    }

    impl Landmarker for Jumpy<'_> {
        fn scheme(&self) -> &Scheme {
            &self.scene.scheme
        }
        fn landmarks(&self, g: &GrayImage, b: &BoxF) -> Vec<Point> {
            self.landmarks_to_track(g, b).0
        }
        fn landmarks_to_track(&self, g: &GrayImage, b: &BoxF) -> (Vec<Point>, Vec<Point>) {
            let follow = self.scene.landmarks(g, b);
            let mut n = self.calls.lock().unwrap();
            *n += 1;
            let d = if n.is_multiple_of(2) {
                self.jump
            } else {
                -self.jump
            };
            (follow.iter().map(|p| [p[0] + d, p[1]]).collect(), follow)
        }
    }

    #[test]
    fn tracks_follow_the_landmarkers_follow_points_and_report_its_shown_ones() {
        let sc = scene(vec![face(80.0, 60.0, 8.0)]);
        let jumpy = Jumpy {
            scene: &sc,
            jump: 3.0,
            calls: Mutex::new(0),
        };
        let opts = TrackerOptions {
            redetect_every: 0,
            confirm_hits: 1,
            smooth: None,
            ..TrackerOptions::default()
        };
        let mut tr = Tracker::new(&sc, &jumpy, opts);
        let g = GrayImage::new(4, 4);
        let truth = BoxF::around(&face(80.0, 60.0, 8.0)).unwrap();
        for i in 0..6 {
            let out = tr.update(&g, i as f64 / 30.0);
            assert_eq!(out.len(), 1, "frame {i}");
            // the box comes from the followed points: it does not move with the jumps
            let b = out[0].bbox;
            assert!(
                (b.x - truth.x).abs() < 1e-4 && (b.w - truth.w).abs() < 1e-4,
                "{b:?}"
            );
            // the reported points are the shown ones, 3 px off
            let dx = out[0].points[30][0] - face(80.0, 60.0, 8.0)[30][0];
            assert!((dx.abs() - 3.0).abs() < 1e-4, "frame {i}: {dx}");
        }
    }

    #[test]
    fn follows_moving_faces_with_few_detections() {
        let sc = scene(vec![face(50.0, 50.0, 8.0), face(200.0, 60.0, 10.0)]);
        let opts = TrackerOptions {
            redetect_every: 10,
            confirm_hits: 1,
            smooth: None,
            ..TrackerOptions::default()
        };
        let mut tr = Tracker::new(&sc, &sc, opts);
        let g = GrayImage::new(4, 4);
        for i in 0..30 {
            let x = i as f32 * 2.0;
            *sc.faces.lock().unwrap() = vec![
                face(50.0 + x, 50.0, 8.0),
                face(200.0 - x, 60.0 + x * 0.5, 10.0),
            ];
            let out = tr.update(&g, i as f64 / 30.0);
            assert_eq!(out.len(), 2, "frame {i}");
            assert_eq!((out[0].id, out[1].id), (1, 2), "ids stable");
            assert!((out[0].points[30][0] - (50.0 + x + MEAN_SHAPE_68[30][0] * 8.0)).abs() < 1e-3);
        }
        assert_eq!(tr.counters.detector_runs, 3, "frames 0, 10, 20");
        assert_eq!(tr.counters.tracks_started, 2);
    }

    #[test]
    fn lost_track_triggers_redetection_and_new_faces_are_found() {
        let sc = scene(vec![face(50.0, 50.0, 8.0)]);
        let opts = TrackerOptions {
            redetect_every: 0,
            confirm_hits: 1,
            smooth: None,
            ..TrackerOptions::default()
        };
        let mut tr = Tracker::new(&sc, &sc, opts);
        let g = GrayImage::new(4, 4);
        assert_eq!(tr.update(&g, 0.0).len(), 1);
        assert_eq!(tr.update(&g, 0.1).len(), 1);
        assert_eq!(tr.counters.detector_runs, 1);
        // the face teleports: the landmarker gives garbage for the old box → lost → re-detect
        *sc.faces.lock().unwrap() = vec![face(300.0, 200.0, 8.0)];
        let out = tr.update(&g, 0.2);
        assert_eq!(tr.counters.tracks_lost, 1);
        assert_eq!(tr.counters.detector_runs, 2);
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].id, 2, "a new track");
        // everything leaves: no faces, detector runs each frame
        sc.faces.lock().unwrap().clear();
        assert!(tr.update(&g, 0.3).is_empty());
        assert!(tr.update(&g, 0.4).is_empty());
        assert_eq!(tr.counters.detector_runs, 4);
        // still nothing: with idle_detect_every = 2 the detector now skips every other frame
        assert!(tr.update(&g, 0.5).is_empty());
        assert_eq!(tr.counters.detector_runs, 4);
        assert!(tr.update(&g, 0.6).is_empty());
        assert_eq!(tr.counters.detector_runs, 5);
    }

    #[test]
    fn one_frame_false_detection_never_shows_and_real_faces_confirm() {
        let sc = scene(vec![face(50.0, 50.0, 8.0), face(200.0, 50.0, 8.0)]);
        let mut tr = Tracker::new(
            &sc,
            &sc,
            TrackerOptions {
                smooth: None,
                ..TrackerOptions::default()
            },
        );
        let g = GrayImage::new(4, 4);
        assert!(
            tr.update(&g, 0.0).is_empty(),
            "tentative on the first frame"
        );
        // the second "face" was a one-frame false detection
        sc.faces.lock().unwrap().truncate(1);
        let out = tr.update(&g, 0.033);
        assert_eq!(out.len(), 1, "the real face is confirmed on the next frame");
        assert_eq!(tr.counters.detector_runs, 2);
        for i in 2..9 {
            assert_eq!(tr.update(&g, i as f64 / 30.0).len(), 1);
        }
        assert_eq!(
            tr.counters.detector_runs, 2,
            "no detection while all tracks are confirmed"
        );
    }

    /// Finds the bounding box of bright pixels, in the coordinates of the image it is given.
    struct Bright;
    impl FaceDetector for Bright {
        fn detect(&self, g: &GrayImage) -> Vec<Detection> {
            let pts: Vec<Point> = g
                .enumerate_pixels()
                .filter(|p| p.2 .0[0] > 128)
                .map(|p| [p.0 as f32, p.1 as f32])
                .collect();
            BoxF::around(&pts)
                .map(|b| Detection {
                    bbox: BoxF::new(b.x, b.y, b.w + 1.0, b.h + 1.0),
                    score: 1.0,
                })
                .into_iter()
                .collect()
        }
        fn name(&self) -> String {
            "bright".into()
        }
    }

    #[test]
    fn local_detection_reports_image_coordinates() {
        let mut g = GrayImage::new(200, 150);
        for y in 80..110 {
            for x in 120..150 {
                g.put_pixel(x, y, image::Luma([255]));
            }
        }
        let d = detect_around(&Bright, &g, &BoxF::new(118.0, 78.0, 34.0, 34.0));
        assert_eq!(d.len(), 1);
        assert_eq!(d[0].bbox, BoxF::new(120.0, 80.0, 30.0, 30.0));
        assert!(detect_around(&Bright, &g, &BoxF::new(10.0, 10.0, 20.0, 20.0)).is_empty());
        assert!(detect_around(&Bright, &g, &BoxF::new(-500.0, -500.0, 20.0, 20.0)).is_empty());
    }

    #[test]
    fn implausible_jump_and_collapse_are_rejected() {
        let sc = scene(vec![]);
        let tr = Tracker::new(&sc, &sc, TrackerOptions::default());
        let f = face(100.0, 100.0, 10.0);
        let b = BoxF::around(&f).unwrap();
        assert!(tr.plausible(&f, Some(&b)).is_some());
        assert!(
            tr.plausible(&face(100.0 + 0.6 * side(&b), 100.0, 10.0), Some(&b))
                .is_none(),
            "jump"
        );
        assert!(
            tr.plausible(&face(100.0, 100.0, 17.0), Some(&b)).is_none(),
            "scale"
        );
        assert!(
            tr.plausible(&face(100.0, 100.0, 2.0), None).is_none(),
            "too small"
        );
        let mut flat = f.clone();
        for p in &mut flat {
            p[1] = 100.0 + (p[1] - 100.0) * 0.1;
        }
        assert!(tr.plausible(&flat, None).is_none(), "collapsed");
        let mut nan = f;
        nan[3][0] = f32::NAN;
        assert!(tr.plausible(&nan, None).is_none());
    }

    #[test]
    fn unsupported_track_is_dropped_after_misses() {
        // the landmarker keeps "seeing" a face that the detector no longer finds
        let sc = scene(vec![face(50.0, 50.0, 8.0)]);
        let ghost = scene(vec![]);
        let opts = TrackerOptions {
            redetect_every: 1,
            max_misses: 3,
            confirm_hits: 1,
            smooth: None,
            ..TrackerOptions::default()
        };
        let mut tr = Tracker::new(&sc, &sc, opts.clone());
        let g = GrayImage::new(4, 4);
        tr.update(&g, 0.0);
        tr.detector = &ghost;
        assert_eq!(tr.update(&g, 0.1).len(), 1);
        assert_eq!(tr.update(&g, 0.2).len(), 1);
        assert_eq!(tr.update(&g, 0.3).len(), 0, "third miss drops it");
        assert_eq!(tr.counters.tracks_dropped_unsupported, 1);
    }
}
