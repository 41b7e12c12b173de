//! `joblock timeline EVENTS -o OUT`: a recording drawn as a picture. The arguments
//! and exit codes around the library's `joblock::timeline`: 0 written, 2 a bad
//! argument or recording, 3 the picture could not be written.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Args;

use crate::{RUNTIME, USAGE};
use joblock::sanitize::printable;
use joblock::timeline::{self, Format, Options, TimelineError};

/// `joblock timeline EVENTS -o OUT [--width PX]`
#[derive(Debug, Args)]
pub struct TimelineArgs {
    /// The recording: a file a run's --events wrote (JSON lines).
    #[arg(value_name = "EVENTS")]
    pub events: PathBuf,
    /// The picture: NAME.svg, NAME.html (the SVG with hover details), or - for SVG on stdout.
    #[arg(short = 'o', long = "output", value_name = "OUT")]
    pub output: PathBuf,
    /// Width of the picture in pixels.
    #[arg(long, value_name = "PX", default_value_t = 1200, allow_hyphen_values = true, value_parser = width)]
    pub width: u32,
}

fn width(s: &str) -> Result<u32, String> {
    let range = timeline::WIDTH_RANGE;
    match s.trim().parse::<u32>() {
        Ok(v) if range.contains(&v) => Ok(v),
        _ => Err(format!(
            "{s:?}: give a whole number of pixels from {} to {}",
            range.start(),
            range.end()
        )),
    }
}

/// Draws the recording; one line on stdout when written, one on stderr when not.
pub fn run_timeline(args: &TimelineArgs) -> ExitCode {
    match draw(args) {
        Ok(line) => {
            if to_stdout(&args.output) {
                eprintln!("{}", printable(&line));
            } else {
                println!("{}", printable(&line));
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {}", printable(&e.to_string()));
            ExitCode::from(if e.is_input() { USAGE } else { RUNTIME })
        }
    }
}

fn to_stdout(path: &Path) -> bool {
    path.as_os_str() == "-"
}

fn draw(args: &TimelineArgs) -> Result<String, TimelineError> {
    // The output is checked first: a bad name costs no reading.
    let (format, shown) = if to_stdout(&args.output) {
        (Format::Svg, "SVG to stdout".to_string())
    } else {
        let format = Format::for_path(&args.output)?;
        timeline::check_output(&args.output)?;
        (format, args.output.display().to_string())
    };
    let tl = timeline::load(&args.events)?;
    let picture = timeline::render(&tl, format, &Options { width: args.width });
    if to_stdout(&args.output) {
        let mut out = std::io::stdout().lock();
        out.write_all(picture.as_bytes())
            .and_then(|()| out.flush())
            .map_err(|e| TimelineError::Write {
                path: "stdout".into(),
                why: e.to_string(),
            })?;
    } else {
        timeline::write_atomic(&args.output, picture.as_bytes())?;
    }
    Ok(format!("wrote {shown}: {}", tl.counts()))
}
