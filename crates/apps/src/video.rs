//! Video through FFmpeg's command-line programs (`ffprobe`, `ffmpeg`), streamed frame by frame:
//! a decoder process writes raw `rgb24` frames to a pipe, facemark processes each frame, an
//! encoder process reads them from another pipe; the whole video is never in memory.
//!
//! The output keeps the input's size and frame rate (from `ffprobe`), and its audio streams are
//! copied (`-map 1:a? -c:a copy`). It is written to a temporary file beside the destination and
//! renamed when complete, so a failed run leaves no half-written video. Codec by extension:
//! `.mp4/.m4v/.mov/.mkv` H.264 (libx264, CRF 18), `.webm` VP9 + Opus; others FFmpeg's default.

use crate::error::VideoError;
use crate::filters::Filter;
use crate::stats::{FlickerMeter, FlickerReport};
use crate::track::{TrackedFace, Tracker, TrackerCounters, TrackerOptions};
use facemark_core::pose::{csv_fields, has_model, head_pose, HeadPose};
use facemark_core::{FaceDetector, Landmarker};
use image::RgbImage;
use serde::Serialize;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{sync_channel, Receiver};
use std::thread::JoinHandle;
use std::time::Instant;

/// What `ffprobe` says about a video's first video stream.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct VideoInfo {
    /// Frame width in pixels, as displayed: a phone video stored sideways with a display
    /// rotation of ±90° has its stored width and height swapped here.
    pub width: u32,
    /// Frame height in pixels, as displayed.
    pub height: u32,
    /// The display rotation the container asks for, in degrees, 0, 90, 180 or 270 (ffprobe's
    /// `rotation` side data or the older `rotate` tag, modulo 360). [`FrameReader`] applies it
    /// (FFmpeg's autorotation), so its frames — and the points found on them — are upright, as
    /// a player shows them; the filtered output is written upright, with no rotation tag.
    pub rotation: u32,
    /// Frame rate as a fraction (`r_frame_rate`, e.g. 30000/1001).
    pub fps_num: u32,
    /// The frame rate's denominator (≥ 1 from a valid probe).
    pub fps_den: u32,
    /// Frame count when the container states it.
    pub frames: Option<u64>,
    /// The container has an audio stream (copied unchanged into filtered output).
    pub has_audio: bool,
    /// Seconds from the container's start to the first video frame (audio may start earlier);
    /// the encoder delays the video by this much so that the copied audio stays in sync.
    pub video_delay: f64,
}

impl VideoInfo {
    /// Frames per second, `fps_num / fps_den` (a zero denominator counts as 1).
    pub fn fps(&self) -> f64 {
        self.fps_num as f64 / self.fps_den.max(1) as f64
    }
}

fn spawn(cmd: &mut Command, program: &str) -> Result<Child, VideoError> {
    cmd.spawn().map_err(|source| {
        if source.kind() == std::io::ErrorKind::NotFound {
            VideoError::FfmpegMissing {
                program: program.to_string(),
            }
        } else {
            VideoError::Spawn {
                program: program.to_string(),
                source,
            }
        }
    })
}

/// Is `ffmpeg` (and `ffprobe`) on PATH?
pub fn ffmpeg_available() -> bool {
    ["ffmpeg", "ffprobe"].iter().all(|p| {
        Command::new(p)
            .arg("-version")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    })
}

fn parse_rate(s: &str) -> Option<(u32, u32)> {
    let (n, d) = s.split_once('/').unwrap_or((s, "1"));
    let (n, d) = (n.trim().parse::<u32>().ok()?, d.trim().parse::<u32>().ok()?);
    (n > 0 && d > 0).then_some((n, d))
}

