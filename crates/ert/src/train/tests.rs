use super::*;
use crate::predict::Scratch;
use rand::Rng;

/// A canonical 5-point face in the unit square of its rectangle.
const CANON: [[f64; 2]; 5] = [
    [0.3, 0.35],
    [0.7, 0.35],
    [0.5, 0.55],
    [0.35, 0.75],
    [0.65, 0.72],
];

/// `n` procedural 64×64 faces: the canonical points turned (±15°), scaled (0.8–1.2) and moved
/// (±8 %) in the rectangle (8, 8, 55, 55), each drawn as a dark disc on a noisy gradient.
fn faces(n: usize, seed: u64) -> (Vec<GrayImage>, Vec<TrainFace>) {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let rect = DlibRect::new(8.0, 8.0, 55.0, 55.0);
    let mut images = Vec::new();
    let mut out = Vec::new();
    for i in 0..n {
        let a: f64 = rng.gen_range(-0.26..0.26);
        let s: f64 = rng.gen_range(0.8..1.2);
        let (tx, ty): (f64, f64) = (rng.gen_range(-0.08..0.08), rng.gen_range(-0.08..0.08));
        let points: Vec<[f64; 2]> = CANON
            .iter()
            .map(|p| {
                let (x, y) = (p[0] - 0.5, p[1] - 0.5);
                let u = s * (a.cos() * x - a.sin() * y) + 0.5 + tx;
                let v = s * (a.sin() * x + a.cos() * y) + 0.5 + ty;
                [rect.left + u * 47.0, rect.top + v * 47.0]
            })
            .collect();
        let img = GrayImage::from_fn(64, 64, |x, y| {
            let mut v = 120.0 + x as f64 + rng.gen_range(-10.0..10.0);
            for (k, p) in points.iter().enumerate() {
                let (dx, dy) = (x as f64 - p[0], y as f64 - p[1]);
                if dx * dx + dy * dy <= 9.0 {
                    v = 20.0 + 15.0 * k as f64;
                }
            }
            image::Luma([v.clamp(0.0, 255.0) as u8])
        });
        images.push(img);
        out.push(TrainFace {
            image: i,
            rect,
            points,
            present: vec![true; CANON.len()],
            start: None,
        });
    }
    (images, out)
}

fn small() -> TrainOptions {
    TrainOptions {
        cascade_depth: 4,
        tree_depth: 3,
        num_trees_per_cascade_level: 25,
        oversampling_amount: 5,
        feature_pool_size: 100,
        random_seed: 7,
        ..TrainOptions::default()
    }
}

/// Mean point error over `faces`, in pixels.
fn mean_error(sp: &ShapePredictor, images: &[GrayImage], faces: &[TrainFace]) -> f64 {
    let mut s = Scratch::default();
    let mut total = 0.0;
    let mut n = 0;
    for f in faces {
        let pts = sp.predict_normalized(&images[f.image], &f.rect, &mut s);
        for (p, q) in pts.chunks_exact(2).zip(&f.points) {
            let r = f.rect.unnormalize([p[0], p[1]]);
            total += ((r[0] - q[0]).powi(2) + (r[1] - q[1]).powi(2)).sqrt();
            n += 1;
        }
    }
    total / n as f64
}

fn train_quiet(images: &[GrayImage], faces: &[TrainFace], o: &TrainOptions) -> ShapePredictor {
    train(images, faces, o, &mut |_| {}).unwrap()
}

#[test]
fn training_reduces_the_error_on_new_faces() {
    let (images, tr) = faces(80, 1);
    let (test_images, te) = faces(40, 2);
    let mut calls = 0;
    let sp = train(&images, &tr, &small(), &mut |d| {
        calls += 1;
        assert_eq!(d, calls);
    })
    .unwrap();
    assert_eq!(calls, 100);
    assert_eq!(sp.num_parts(), 5);
    assert_eq!(sp.levels().len(), 4);
    assert_eq!(sp.num_trees(), 100);
    let mean_only = ShapePredictor::new(sp.initial_shape.clone(), Vec::new()).unwrap();
    let before = mean_error(&mean_only, &test_images, &te);
    let after = mean_error(&sp, &test_images, &te);
    let on_train = mean_error(&sp, &images, &tr);
    eprintln!("mean shape {before:.2} px, trained {after:.2} px (training faces {on_train:.2})");
    assert!(before > 2.0, "{before}");
    assert!(after < 0.5 * before, "{after} vs {before}");
    assert!(on_train < after + 0.5, "{on_train} vs {after}");
}

