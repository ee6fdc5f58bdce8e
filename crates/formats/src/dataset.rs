//! Format detection, loading and saving any supported format, and identity splits.

use crate::error::truncate;
use crate::{cache, helen, imglab, kaggle, pts, youtube, FormatError, Result};
use facemark_core::{ImageSource, Sample};
use std::path::{Path, PathBuf};

/// The on-disk formats facemark reads and writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// A folder of `NAME.jpg|png + NAME.pts` (300-W).
    Pts300w,
    /// One `.pts` file (image beside it with the same stem).
    Pts,
    /// YouTube-Faces course CSV (`name,x0,y0,…`).
    YoutubeCsv,
    /// Kaggle `training.csv`/`test.csv`, bare or zipped.
    Kaggle,
    /// A folder of HELEN `.txt` annotations.
    HelenDir,
    /// dlib imglab XML.
    Imglab,
    /// A facemark face-crop cache ([`cache::FaceCache`], `.fmc`).
    Cache,
}

impl Format {
    /// Every format, for help texts.
    pub const ALL: [Format; 7] = [
        Format::Pts300w,
        Format::Pts,
        Format::YoutubeCsv,
        Format::Kaggle,
        Format::HelenDir,
        Format::Imglab,
        Format::Cache,
    ];
    /// The CLI name: `300w`, `pts`, `youtube`, `kaggle`, `helen`, `imglab`, `cache`.
    pub fn name(&self) -> &'static str {
        match self {
            Format::Pts300w => "300w",
            Format::Pts => "pts",
            Format::YoutubeCsv => "youtube",
            Format::Kaggle => "kaggle",
            Format::HelenDir => "helen",
            Format::Imglab => "imglab",
            Format::Cache => "cache",
        }
    }
    /// Inverse of [`Format::name`] (case-insensitive).
    pub fn from_name(s: &str) -> Option<Format> {
        let s = s.to_ascii_lowercase();
        Format::ALL.into_iter().find(|f| f.name() == s)
    }

    /// Guess the format of an existing path: folders by their content (`.pts` → 300-W, `.txt`
    /// → HELEN), files by extension (`.zip` → Kaggle, `.xml` → imglab, `.fmc` → cache, `.pts`)
    /// and `.csv` by its header (`…_x` columns or `Image` → Kaggle, else YouTube).
    pub fn detect(path: &Path) -> Result<Format> {
        if path.is_dir() {
            let rd = std::fs::read_dir(path).map_err(|e| FormatError::io(path, e))?;
            let (mut pts, mut txt) = (0, 0);
            for e in rd.flatten() {
                match ext(&e.path()).as_str() {
                    "pts" => pts += 1,
                    "txt" => txt += 1,
                    _ => {}
                }
            }
            return if pts > 0 {
                Ok(Format::Pts300w)
            } else if txt > 0 {
                Ok(Format::HelenDir)
            } else {
                Err(FormatError::invalid(
                    path,
                    "folder holds no .pts or HELEN .txt files",
                ))
            };
        }
        match ext(path).as_str() {
            "zip" => Ok(Format::Kaggle),
            "xml" => Ok(Format::Imglab),
            "fmc" => Ok(Format::Cache),
            "pts" => Ok(Format::Pts),
            "txt" => Ok(Format::HelenDir),
            "csv" => {
                use std::io::BufRead;
                let f = std::fs::File::open(path).map_err(|e| FormatError::io(path, e))?;
                let mut first = String::new();
                std::io::BufReader::new(f)
                    .take(1 << 16)
                    .read_line(&mut first)
                    .map_err(|e| FormatError::io(path, e))?;
                let cols: Vec<&str> = first.trim_end().split(',').collect();
                if cols.iter().any(|c| *c == "Image" || c.ends_with("_x")) {
                    Ok(Format::Kaggle)
                } else {
                    Ok(Format::YoutubeCsv)
                }
            }
            e => Err(FormatError::invalid(
                path,
                format!(
                    "cannot tell the format from extension `{}`",
                    truncate(e, 20)
                ),
            )),
        }
    }

    /// The format an output path asks for (it need not exist): `.csv` → YouTube, `.zip` →
    /// Kaggle, `.xml` → imglab, `.fmc` → cache, `.pts` → one file, no extension → 300-W folder.
    pub fn for_output(path: &Path) -> Option<Format> {
        match ext(path).as_str() {
            "csv" => Some(Format::YoutubeCsv),
            "zip" => Some(Format::Kaggle),
            "xml" => Some(Format::Imglab),
            "fmc" => Some(Format::Cache),
            "pts" => Some(Format::Pts),
            "" => Some(Format::Pts300w),
            _ => None,
        }
    }
}