/// The display rotation of an ffprobe stream object in degrees, `0..360` in steps of 90: the
/// `rotation` of its display-matrix side data (FFmpeg 5 and later) or its `rotate` tag (older
/// files and FFmpeg); 0 when neither is there or the angle is not a multiple of 90.
fn display_rotation(stream: &serde_json::Value) -> u32 {
    let side = stream["side_data_list"].as_array().and_then(|list| {
        list.iter().find_map(|d| {
            d["rotation"]
                .as_f64()
                .or_else(|| d["rotation"].as_str()?.parse().ok())
        })
    });
    let tag = || {
        stream["tags"]["rotate"]
            .as_str()?
            .trim()
            .parse::<f64>()
            .ok()
    };
    match side.or_else(tag) {
        Some(deg) if deg.is_finite() && (deg / 90.0).fract() == 0.0 => {
            ((deg / 90.0) as i64).rem_euclid(4) as u32 * 90
        }
        _ => 0,
    }
}

/// Probe `path` with `ffprobe`.
pub fn probe(path: &Path) -> Result<VideoInfo, VideoError> {
    let out = spawn(
        Command::new("ffprobe")
            .args(["-v", "error", "-show_entries"])
            .arg("stream=codec_type,width,height,r_frame_rate,avg_frame_rate,nb_frames,start_time:stream_tags=rotate:stream_side_data=rotation:format=start_time")
            .args(["-of", "json"])
            .arg(path)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped()),
        "ffprobe",
    )?
    .wait_with_output()
    .map_err(|source| VideoError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let bad = |message: String| VideoError::Probe {
        path: path.to_path_buf(),
        message,
    };
    if !out.status.success() {
        return Err(bad(String::from_utf8_lossy(&out.stderr).trim().to_string()));
    }
    let v: serde_json::Value = serde_json::from_slice(&out.stdout)
        .map_err(|e| bad(format!("unreadable ffprobe output: {e}")))?;
    let streams = v["streams"].as_array().cloned().unwrap_or_default();
    let video = streams
        .iter()
        .find(|s| s["codec_type"] == "video")
        .ok_or_else(|| bad("no video stream".into()))?;
    let width = video["width"].as_u64().unwrap_or(0) as u32;
    let height = video["height"].as_u64().unwrap_or(0) as u32;
    if width == 0 || height == 0 {
        return Err(bad("video stream without a size".into()));
    }
    let rotation = display_rotation(video);
    let (width, height) = if rotation % 180 == 90 {
        (height, width)
    } else {
        (width, height)
    };
    let rate = ["r_frame_rate", "avg_frame_rate"]
        .iter()
        .find_map(|k| video[*k].as_str().and_then(parse_rate))
        .ok_or_else(|| bad("video stream without a frame rate".into()))?;
    let frames = video["nb_frames"]
        .as_str()
        .and_then(|s| s.parse::<u64>().ok())
        .filter(|n| *n > 0);
    Ok(VideoInfo {
        width,
        height,
        rotation,
        fps_num: rate.0,
        fps_den: rate.1,
        frames,
        has_audio: streams.iter().any(|s| s["codec_type"] == "audio"),
        video_delay: {
            let t = |v: &serde_json::Value| v.as_str().and_then(|s| s.parse::<f64>().ok());
            match (t(&video["start_time"]), t(&v["format"]["start_time"])) {
                (Some(vs), Some(fs)) if vs - fs > 0.0 => vs - fs,
                _ => 0.0,
            }
        },
    })
}

/// Collects a child's stderr in a thread (so a chatty child never blocks on a full pipe).
fn drain(r: Option<impl Read + Send + 'static>) -> Option<JoinHandle<String>> {
    r.map(|mut r| {
        std::thread::spawn(move || {
            let mut s = String::new();
            let _ = r.read_to_string(&mut s);
            s
        })
    })
}