/// Gives each face a starting shape: its points moved by a per-face shift and a per-point
/// error of up to `err` pixels (as another landmarker's points would be).
fn with_starts(faces: &mut [TrainFace], err: f64, seed: u64) {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    for f in faces {
        let (dx, dy) = (rng.gen_range(-err..err), rng.gen_range(-err..err));
        f.start = Some(
            f.points
                .iter()
                .map(|p| {
                    [
                        p[0] + dx + rng.gen_range(-err..err) / 2.0,
                        p[1] + dy + rng.gen_range(-err..err) / 2.0,
                    ]
                })
                .collect(),
        );
    }
}

/// A face's starting shape as points in facemark's convention (dlib's coordinates + 0.5).
fn start_points(f: &TrainFace) -> Vec<[f32; 2]> {
    f.start
        .as_ref()
        .unwrap()
        .iter()
        .map(|p| [p[0] as f32 + 0.5, p[1] as f32 + 0.5])
        .collect()
}

/// Mean point error in pixels of a refinement cascade run from each face's starting shape
/// (`refine = false`: of the starting shapes themselves).
fn refined_error(
    sp: &ShapePredictor,
    images: &[GrayImage],
    faces: &[TrainFace],
    refine: bool,
) -> f64 {
    let mut s = Scratch::default();
    let (mut total, mut n) = (0.0, 0);
    for f in faces {
        let start = start_points(f);
        let pts = if refine {
            sp.refine_points(&images[f.image], &start, &mut s)
        } else {
            start
        };
        for (p, q) in pts.iter().zip(&f.points) {
            total +=
                ((p[0] as f64 - 0.5 - q[0]).powi(2) + (p[1] as f64 - 0.5 - q[1]).powi(2)).sqrt();
            n += 1;
        }
    }
    total / n as f64
}

#[test]
fn a_refinement_cascade_corrects_its_starting_shapes() {
    let (images, mut tr) = faces(80, 11);
    let (test_images, mut te) = faces(40, 12);
    // the rectangle a refinement cascade sees is the box around its starting points
    let boxed = |fs: &mut Vec<TrainFace>| {
        for f in fs.iter_mut() {
            let pts = start_points(f);
            f.rect = crate::landmarker::rect_of_box(&facemark_core::BoxF::around(&pts).unwrap());
        }
    };
    with_starts(&mut tr, 4.0, 1);
    with_starts(&mut te, 4.0, 2);
    boxed(&mut tr);
    boxed(&mut te);
    let o = TrainOptions {
        oversampling_amount: 1,
        ..small()
    };
    let sp = train_quiet(&images, &tr, &o);
    let before = refined_error(&sp, &test_images, &te, false);
    let after = refined_error(&sp, &test_images, &te, true);
    eprintln!("starting shapes {before:.2} px, refined {after:.2} px");
    assert!(after < 0.7 * before, "{after} vs {before}");
    // a start for some faces only is refused
    tr[3].start = None;
    let e = train(&images, &tr, &o, &mut |_| {})
        .unwrap_err()
        .to_string();
    assert!(e.contains("face 3") && e.contains("starting shape"), "{e}");
}

#[test]
fn the_same_seed_gives_the_same_model_whatever_the_threads() {
    let (images, tr) = faces(30, 3);
    let o = TrainOptions {
        num_trees_per_cascade_level: 10,
        ..small()
    };
    let pool = |n| {
        rayon::ThreadPoolBuilder::new()
            .num_threads(n)
            .build()
            .unwrap()
    };
    let a = pool(1).install(|| train_quiet(&images, &tr, &o)).to_bytes();
    let b = pool(3).install(|| train_quiet(&images, &tr, &o)).to_bytes();
    assert!(a == b, "thread count changed the model");
    let c = train_quiet(
        &images,
        &tr,
        &TrainOptions {
            random_seed: 8,
            ..o.clone()
        },
    )
    .to_bytes();
    assert!(a != c, "the seed changed nothing");
}

