//! Checks against the real data sets in ../shared/data (skipped, with a printed reason, when
//! they are absent).

use facemark_core::scheme::ibug68_to_kaggle15;
use facemark_core::{testdata::shared_data, Affine2};
use facemark_formats::{load_any, split_by_identity};

#[test]
fn youtube_training_csv_has_3531_faces_of_68_points() {
    let Some(d) = shared_data() else { return };
    let s = load_any(&d.join("youtube-faces-68/training_frames_keypoints.csv")).unwrap();
    assert_eq!(s.len(), 3531);
    assert!(s.iter().all(|s| s.points.len() == 68 && s.present() == 68));
    assert_eq!(s[0].name, "Luis_Fonsi_21.jpg");
    assert_eq!(s[0].identity, "Luis_Fonsi");
    assert_eq!(s[0].points[0], [45.0, 98.0]);
    match &s[0].image {
        facemark_core::ImageSource::File(p) => assert!(p.is_file(), "{}", p.display()),
        _ => panic!("file image expected"),
    }
    let (t, v) = split_by_identity(&s, 0.1, 0);
    assert_eq!(t.len() + v.len(), 3531);
    let vid: std::collections::HashSet<_> = v.iter().map(|&i| &s[i].identity).collect();
    assert!(t.iter().all(|&i| !vid.contains(&s[i].identity)));
}

#[test]
fn helen_300w_folder_has_870_faces() {
    let Some(d) = shared_data() else { return };
    let s = load_any(&d.join("300w-helen-train")).unwrap();
    assert_eq!(s.len(), 870);
    assert!(s.iter().all(|s| s.points.len() == 68));
}

/// The Kaggle-style file was derived from the YouTube training faces by a similarity (crop +
/// resize) and the documented 68 → 15 mapping; our conversion must agree with it row by row.
#[test]
fn kaggle_zip_matches_our_68_to_15_conversion() {
    let Some(d) = shared_data() else { return };
    let k = load_any(&d.join("kaggle-style-15/training.zip")).unwrap();
    assert_eq!(k.len(), 3531);
    assert!(k.iter().all(|s| s.points.len() == 15 && s.present() == 15));
    let y = load_any(&d.join("youtube-faces-68/training_frames_keypoints.csv")).unwrap();
    for i in [0, 1, 100, 2000, 3530] {
        let conv = ibug68_to_kaggle15(&y[i].points);
        let t = Affine2::similarity(&conv, &k[i].points).unwrap();
        for (j, (a, b)) in conv.iter().zip(&k[i].points).enumerate() {
            let p = t.apply(*a);
            let err = ((p[0] - b[0]).powi(2) + (p[1] - b[1]).powi(2)).sqrt();
            assert!(err < 0.05, "row {i} point {j}: {err} px");
        }
        // Subject's left eye on the image's right.
        assert!(k[i].points[0][0] > k[i].points[1][0]);
    }
}