use std::io::Read;

/// The point count every sample shares (0 for none); writers of one-row-per-face formats call
/// this first. Errors name `path` and the first sample that differs.
pub(crate) fn common_point_count(samples: &[Sample], path: &Path) -> Result<usize> {
    let n = samples.first().map(|s| s.points.len()).unwrap_or(0);
    match samples.iter().find(|s| s.points.len() != n) {
        Some(smp) => Err(FormatError::invalid(
            path,
            format!(
                "sample {} has {} points, the first has {n}",
                smp.name,
                smp.points.len()
            ),
        )),
        None => Ok(n),
    }
}

fn ext(p: &Path) -> String {
    p.extension()
        .map(|e| e.to_string_lossy().to_ascii_lowercase())
        .unwrap_or_default()
}

/// Load a data set in the given format.
pub fn load(path: &Path, format: Format) -> Result<Vec<Sample>> {
    match format {
        Format::Pts300w => pts::read_300w_dir(path),
        Format::Pts => Ok(vec![pts::sample_beside(path, pts::read_pts(path)?)?]),
        Format::YoutubeCsv => youtube::read_csv(path, None),
        Format::Kaggle => kaggle::read(path),
        Format::HelenDir if path.is_file() => Ok(vec![helen::read_txt(path, None)?]),
        Format::HelenDir => helen::read_dir(path, None),
        Format::Imglab => imglab::read_xml(path),
        Format::Cache => Ok(cache::FaceCache::load(path)?.to_samples()),
    }
}

/// Load a data set, detecting its format ([`Format::detect`]).
pub fn load_any(path: &Path) -> Result<Vec<Sample>> {
    load(path, Format::detect(path)?)
}

/// The person of a YouTube-Faces frame: the file name without extension and without its
/// trailing `_NN` frame number (`Luis_Fonsi_21.jpg` → `Luis_Fonsi`). Data sets of named people
/// in this layout only; photo collections use [`photo_identity_from_name`].
pub fn identity_from_name(name: &str) -> String {
    let stem = file_stem(name);
    match trailing_number(&stem) {
        Some(i) => stem[..i].to_string(),
        None => stem,
    }
}

/// The photo of a 300-W-style face (and of dlib's imglab lists): each photo is its own
/// identity, and a trailing `_N` of one or two digits is the face's index in the photo
/// (HELEN and AFW `100040721_2.jpg` → `100040721`, iBUG `image_003_1.jpg` → `image_003`),
/// while a longer number is the photo's own (LFPW `image_0001.jpg` → `image_0001`: stripping
/// it had put all of LFPW in one identity `image`).
pub fn photo_identity_from_name(name: &str) -> String {
    let stem = file_stem(name);
    match trailing_number(&stem) {
        Some(i) if stem.len() - i - 1 <= 2 => stem[..i].to_string(),
        _ => stem,
    }
}

/// The file name of `name` without folders and extension.
fn file_stem(name: &str) -> String {
    let base = Path::new(name)
        .file_name()
        .map(|f| f.to_string_lossy().into_owned())
        .unwrap_or_default();
    match base.rfind('.') {
        Some(i) if i > 0 => base[..i].to_string(),
        _ => base,
    }
}

/// Byte index of the `_` before a trailing run of digits (`abc_12` → 3), if the stem has one
/// with something before it.
fn trailing_number(stem: &str) -> Option<usize> {
    match stem.rfind('_') {
        Some(i)
            if i > 0 && i + 1 < stem.len() && stem[i + 1..].bytes().all(|b| b.is_ascii_digit()) =>
        {
            Some(i)
        }
        _ => None,
    }
}

fn splitmix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

fn fnv1a(s: &str) -> u64 {
    s.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ b as u64).wrapping_mul(0x0100_0000_01b3)
    })
}

