//! The `facemark` command line: a thin layer over the `facemark` library crates.
//! Each subcommand lives in its own module under `cmd/` with an `Args` struct and a `run`.

#![deny(unsafe_op_in_unsafe_fn)]
#![warn(missing_docs)]

use clap::{Parser, Subcommand};

mod cmd;

#[derive(Parser)]
#[command(
    name = "facemark",
    version,
    about = "Facial keypoint detection: faces, landmarks, training, filters"
)]
struct Cli {
    /// More logging (-v info, -vv debug); or set RUST_LOG.
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    verbose: u8,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Find faces and place landmarks on photos (the main job).
    ///
    /// Writes the `--format` files into `--out` and prints one line per photo (faces found,
    /// files written); `--json` prints the results as JSON on stdout instead.
    Detect(cmd::detect::Args),
    /// Find faces only (Haar/LBP cascades or the built-in SeetaFace detector).
    ///
    /// Prints the faces of each photo for people; `--json` or `--csv` prints them as data.
    Faces(cmd::faces::Args),
    /// Inspect, convert and show landmark data sets.
    #[command(subcommand)]
    Data(cmd::data::DataCommand),
    /// Train a keypoint model.
    Train(cmd::train::Args),
    /// Evaluate a keypoint model on an annotated data set.
    ///
    /// The embedded default model unless `--model` names one (or `--mean-shape`). Prints a
    /// summary for people; `--json` prints the whole report as JSON on stdout instead.
    Eval(cmd::eval::Args),
    /// Kaggle Facial Keypoints: predict a test.csv and write a submission.
    Kaggle(cmd::kaggle::Args),
    /// Snapchat-style filters on photos and videos.
    Filter(cmd::filter::Args),
    /// Measure how a face detector's boxes relate to landmark boxes (for the pipeline).
    Calibrate(cmd::calibrate::Args),
    /// Face descriptors (128-d, dlib's face-recognition ResNet) of every face in photos, as JSON.
    Embed(cmd::embed::Args),
    /// What a model file holds; store it again as f16 (half the size).
    #[command(subcommand)]
    Model(cmd::model::ModelCommand),
    /// Are two photos the same person? The distance of their largest faces' descriptors.
    Compare(cmd::compare::Args),
}

fn main() {
    // `facemark … | head` should end quietly when the reader goes away, as other Unix tools do,
    // instead of panicking on a failed print.
    #[cfg(unix)]
    // SAFETY: restoring the default disposition of SIGPIPE before any thread is started.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    let cli = Cli::parse();
    let default = match cli.verbose {
        0 => "warn",
        1 => "info",
        _ => "debug",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();

    let result = match cli.command {
        Command::Detect(a) => cmd::detect::run(a),
        Command::Faces(a) => cmd::faces::run(a),
        Command::Data(a) => cmd::data::run(a),
        Command::Train(a) => cmd::train::run(a),
        Command::Eval(a) => cmd::eval::run(a),
        Command::Kaggle(a) => cmd::kaggle::run(a),
        Command::Filter(a) => cmd::filter::run(a),
        Command::Calibrate(a) => cmd::calibrate::run(a),
        Command::Embed(a) => cmd::embed::run(a),
        Command::Compare(a) => cmd::compare::run(a),
        Command::Model(a) => cmd::model::run(a),
    };
    if let Err(e) = result {
        eprintln!("error: {}", error_text(&e));
        std::process::exit(1);
    }
}

/// The error and its causes, `: `-separated as anyhow's `{:#}` writes them, each said once: a
/// cause whose words the message already holds (a library error that repeats its own
/// `source()`) is left out.
fn error_text(e: &anyhow::Error) -> String {
    let mut text = String::new();
    for cause in e.chain() {
        let c = cause.to_string();
        if text.contains(&c) {
            continue;
        }
        if !text.is_empty() {
            text.push_str(": ");
        }
        text.push_str(&c);
    }
    text
}

#[cfg(test)]
mod tests {
    use super::Cli;
    use clap::CommandFactory;

    /// Every option and argument of every command has help text (`--help` explains them all).
    #[test]
    fn every_option_has_help() {
        fn walk(cmd: &clap::Command, path: &str, missing: &mut Vec<String>) {
            for a in cmd.get_arguments() {
                let id = a.get_id().as_str();
                if matches!(id, "help" | "version") {
                    continue;
                }
                if a.get_help().is_none() && a.get_long_help().is_none() {
                    missing.push(format!("{path} {id}"));
                }
            }
            for s in cmd.get_subcommands() {
                walk(s, &format!("{path} {}", s.get_name()), missing);
            }
        }
        let mut missing = Vec::new();
        walk(&Cli::command(), "facemark", &mut missing);
        assert!(missing.is_empty(), "no help text: {missing:?}");
        Cli::command().debug_assert();
    }
}