#[test]
fn the_written_file_reads_back_with_the_same_points() {
    let (images, tr) = faces(30, 4);
    let sp = train_quiet(&images, &tr, &small());
    let bytes = sp.to_bytes();
    let back = ShapePredictor::from_bytes(&bytes).unwrap();
    assert!(back.to_bytes() == bytes);
    for f in &tr {
        let a = sp.predict_dlib(&images[f.image], &f.rect);
        let b = back.predict_dlib(&images[f.image], &f.rect);
        assert_eq!(a, b);
    }
}

#[test]
fn missing_points_are_ignored_and_still_learnt() {
    let (images, mut tr) = faces(60, 5);
    for (i, f) in tr.iter_mut().enumerate() {
        f.present[i % 5] = false;
        f.points[i % 5] = [f64::NAN, f64::NAN];
    }
    let sp = train_quiet(&images, &tr, &small());
    for v in sp.initial_shape.iter().chain(&sp.levels()[3].leaves) {
        assert!(v.is_finite());
    }
    let (ti, te) = faces(30, 6);
    let mean_only = ShapePredictor::new(sp.initial_shape.clone(), Vec::new()).unwrap();
    assert!(mean_error(&sp, &ti, &te) < 0.6 * mean_error(&mean_only, &ti, &te));
}

#[test]
fn bad_options_and_faces_are_refused_with_a_reason() {
    let (images, tr) = faces(4, 7);
    let err = |o: &TrainOptions, f: &[TrainFace]| {
        train(&images, f, o, &mut |_| {}).unwrap_err().to_string()
    };
    let o = small();
    for (bad, name) in [
        (
            TrainOptions {
                nu: 0.0,
                ..o.clone()
            },
            "nu",
        ),
        (
            TrainOptions {
                tree_depth: 0,
                ..o.clone()
            },
            "tree_depth",
        ),
        (
            TrainOptions {
                feature_pool_size: 1,
                ..o.clone()
            },
            "feature_pool_size",
        ),
        (
            TrainOptions {
                lambda: -1.0,
                ..o.clone()
            },
            "lambda",
        ),
        (
            TrainOptions {
                oversampling_amount: 0,
                ..o.clone()
            },
            "oversampling_amount",
        ),
        (
            TrainOptions {
                feature_pool_region_padding: -0.5,
                ..o.clone()
            },
            "padding",
        ),
    ] {
        assert!(err(&bad, &tr).contains(name), "{name}");
    }
    assert!(err(&o, &[]).contains("no face"));
    let mut f = tr.clone();
    f[1].points.pop();
    f[1].present.pop();
    assert!(err(&o, &f).contains("face 1 has 4 points"));
    let mut f = tr.clone();
    f[2].image = 9;
    assert!(err(&o, &f).contains("image 9"));
    let mut f = tr.clone();
    f[0].rect = DlibRect::new(5.0, 5.0, 5.0, 9.0);
    assert!(err(&o, &f).contains("empty"));
    let mut f = tr.clone();
    for x in &mut f {
        x.present[2] = false;
    }
    assert!(err(&o, &f).contains("point 2 is annotated on no face"));
}

#[test]
fn options_read_from_toml_with_dlib_names() {
    let o: TrainOptions =
        toml::from_str("cascade_depth = 3\nnu = 0.2\npadding_mode = \"bounding_box_relative\"")
            .unwrap();
    assert_eq!(o.cascade_depth, 3);
    assert_eq!(o.nu, 0.2);
    assert_eq!(o.padding_mode, PaddingMode::BoundingBoxRelative);
    assert_eq!(o.tree_depth, 4);
    assert_eq!(o.num_trees_per_cascade_level, 500);
    assert!(toml::from_str::<TrainOptions>("nu_ = 1").is_err());
}
