//! One schema for a face (issue 20, item 7): the faces of `detect`'s photo JSON and of its
//! video JSON lines both follow `docs/face.schema.json`.

mod common;
use common::{bin, gradient_image, run, tiny_model};
use serde_json::Value;

fn schema() -> Value {
    let p = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/face.schema.json");
    serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap()
}

/// Checks `v` against the subset of JSON Schema the face schema uses (type, required,
/// properties, items, minItems/maxItems, local `$ref`); the errors found, by path.
fn check(v: &Value, s: &Value, root: &Value, path: &str, errors: &mut Vec<String>) {
    if let Some(r) = s["$ref"].as_str() {
        let name = r.trim_start_matches("#/$defs/");
        return check(v, &root["$defs"][name], root, path, errors);
    }
    let types: Vec<&str> = match &s["type"] {
        Value::String(t) => vec![t.as_str()],
        Value::Array(ts) => ts.iter().filter_map(|t| t.as_str()).collect(),
        _ => vec![],
    };
    let is = |t: &str| match t {
        "object" => v.is_object(),
        "array" => v.is_array(),
        "number" => v.is_number(),
        "integer" => v.is_u64() || v.is_i64(),
        "null" => v.is_null(),
        "string" => v.is_string(),
        _ => false,
    };
    if !types.is_empty() && !types.iter().any(|t| is(t)) {
        errors.push(format!("{path}: {v} is not {types:?}"));
        return;
    }
    if let Some(o) = v.as_object() {
        for r in s["required"].as_array().into_iter().flatten() {
            if !o.contains_key(r.as_str().unwrap()) {
                errors.push(format!("{path}: no `{r}`"));
            }
        }
        if let Some(props) = s["properties"].as_object() {
            for (k, sub) in props {
                if let Some(x) = o.get(k) {
                    check(x, sub, root, &format!("{path}.{k}"), errors);
                }
            }
        }
    }
    if let Some(a) = v.as_array() {
        if let Some(n) = s["minItems"].as_u64() {
            if (a.len() as u64) < n {
                errors.push(format!("{path}: fewer than {n} items"));
            }
        }
        if let Some(n) = s["maxItems"].as_u64() {
            if a.len() as u64 > n {
                errors.push(format!("{path}: more than {n} items"));
            }
        }
        for (i, x) in a.iter().enumerate() {
            check(x, &s["items"], root, &format!("{path}[{i}]"), errors);
        }
    }
}

fn assert_face(face: &Value, what: &str) {
    let s = schema();
    let mut errors = Vec::new();
    check(face, &s, &s, what, &mut errors);
    assert!(errors.is_empty(), "{errors:?}");
}

#[test]
fn the_checker_finds_faults() {
    let s = schema();
    let mut errors = Vec::new();
    let bad = serde_json::json!({"landmark_box": [1, 2, 3, 4], "points": [[1.0]]});
    check(&bad, &s, &s, "face", &mut errors);
    assert_eq!(errors.len(), 2, "{errors:?}");
}

#[test]
fn photo_and_video_faces_follow_one_schema() {
    let dir = tempfile::tempdir().unwrap();
    let model = tiny_model(dir.path());
    let img = dir.path().join("face.png");
    gradient_image(&img);
    let (code, out, err) = run(bin()
        .args([
            "detect",
            "--box",
            "30,20,60,60",
            "--format",
            "json",
            "--json",
            "--model",
        ])
        .arg(&model)
        .arg("--out")
        .arg(dir.path().join("out"))
        .arg(&img));
    assert_eq!(code, Some(0), "{err}");
    let json: Value = serde_json::from_str(&out).unwrap();
    assert_face(&json[0]["faces"][0], "photo face");
    // a video face as `detect` writes it on each JSON line
    let video = facemark_apps::video::FaceLandmarks {
        id: 3,
        bbox: [1.0, 2.0, 30.0, 40.0],
        landmark_box: facemark_core::BoxF::new(1.0, 2.0, 30.0, 40.0),
        points: vec![[5.0, 6.0]; 68],
        pose: None,
    };
    let v = serde_json::to_value(&video).unwrap();
    assert_face(&v, "video face");
    assert_eq!(v["landmark_box"]["w"], 30.0);
    assert_eq!(v["box"][2], 30.0);
}