/// Wait for an FFmpeg child process; a failed exit becomes [`VideoError::Ffmpeg`] with the end
/// of its stderr. `path` names the file in I/O errors.
fn wait_ok(
    child: &mut std::process::Child,
    path: &Path,
    program: &str,
    stderr: &mut Option<JoinHandle<String>>,
) -> Result<(), VideoError> {
    let status = child.wait().map_err(|source| VideoError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    if status.success() {
        Ok(())
    } else {
        Err(VideoError::Ffmpeg {
            program: program.into(),
            status: status.to_string(),
            stderr: stderr_text(stderr.take()),
        })
    }
}

fn stderr_text(h: Option<JoinHandle<String>>) -> String {
    let s = h.and_then(|h| h.join().ok()).unwrap_or_default();
    let s = s.trim();
    // the last lines say what went wrong
    let lines: Vec<&str> = s.lines().collect();
    lines[lines.len().saturating_sub(6)..].join("\n")
}

/// Decoded frames of a video, in order, as RGB images (read ahead by a thread).
pub struct FrameReader {
    child: Child,
    rx: Receiver<std::io::Result<Vec<u8>>>,
    reader: Option<JoinHandle<()>>,
    stderr: Option<JoinHandle<String>>,
    /// The probed description of the video being decoded.
    pub info: VideoInfo,
    path: PathBuf,
}

impl FrameReader {
    /// Start decoding `path` (probed first).
    pub fn open(path: &Path) -> Result<FrameReader, VideoError> {
        let info = probe(path)?;
        let mut child = spawn(
            Command::new("ffmpeg")
                // FFmpeg applies a display rotation itself (autorotate, its default): frames
                // come upright, at the displayed size `probe` reports
                .args(["-hide_banner", "-loglevel", "error", "-nostdin", "-i"])
                .arg(path)
                // every decoded frame once, none duplicated or dropped to fit a constant rate
                .args(["-map", "0:v:0", "-vsync", "passthrough"])
                .args(["-f", "rawvideo", "-pix_fmt", "rgb24", "-"])
                .stdin(Stdio::null())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped()),
            "ffmpeg",
        )?;
        let mut out = child.stdout.take().expect("piped");
        let stderr = drain(child.stderr.take());
        let size = info.width as usize * info.height as usize * 3;
        let (tx, rx) = sync_channel(4);
        let reader = std::thread::spawn(move || loop {
            let mut buf = vec![0u8; size];
            let mut filled = 0;
            while filled < size {
                match out.read(&mut buf[filled..]) {
                    Ok(0) => break,
                    Ok(n) => filled += n,
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                    Err(e) => {
                        let _ = tx.send(Err(e));
                        return;
                    }
                }
            }
            if filled == 0 {
                return; // end of stream
            }
            if filled < size {
                let _ = tx.send(Err(std::io::Error::new(
                    std::io::ErrorKind::UnexpectedEof,
                    format!("truncated frame: {filled} of {size} bytes"),
                )));
                return;
            }
            if tx.send(Ok(buf)).is_err() {
                return;
            }
        });
        Ok(FrameReader {
            child,
            rx,
            reader: Some(reader),
            stderr,
            info,
            path: path.to_path_buf(),
        })
    }

    /// The next frame, `None` at the end. Errors when the decoder fails.
    pub fn next_frame(&mut self) -> Result<Option<RgbImage>, VideoError> {
        match self.rx.recv() {
            Ok(Ok(buf)) => Ok(Some(
                RgbImage::from_raw(self.info.width, self.info.height, buf).expect("frame size"),
            )),
            Ok(Err(source)) => Err(VideoError::Io {
                path: self.path.clone(),
                source,
            }),
            Err(_) => {
                // reader finished: check the decoder's exit status
                if let Some(r) = self.reader.take() {
                    let _ = r.join();
                }
                wait_ok(
                    &mut self.child,
                    &self.path,
                    "ffmpeg (decoder)",
                    &mut self.stderr,
                )?;
                Ok(None)
            }
        }
    }
}

