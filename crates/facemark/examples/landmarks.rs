//! Embedding facemark: faces and 68 landmarks on a photo with the built-in detector and model.
//!
//! `cargo run --release -p facemark --example landmarks -- ../shared/data/scenes/obamas4.jpg`

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let path = std::env::args().nth(1).ok_or("usage: landmarks PHOTO")?;
    let image = facemark::open_image(&path)?; // upright, any type facemark reads
    let detector = facemark::Pipeline::default()?;
    for (i, face) in detector.detect(&image).iter().enumerate() {
        let nose = face.points[30];
        println!(
            "face {i}: box {:?}, {} points ({}), nose tip at ({:.1}, {:.1}) px",
            face.landmark_box,
            face.points.len(),
            detector.scheme().name,
            nose[0],
            nose[1]
        );
    }
    Ok(())
}