/// Split sample indices into (train, validation) so that no identity is in both. Identities
/// are ordered by a hash of (identity, seed) and moved to validation until it holds at least
/// `val_fraction` of the samples. Deterministic for a given seed on every platform; both lists
/// are sorted.
pub fn split_by_identity(
    samples: &[Sample],
    val_fraction: f32,
    seed: u64,
) -> (Vec<usize>, Vec<usize>) {
    let all: Vec<usize> = (0..samples.len()).collect();
    split_subset_by_identity(samples, &all, val_fraction, seed)
}

/// [`split_by_identity`] of the samples at `subset` (indices into `samples`); returns indices
/// into `samples`, both lists sorted.
pub fn split_subset_by_identity(
    samples: &[Sample],
    subset: &[usize],
    val_fraction: f32,
    seed: u64,
) -> (Vec<usize>, Vec<usize>) {
    let mut ids: std::collections::BTreeMap<&str, Vec<usize>> = Default::default();
    for &i in subset {
        ids.entry(samples[i].identity.as_str()).or_default().push(i);
    }
    let mut order: Vec<(&str, Vec<usize>)> = ids.into_iter().collect();
    order.sort_by_key(|(id, _)| (splitmix(fnv1a(id) ^ splitmix(seed)), *id));
    let target = (val_fraction.clamp(0.0, 1.0) as f64 * subset.len() as f64).round() as usize;
    let (mut train, mut val) = (Vec::new(), Vec::new());
    for (_, idx) in order {
        if val.len() < target {
            val.extend(idx);
        } else {
            train.extend(idx);
        }
    }
    train.sort_unstable();
    val.sort_unstable();
    (train, val)
}

/// Fold `k` of `n` for cross-validation by identity (written `K/N`, K counted from 1, as in
/// "fold 2/5").
///
/// Each identity goes to one fold chosen by a hash of (identity, seed) alone, so the fold of a
/// face does not depend on which other data sets are loaded beside it: a model trained with
/// fold 2/5 of YouTube + HELEN held out, and an evaluation of fold 2/5 of HELEN alone, see the
/// same HELEN faces. Folds are balanced in expectation (by identity count), not exactly.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fold {
    k: usize,
    n: usize,
}

impl Fold {
    /// Fold `k` of `n`; `None` unless 1 ≤ k ≤ n and n ≥ 2.
    pub fn new(k: usize, n: usize) -> Option<Fold> {
        (n >= 2 && (1..=n).contains(&k)).then_some(Fold { k, n })
    }
    /// This fold, 1 ≤ k ≤ n.
    pub fn k(&self) -> usize {
        self.k
    }
    /// Number of folds, ≥ 2.
    pub fn n(&self) -> usize {
        self.n
    }
    /// Whether faces of `identity` are in this fold (held out of training).
    pub fn holds(&self, identity: &str, seed: u64) -> bool {
        let h = splitmix(fnv1a(identity) ^ splitmix(seed ^ 0x666f_6c64));
        (h % self.n as u64) as usize == self.k - 1
    }
    /// (rest, fold): indices of the faces outside and inside this fold, both sorted.
    pub fn split(&self, samples: &[Sample], seed: u64) -> (Vec<usize>, Vec<usize>) {
        (0..samples.len()).partition(|&i| !self.holds(&samples[i].identity, seed))
    }
}

impl std::fmt::Display for Fold {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.k, self.n)
    }
}

impl std::str::FromStr for Fold {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Fold, String> {
        let err =
            || format!("expected a fold as K/N with 1 ≤ K ≤ N and N ≥ 2 (e.g. 2/5), got `{s}`");
        let (k, n) = s.split_once('/').ok_or_else(err)?;
        let k: usize = k.trim().parse().map_err(|_| err())?;
        let n: usize = n.trim().parse().map_err(|_| err())?;
        Fold::new(k, n).ok_or_else(err)
    }
}

/// The faces of one training run, as indices into its data list (each sorted): `train` and
/// `val` split the faces outside the held-out fold by identity; `test` is that fold (empty
/// without one).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunSplit {
    /// Faces to train on.
    pub train: Vec<usize>,
    /// Faces to validate on (identities not in `train`).
    pub val: Vec<usize>,
    /// The held-out fold's faces.
    pub test: Vec<usize>,
}