impl Drop for FrameReader {
    fn drop(&mut self) {
        if self.child.try_wait().ok().flatten().is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Encodes RGB frames into a video file (temporary file, renamed on [`FrameWriter::finish`]).
pub struct FrameWriter {
    child: Child,
    stdin: Option<ChildStdin>,
    stderr: Option<JoinHandle<String>>,
    tmp: PathBuf,
    dest: PathBuf,
    width: u32,
    height: u32,
    /// Frames written so far.
    pub frames: u64,
    done: bool,
}

impl FrameWriter {
    /// Start an encoder writing `dest` with `info`'s size and frame rate; audio streams are
    /// copied from `audio_from` when given.
    pub fn create(
        dest: &Path,
        info: &VideoInfo,
        audio_from: Option<&Path>,
    ) -> Result<FrameWriter, VideoError> {
        let ext = dest
            .extension()
            .map(|e| e.to_string_lossy().to_ascii_lowercase())
            .unwrap_or_default();
        if ext.is_empty() {
            return Err(VideoError::Other(format!(
                "{}: the output needs an extension that names a container (.mp4, .mkv, .webm, …)",
                dest.display()
            )));
        }
        let dir = match dest.parent() {
            Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
            _ => PathBuf::from("."),
        };
        let name = dest
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let tmp = dir.join(format!(".{name}.tmp{}.{ext}", std::process::id()));
        let mut cmd = Command::new("ffmpeg");
        cmd.args(["-hide_banner", "-loglevel", "error", "-y"])
            .args(["-f", "rawvideo", "-pix_fmt", "rgb24"])
            .args(["-s", &format!("{}x{}", info.width, info.height)])
            .args(["-framerate", &format!("{}/{}", info.fps_num, info.fps_den)]);
        if audio_from.is_some() && info.video_delay > 0.0005 {
            cmd.args(["-itsoffset", &format!("{:.6}", info.video_delay)]);
        }
        cmd.args(["-i", "pipe:0"]);
        if let Some(a) = audio_from {
            cmd.arg("-i").arg(a).args(["-map", "0:v:0", "-map", "1:a?"]);
        }
        // keep frames 1:1 (no duplicates to fill a delayed start)
        cmd.args(["-vsync", "passthrough"]);
        let even = info.width.is_multiple_of(2) && info.height.is_multiple_of(2);
        match ext.as_str() {
            "mp4" | "m4v" | "mov" | "mkv" => {
                cmd.args(["-c:v", "libx264", "-preset", "veryfast", "-crf", "18"])
                    .args(["-pix_fmt", if even { "yuv420p" } else { "yuv444p" }]);
                if ext != "mkv" {
                    cmd.args(["-movflags", "+faststart"]);
                }
                if audio_from.is_some() {
                    cmd.args(["-c:a", "copy"]);
                }
            }
            "webm" => {
                cmd.args(["-c:v", "libvpx-vp9", "-b:v", "0", "-crf", "32"]);
                if audio_from.is_some() {
                    cmd.args(["-c:a", "libopus"]);
                }
            }
            _ => {
                if audio_from.is_some() {
                    cmd.args(["-c:a", "copy"]);
                }
            }
        }
        cmd.arg(&tmp)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        let mut child = spawn(&mut cmd, "ffmpeg")?;
        let stdin = child.stdin.take();
        let stderr = drain(child.stderr.take());
        Ok(FrameWriter {
            child,
            stdin,
            stderr,
            tmp,
            dest: dest.to_path_buf(),
            width: info.width,
            height: info.height,
            frames: 0,
            done: false,
        })
    }

    fn failed(&mut self) -> VideoError {
        self.stdin = None;
        let status = self
            .child
            .wait()
            .map(|s| s.to_string())
            .unwrap_or_else(|e| e.to_string());
        VideoError::Ffmpeg {
            program: "ffmpeg (encoder)".into(),
            status,
            stderr: stderr_text(self.stderr.take()),
        }
    }

    /// Append one frame (must have the video's size).
    pub fn write(&mut self, frame: &RgbImage) -> Result<(), VideoError> {
        if frame.dimensions() != (self.width, self.height) {
            return Err(VideoError::Other(format!(
                "frame {}×{} does not match the video's {}×{}",
                frame.width(),
                frame.height(),
                self.width,
                self.height
            )));
        }
        let r = match self.stdin.as_mut() {
            Some(s) => s.write_all(frame.as_raw()),
            None => Err(std::io::Error::other("encoder closed")),
        };
        if r.is_err() {
            return Err(self.failed());
        }
        self.frames += 1;
        Ok(())
    }

    /// Close the stream, wait for the encoder and rename the file into place.
    pub fn finish(mut self) -> Result<PathBuf, VideoError> {
        self.stdin = None; // EOF for ffmpeg
        wait_ok(
            &mut self.child,
            &self.tmp,
            "ffmpeg (encoder)",
            &mut self.stderr,
        )?;
        std::fs::rename(&self.tmp, &self.dest).map_err(|source| VideoError::Io {
            path: self.dest.clone(),
            source,
        })?;
        self.done = true;
        Ok(self.dest.clone())
    }
}

impl Drop for FrameWriter {
    fn drop(&mut self) {
        if !self.done {
            self.stdin = None;
            let _ = self.child.kill();
            let _ = self.child.wait();
            let _ = std::fs::remove_file(&self.tmp);
        }
    }
}

/// Progress of a video run.
#[derive(Debug, Clone, Copy)]
pub struct Progress {
    /// Frames done.
    pub frame: u64,
    /// Frames in the video, when known.
    pub total: Option<u64>,
}

/// What a video run did and measured.
#[derive(Debug, Clone, Serialize)]
pub struct RunStats {
    /// The input video's description.
    pub info: VideoInfo,
    /// Frames processed and written.
    pub frames: u64,
    /// Wall-clock seconds of the whole run (decode, track, filter, encode).
    pub seconds: f64,
    /// `frames / seconds`.
    pub fps: f64,
    /// Jitter of the tracked landmarks, raw and smoothed ([`crate::stats`]).
    pub flicker: FlickerReport,
    /// The tracker's counters (detector and landmarker runs, tracks); not serialised.
    #[serde(skip)]
    pub counters: TrackerCounters,
}

/// Filter every face of every frame of `input` into `output` (same size, frame rate and audio).
/// Faces are tracked ([`Tracker`]) and smoothed per `options`. `progress` is called after each
/// frame.
#[allow(clippy::too_many_arguments)]
pub fn filter_video(
    input: &Path,
    output: &Path,
    filter: &Filter,
    detector: &dyn FaceDetector,
    landmarker: &dyn Landmarker,
    options: &TrackerOptions,
    max_frames: Option<u64>,
    progress: &mut dyn FnMut(Progress),
) -> Result<RunStats, VideoError> {
    let start = Instant::now();
    let mut reader = FrameReader::open(input)?;
    let info = reader.info.clone();
    let mut writer = FrameWriter::create(output, &info, info.has_audio.then_some(input))?;
    let mut tracker = Tracker::new(detector, landmarker, options.clone());
    let mut meter = FlickerMeter::new();
    let total = max_frames.map_or(info.frames, |m| Some(info.frames.map_or(m, |f| f.min(m))));
    let mut n = 0u64;
    while max_frames.is_none_or(|m| n < m) {
        let Some(mut frame) = reader.next_frame()? else {
            break;
        };
        let faces = track_frame(&mut tracker, &frame, n, info.fps());
        meter.add_frame(&faces);
        let pts: Vec<_> = faces.into_iter().map(|f| f.points).collect();
        filter
            .apply(&mut frame, &pts)
            .map_err(|source| VideoError::Filter { frame: n, source })?;
        writer.write(&frame)?;
        n += 1;
        progress(Progress { frame: n, total });
    }
    drop(reader);
    writer.finish()?;
    let seconds = start.elapsed().as_secs_f64();
    Ok(RunStats {
        info,
        frames: n,
        seconds,
        fps: n as f64 / seconds.max(1e-9),
        flicker: meter.report(),
        counters: tracker.counters,
    })
}

fn track_frame(tracker: &mut Tracker, frame: &RgbImage, n: u64, fps: f64) -> Vec<TrackedFace> {
    let gray = facemark_detect::rgb_to_gray(frame);
    tracker.update(&gray, n as f64 / fps.max(1e-9))
}

/// The landmarks of one frame.
#[derive(Debug, Clone, Serialize)]
pub struct FrameLandmarks {
    /// 0-based frame number.
    pub frame: u64,
    /// Seconds from the start (`frame / fps`).
    pub time: f64,
    /// The faces tracked in this frame, oldest track first.
    pub faces: Vec<FaceLandmarks>,
}

/// One face of a frame: the face of a photo's JSON (`landmark_box {x, y, w, h}`, `points`;
/// schema in `docs/face.schema.json`) with its track `id`, and the landmark box also as the
/// array `box` that earlier versions wrote.
#[derive(Debug, Clone, Serialize)]
pub struct FaceLandmarks {
    /// Track id, stable while the face is followed.
    pub id: u64,
    /// `[x, y, w, h]` landmark box, pixels (the same box as `landmark_box`; kept for readers
    /// of earlier versions).
    #[serde(rename = "box")]
    pub bbox: [f32; 4],
    /// The landmark box, pixels, as in a photo's JSON.
    pub landmark_box: facemark_core::BoxF,
    /// `[[x, y], …]` pixels (smoothed when smoothing is on).
    pub points: Vec<[f32; 2]>,
    /// Head pose fitted to `points` ([`facemark_core::pose`]); `None`, and left out of the
    /// JSON, for schemes without a 3-D model (all but iBUG 68) or when the fit fails.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pose: Option<HeadPose>,
}

/// Track faces through `input` and call `on_frame` with each frame's landmarks (frames without
/// faces included, with an empty list). For `facemark detect` on video.
pub fn landmarks_per_frame(
    input: &Path,
    detector: &dyn FaceDetector,
    landmarker: &dyn Landmarker,
    options: &TrackerOptions,
    on_frame: &mut dyn FnMut(&FrameLandmarks) -> Result<(), VideoError>,
    progress: &mut dyn FnMut(Progress),
) -> Result<RunStats, VideoError> {
    let start = Instant::now();
    let mut reader = FrameReader::open(input)?;
    let info = reader.info.clone();
    let mut tracker = Tracker::new(detector, landmarker, options.clone());
    let mut meter = FlickerMeter::new();
    let scheme = landmarker.scheme();
    let mut n = 0u64;
    while let Some(frame) = reader.next_frame()? {
        let time = n as f64 / info.fps().max(1e-9);
        let faces = track_frame(&mut tracker, &frame, n, info.fps());
        meter.add_frame(&faces);
        let fl = FrameLandmarks {
            frame: n,
            time,
            faces: faces
                .into_iter()
                .map(|f| FaceLandmarks {
                    id: f.id,
                    bbox: [f.bbox.x, f.bbox.y, f.bbox.w, f.bbox.h],
                    pose: head_pose(&f.points, scheme, frame.width(), frame.height()),
                    landmark_box: f.bbox,
                    points: f.points,
                })
                .collect(),
        };
        on_frame(&fl)?;
        n += 1;
        progress(Progress {
            frame: n,
            total: info.frames,
        });
    }
    let seconds = start.elapsed().as_secs_f64();
    Ok(RunStats {
        info,
        frames: n,
        seconds,
        fps: n as f64 / seconds.max(1e-9),
        flicker: meter.report(),
        counters: tracker.counters,
    })
}

/// Output format of [`write_landmarks`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LandmarkFormat {
    /// One JSON object per line per frame: `{"frame":0,"time":0.0,"faces":[{"id":1,
    /// "box":[x,y,w,h],"landmark_box":{"x":…,"y":…,"w":…,"h":…},"points":[[x,y],…],
    /// "pose":{"yaw":…,"pitch":…,"roll":…,…}}]}` (`pose` with 68-point models only).
    JsonLines,
    /// Header `frame,time,face_id,box_x,box_y,box_w,box_h,x0,y0,…` (then `yaw,pitch,roll`,
    /// degrees, with 68-point models; empty where the fit failed), one row per face per frame.
    Csv,
}

impl LandmarkFormat {
    /// From the output's extension: `.csv` → CSV, anything else JSON lines.
    pub fn from_path(p: &Path) -> LandmarkFormat {
        if p.extension().is_some_and(|e| e.eq_ignore_ascii_case("csv")) {
            LandmarkFormat::Csv
        } else {
            LandmarkFormat::JsonLines
        }
    }
}

/// [`landmarks_per_frame`] written to `output` (atomically: temporary file, then rename).
pub fn write_landmarks(
    input: &Path,
    output: &Path,
    format: LandmarkFormat,
    detector: &dyn FaceDetector,
    landmarker: &dyn Landmarker,
    options: &TrackerOptions,
    progress: &mut dyn FnMut(Progress),
) -> Result<RunStats, VideoError> {
    let mut stats = None;
    let mut inner_err = None;
    let with_pose = has_model(landmarker.scheme());
    let io = facemark_core::io::write_atomic_with(output, |w| {
        let mut header_done = false;
        let r = landmarks_per_frame(
            input,
            detector,
            landmarker,
            options,
            &mut |fl| {
                let io = |source| VideoError::Io {
                    path: output.to_path_buf(),
                    source,
                };
                match format {
                    LandmarkFormat::JsonLines => {
                        serde_json::to_writer(&mut *w, fl).map_err(|e| io(e.into()))?;
                        w.write_all(b"\n").map_err(io)?;
                    }
                    LandmarkFormat::Csv => {
                        if !header_done {
                            let n = fl.faces.first().map_or(68, |f| f.points.len());
                            let mut h = String::from("frame,time,face_id,box_x,box_y,box_w,box_h");
                            for i in 0..n {
                                h.push_str(&format!(",x{i},y{i}"));
                            }
                            if with_pose {
                                h.push_str(",yaw,pitch,roll");
                            }
                            writeln!(w, "{h}").map_err(io)?;
                            header_done = true;
                        }
                        for f in &fl.faces {
                            let mut row = format!(
                                "{},{:.4},{},{:.2},{:.2},{:.2},{:.2}",
                                fl.frame, fl.time, f.id, f.bbox[0], f.bbox[1], f.bbox[2], f.bbox[3]
                            );
                            for p in &f.points {
                                row.push_str(&format!(",{:.2},{:.2}", p[0], p[1]));
                            }
                            if with_pose {
                                row.push_str(&csv_fields(f.pose.as_ref()));
                            }
                            writeln!(w, "{row}").map_err(io)?;
                        }
                    }
                }
                Ok(())
            },
            progress,
        );
        match r {
            Ok(s) => {
                stats = Some(s);
                Ok(())
            }
            Err(e) => {
                inner_err = Some(e);
                Err(std::io::Error::other("landmark run failed"))
            }
        }
    });
    if let Some(e) = inner_err {
        return Err(e);
    }
    io.map_err(|source| VideoError::Io {
        path: output.to_path_buf(),
        source,
    })?;
    Ok(stats.expect("set on success"))
}

/// Is `path` a video (by extension)? For CLIs deciding between photo and video handling.
pub fn is_video_path(path: &Path) -> bool {
    const EXT: [&str; 10] = [
        "mp4", "m4v", "mov", "mkv", "webm", "avi", "mpg", "mpeg", "wmv", "flv",
    ];
    path.extension()
        .is_some_and(|e| EXT.iter().any(|x| e.eq_ignore_ascii_case(x)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_parse() {
        assert_eq!(parse_rate("30000/1001"), Some((30000, 1001)));
        assert_eq!(parse_rate("25"), Some((25, 1)));
        assert_eq!(parse_rate("0/0"), None);
        assert!(is_video_path(Path::new("a/b.MP4")) && !is_video_path(Path::new("x.png")));
    }
}