impl RunSplit {
    /// How `facemark train` splits `samples` — and how `eval`/`vs_dlib` re-create it: the
    /// fold (if any) first, then [`split_subset_by_identity`] of the rest.
    pub fn new(samples: &[Sample], fold: Option<Fold>, val_fraction: f32, seed: u64) -> RunSplit {
        let (rest, test) = match fold {
            Some(f) => f.split(samples, seed),
            None => ((0..samples.len()).collect(), Vec::new()),
        };
        let (train, val) = split_subset_by_identity(samples, &rest, val_fraction, seed);
        RunSplit { train, val, test }
    }
}

/// Which faces of a data list a command works on, the way `facemark train` split them
/// ([`RunSplit`]): `all`, `train`, `val`, or `test` (the held-out cross-validation fold).
///
/// Requires: the same data list (in the same order), `val_fraction`, `seed` and fold as the
/// training run. Ensures: the indices `facemark train` used for that part, sorted, with each
/// distinct face once: a data set listed several times (a weight in training) is scored once.
pub fn select_split(
    samples: &[Sample],
    split: &str,
    fold: Option<Fold>,
    val_fraction: f32,
    seed: u64,
) -> std::result::Result<Vec<usize>, String> {
    match (split, fold) {
        ("all", None) => return Ok(first_of_each_face(samples, (0..samples.len()).collect())),
        ("all", Some(f)) => {
            return Err(format!(
                "fold {f}: choose its held-out faces (split test) or the split of the others (val, train)"
            ))
        }
        ("test", None) => {
            return Err(
                "split test needs a fold K/N (the fold the model was trained without)".into(),
            )
        }
        ("test" | "val" | "train", _) => {}
        (s, _) => return Err(format!("split: expected all, val, train or test, got `{s}`")),
    }
    let run = RunSplit::new(samples, fold, val_fraction, seed);
    Ok(first_of_each_face(
        samples,
        match split {
            "test" => run.test,
            "val" => run.val,
            _ => run.train,
        },
    ))
}

/// `idx` without the later copies of a face (same image, name, identity and points, bit for
/// bit; what listing one data set twice gives). Keeps the order.
fn first_of_each_face(samples: &[Sample], idx: Vec<usize>) -> Vec<usize> {
    let key = |s: &Sample| -> (String, String, Vec<u32>) {
        let bits = s
            .points
            .iter()
            .flat_map(|p| [p[0].to_bits(), p[1].to_bits()]);
        (s.name.clone(), s.identity.clone(), bits.collect())
    };
    let mut seen: std::collections::HashMap<_, Vec<usize>> = std::collections::HashMap::new();
    idx.into_iter()
        .filter(|&i| {
            let kept = seen.entry(key(&samples[i])).or_default();
            if kept.iter().any(|&j| samples[j].image == samples[i].image) {
                return false;
            }
            kept.push(i);
            true
        })
        .collect()
}

/// File stems for writing samples, unique within the set (`a.jpg#1` → `a_1`, clashes get
/// `_k` appended).
fn unique_stems(samples: &[Sample]) -> Vec<String> {
    let mut seen = std::collections::HashSet::new();
    samples
        .iter()
        .map(|s| {
            let base = Path::new(&s.name)
                .file_stem()
                .map(|f| f.to_string_lossy().into_owned())
                .unwrap_or_default();
            let mut stem: String = base
                .chars()
                .map(|c| {
                    if c.is_alphanumeric() || "-_.".contains(c) {
                        c
                    } else {
                        '_'
                    }
                })
                .collect();
            if stem.is_empty() {
                stem = "sample".into();
            }
            let mut cand = stem.clone();
            let mut k = 1;
            while !seen.insert(cand.clone()) {
                cand = format!("{stem}_{k}");
                k += 1;
            }
            cand
        })
        .collect()
}

/// Put a sample's image into `dir` as `stem.EXT` (file images copied byte for byte, in-memory
/// pixels saved as PNG); returns the file name. Nothing is copied when it is already there.
pub fn write_image(sample: &Sample, dir: &Path, stem: &str) -> Result<String> {
    match &sample.image {
        ImageSource::File(src) => {
            let e = src
                .extension()
                .map(|e| e.to_string_lossy().into_owned())
                .unwrap_or_else(|| "jpg".into());
            let name = format!("{stem}.{e}");
            let dst = dir.join(&name);
            let same = match (std::fs::canonicalize(src), std::fs::canonicalize(&dst)) {
                (Ok(a), Ok(b)) => a == b,
                _ => false,
            };
            if !same {
                let bytes = std::fs::read(src).map_err(|e| FormatError::io(src, e))?;
                facemark_core::io::write_atomic(&dst, &bytes)
                    .map_err(|e| FormatError::io(&dst, e))?;
            }
            Ok(name)
        }
        ImageSource::Gray { .. } => {
            let img = crate::load_gray(&sample.image)?;
            let name = format!("{stem}.png");
            let dst = dir.join(&name);
            facemark_core::io::save_image_atomic(&image::DynamicImage::ImageLuma8(img), &dst)
                .map_err(|e| FormatError::Image {
                    path: dst.clone(),
                    error: e,
                })?;
            Ok(name)
        }
    }
}

fn mkdir(dir: &Path) -> Result<()> {
    std::fs::create_dir_all(dir).map_err(|e| FormatError::io(dir, e))
}

/// Write `samples` in `format` at `path`, images included where the format refers to files:
/// - `Pts300w`: folder `path/` with `STEM.pts` (iBUG header) + the image;
/// - `Pts`: `path` (one sample) + its image beside it;
/// - `YoutubeCsv`: the CSV, images into the sibling folder (`X_frames_keypoints.csv` → `X/`,
///   otherwise `STEM/`);
/// - `Kaggle`: `training.csv` (or a `.zip` holding `training.csv`); images must be square gray;
/// - `HelenDir`: folder `path/` with `1.txt, 2.txt, …` + images;
/// - `Imglab`: the XML, in-memory images written as PNG into `STEM_images/`;
/// - `Cache`: not here (needs a crop size): use [`cache::FaceCache::build`].
pub fn save_as(path: &Path, format: Format, samples: &[Sample]) -> Result<()> {
    if samples.is_empty() {
        return Err(FormatError::invalid(path, "no samples to write"));
    }
    let stems = unique_stems(samples);
    match format {
        Format::Pts300w => {
            mkdir(path)?;
            for (s, stem) in samples.iter().zip(&stems) {
                write_image(s, path, stem)?;
                pts::write_pts(&path.join(format!("{stem}.pts")), &s.points, true)?;
            }
            Ok(())
        }
        Format::Pts => {
            if samples.len() != 1 {
                return Err(FormatError::invalid(
                    path,
                    format!(
                        "a .pts file holds one sample, not {} (give a folder)",
                        samples.len()
                    ),
                ));
            }
            let (dir, stem) = crate::image_io::dir_and_stem(path);
            write_image(&samples[0], dir, &stem)?;
            pts::write_pts(path, &samples[0].points, true)
        }
        Format::YoutubeCsv => {
            let (dir, stem) = crate::image_io::dir_and_stem(path);
            let img_dir: PathBuf =
                dir.join(stem.strip_suffix("_frames_keypoints").unwrap_or(&stem));
            mkdir(&img_dir)?;
            let mut out = Vec::with_capacity(samples.len());
            for (s, st) in samples.iter().zip(&stems) {
                let name = write_image(s, &img_dir, st)?;
                let mut c = s.clone();
                c.name = name;
                out.push(c);
            }
            youtube::write_csv(path, &out)
        }
        Format::Kaggle => {
            if ext(path) == "zip" {
                let text = kaggle::format_training_csv(samples, path)?;
                let mut buf = std::io::Cursor::new(Vec::new());
                let zerr =
                    |e: zip::result::ZipError| FormatError::invalid(path, format!("zip: {e}"));
                {
                    let mut z = zip::ZipWriter::new(&mut buf);
                    let opts = zip::write::SimpleFileOptions::default()
                        .compression_method(zip::CompressionMethod::Deflated);
                    z.start_file("training.csv", opts).map_err(zerr)?;
                    std::io::Write::write_all(&mut z, text.as_bytes())
                        .map_err(|e| FormatError::io(path, e))?;
                    z.finish().map_err(zerr)?;
                }
                facemark_core::io::write_atomic(path, buf.get_ref())
                    .map_err(|e| FormatError::io(path, e))
            } else {
                kaggle::write_training_csv(path, samples)
            }
        }
        Format::HelenDir => {
            mkdir(path)?;
            for (k, (s, stem)) in samples.iter().zip(&stems).enumerate() {
                write_image(s, path, stem)?;
                helen::write_txt(&path.join(format!("{}.txt", k + 1)), stem, &s.points)?;
            }
            Ok(())
        }
        Format::Imglab => {
            let (dir, stem) = crate::image_io::dir_and_stem(path);
            let img_dir = dir.join(format!("{stem}_images"));
            let mut out = Vec::with_capacity(samples.len());
            for (s, st) in samples.iter().zip(&stems) {
                let mut c = s.clone();
                if matches!(s.image, ImageSource::Gray { .. }) {
                    mkdir(&img_dir)?;
                    let name = write_image(s, &img_dir, st)?;
                    c.image = ImageSource::File(
                        std::fs::canonicalize(&img_dir)
                            .unwrap_or(img_dir.clone())
                            .join(name),
                    );
                } else if let ImageSource::File(p) = &s.image {
                    c.image = ImageSource::File(std::fs::canonicalize(p).unwrap_or(p.clone()));
                }
                out.push(c);
            }
            imglab::write_xml(path, &out, false)
        }
        Format::Cache => Err(FormatError::invalid(
            path,
            "a cache needs a crop size: use FaceCache::build (CLI: --cache SIZE)",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identities() {
        assert_eq!(identity_from_name("Luis_Fonsi_21.jpg"), "Luis_Fonsi");
        assert_eq!(identity_from_name("dir/100040721_2.jpg"), "100040721");
        assert_eq!(identity_from_name("plain.jpg"), "plain");
        assert_eq!(identity_from_name("_5"), "_5");
        assert_eq!(identity_from_name("a_b"), "a_b");
    }

    #[test]
    fn photo_identities_of_the_three_300w_naming_schemes() {
        // HELEN / AFW: photo number, face index
        assert_eq!(
            photo_identity_from_name("helen/100040721_2.jpg"),
            "100040721"
        );
        assert_eq!(photo_identity_from_name("100040721_1.pts"), "100040721");
        // LFPW: every file its own photo, not one identity `image`
        assert_eq!(
            photo_identity_from_name("lfpw/image_0001.jpg"),
            "image_0001"
        );
        assert_ne!(
            photo_identity_from_name("image_0001.jpg"),
            photo_identity_from_name("image_0002.jpg")
        );
        // iBUG: photo `image_003`, face 1
        assert_eq!(photo_identity_from_name("image_003_1.jpg"), "image_003");
        assert_eq!(photo_identity_from_name("plain.jpg"), "plain");
        assert_eq!(photo_identity_from_name("party_2.jpg"), "party");
        // the YouTube rule is unchanged: a person's frames share the name
        assert_eq!(identity_from_name("Luis_Fonsi_21.jpg"), "Luis_Fonsi");
    }

    fn samples() -> Vec<Sample> {
        (0..100)
            .map(|i| {
                let mut s = Sample::new(
                    ImageSource::File("x".into()),
                    vec![[0.0, 0.0]],
                    format!("p{}_{i}.jpg", i % 17),
                );
                s.identity = identity_from_name(&s.name);
                s
            })
            .collect()
    }

    #[test]
    fn split_is_identity_disjoint_and_deterministic() {
        let s = samples();
        let (t, v) = split_by_identity(&s, 0.2, 7);
        assert_eq!(t.len() + v.len(), 100);
        assert!(v.len() >= 20 && v.len() < 30, "{}", v.len());
        let vid: std::collections::HashSet<_> = v.iter().map(|&i| &s[i].identity).collect();
        assert!(t.iter().all(|&i| !vid.contains(&s[i].identity)));
        assert_eq!(split_by_identity(&s, 0.2, 7), (t.clone(), v.clone()));
        assert_ne!(split_by_identity(&s, 0.2, 8).1, v, "seed changes the split");
        assert!(split_by_identity(&s, 0.0, 1).1.is_empty());
    }

    #[test]
    fn folds_partition_by_identity_whatever_else_is_loaded() {
        let s = samples();
        let folds: Vec<Vec<usize>> = (1..=5).map(|k| Fold { k, n: 5 }.split(&s, 3).1).collect();
        let mut all: Vec<usize> = folds.concat();
        all.sort_unstable();
        assert_eq!(
            all,
            (0..100).collect::<Vec<_>>(),
            "each face in exactly one fold"
        );
        assert!(folds.iter().filter(|f| !f.is_empty()).count() >= 3);
        for f in &folds {
            let ids: std::collections::HashSet<_> = f.iter().map(|&i| &s[i].identity).collect();
            assert!((0..100).all(|i| f.contains(&i) || !ids.contains(&s[i].identity)));
        }
        // the fold of a face depends only on its identity: a subset sees the same assignment
        let sub: Vec<Sample> = s[..40].to_vec();
        let f2 = Fold { k: 2, n: 5 };
        let in_sub = f2.split(&sub, 3).1;
        let in_all: Vec<usize> = f2.split(&s, 3).1.into_iter().filter(|&i| i < 40).collect();
        assert_eq!(in_sub, in_all);
        // the validation split of the rest never touches the fold
        let (rest, test) = f2.split(&s, 3);
        let (t, v) = split_subset_by_identity(&s, &rest, 0.2, 3);
        assert_eq!(t.len() + v.len(), rest.len());
        assert!(v.iter().chain(&t).all(|i| !test.contains(i)));
    }

    #[test]
    fn selections() {
        let s = samples();
        let f = Some(Fold { k: 1, n: 3 });
        let sel = |split, fold| select_split(&s, split, fold, 0.2, 5);
        assert_eq!(sel("all", None).unwrap().len(), 100);
        let (t, v) = split_by_identity(&s, 0.2, 5);
        assert_eq!(
            (sel("train", None).unwrap(), sel("val", None).unwrap()),
            (t, v)
        );
        let (test, val, train) = (
            sel("test", f).unwrap(),
            sel("val", f).unwrap(),
            sel("train", f).unwrap(),
        );
        assert_eq!(test.len() + val.len() + train.len(), 100);
        assert!(val.iter().all(|i| !test.contains(i) && !train.contains(i)));
        assert!(sel("all", f).unwrap_err().contains("test"));
        assert!(sel("test", None).unwrap_err().contains("K/N"));
        assert!(sel("dev", None).unwrap_err().contains("`dev`"));
    }

    #[test]
    fn a_data_set_listed_twice_is_selected_once() {
        let s = samples();
        let twice: Vec<Sample> = s.iter().chain(&s).cloned().collect();
        for split in ["all", "train", "val"] {
            let idx = select_split(&twice, split, None, 0.2, 5).unwrap();
            let names: std::collections::HashSet<_> = idx.iter().map(|&i| &twice[i].name).collect();
            assert_eq!(names.len(), idx.len(), "{split}: a face twice");
        }
        assert_eq!(
            select_split(&twice, "all", None, 0.2, 5).unwrap(),
            (0..100).collect::<Vec<_>>()
        );
        // the same name on another image is another face
        let mut other = s[0].clone();
        other.image = ImageSource::File("elsewhere/a.png".into());
        let two = vec![s[0].clone(), other];
        assert_eq!(select_split(&two, "all", None, 0.2, 5).unwrap(), vec![0, 1]);
    }

    #[test]
    fn fold_syntax() {
        assert_eq!("2/5".parse::<Fold>(), Ok(Fold { k: 2, n: 5 }));
        assert_eq!(Fold { k: 2, n: 5 }.to_string(), "2/5");
        for bad in ["0/5", "6/5", "1/1", "2", "a/b", "2/5/1", ""] {
            let e = bad.parse::<Fold>().unwrap_err();
            assert!(e.contains("K/N"), "{bad}: {e}");
        }
    }

    #[test]
    fn detect_formats() {
        let d = tempfile::tempdir().unwrap();
        let k = d.path().join("t.csv");
        std::fs::write(&k, "left_eye_center_x,left_eye_center_y,Image\n").unwrap();
        assert_eq!(Format::detect(&k).unwrap(), Format::Kaggle);
        let y = d.path().join("y.csv");
        std::fs::write(&y, ",0,1\na.jpg,1,2\n").unwrap();
        assert_eq!(Format::detect(&y).unwrap(), Format::YoutubeCsv);
        assert!(Format::detect(&d.path().join("a.weird")).is_err());
        assert!(Format::detect(d.path()).is_err());
        assert_eq!(Format::for_output(Path::new("o.zip")), Some(Format::Kaggle));
        for f in Format::ALL {
            assert_eq!(Format::from_name(f.name()), Some(f));
        }
    }
}
