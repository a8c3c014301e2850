//! The workbench's errors, typed: what failed, on which file or folder, and why. Panels show
//! them with `Display` (one sentence a student can act on); tests match on the variants.

use std::path::{Path, PathBuf};

/// Writing something out of the workbench failed: a saved scenario, a sink export, a trace, a
/// chart, a slide.
#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    /// The folder to write into could not be created.
    #[error("cannot create the folder {}: {source}", .path.display())]
    CreateFolder {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// Writing the file failed, or it was refused (a file is already there and replacing it was
    /// not ticked; or it is not a regular file).
    #[error("{}", write_text(.path, .source))]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The picture could not be drawn.
    #[error("cannot draw {}: {source}", .path.display())]
    Draw {
        path: PathBuf,
        #[source]
        source: DrawError,
    },
    /// The font bundled for pictures could not be registered.
    #[error("the built-in chart font could not be loaded")]
    Font,
}

impl WriteError {
    pub fn create_folder(path: &Path, source: std::io::Error) -> WriteError {
        WriteError::CreateFolder { path: path.to_path_buf(), source }
    }
    pub fn write(path: &Path, source: std::io::Error) -> WriteError {
        WriteError::Write { path: path.to_path_buf(), source }
    }
    pub fn draw(path: &Path, source: impl Into<DrawError>) -> WriteError {
        WriteError::Draw { path: path.to_path_buf(), source: source.into() }
    }
    /// The file was already there and was not replaced (the user did not tick so).
    pub fn is_refused(&self) -> bool {
        matches!(self, WriteError::Write { source, .. } if source.kind() == std::io::ErrorKind::AlreadyExists)
    }
}

/// The library's message names the command line's flag; here it is the checkbox. The path is
/// named once.
fn write_text(path: &Path, e: &std::io::Error) -> String {
    let text = e.to_string().replace("use --force to replace it", "tick \"Replace existing files\" to replace it");
    if text.contains(&path.display().to_string()) {
        text
    } else {
        format!("{}: {text}", path.display())
    }
}

/// plotters could not draw a chart or a slide. Its error type is generic over the drawing
/// backend (bitmap or SVG), so the reason is kept as plotters words it; `?` converts any
/// backend's error.
#[derive(Debug, thiserror::Error)]
#[error("{reason}")]
pub struct DrawError {
    reason: String,
}

impl<E: std::error::Error + Send + Sync> From<plotters::drawing::DrawingAreaErrorKind<E>> for DrawError {
    fn from(e: plotters::drawing::DrawingAreaErrorKind<E>) -> DrawError {
        DrawError { reason: e.to_string() }
    }
}

/// Why the scenario bar could not load what was asked (the run on screen stays).
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// The scenario file does not parse or validate (file, line, column and field).
    #[error(transparent)]
    Scenario(#[from] sim::scenario::ScenarioError),
    /// The seed field is not a seed.
    #[error("seed: `{text}` is not a whole number from 0 to {}", u64::MAX)]
    Seed { text: String },
}

/// The predict window's errors.
#[derive(Debug, thiserror::Error)]
pub enum PredictError {
    /// The course (`book/exercises`) could not be loaded.
    #[error("the course in {} could not be loaded: {source}", .dir.display())]
    Course {
        dir: PathBuf,
        #[source]
        source: sim::scenario::ScenarioError,
    },
    /// The answer could not be read as one (it is not graded).
    #[error("exercise {id}: {why}")]
    Unreadable { id: String, why: String },
}

impl PredictError {
    pub fn unreadable(e: &sim::exercise::Exercise, bad: sim::exercise::BadAnswer) -> PredictError {
        PredictError::Unreadable { id: e.spec.id.clone(), why: bad.0 }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_refused_write_names_the_checkbox_and_the_path_once() {
        let path = Path::new("/tmp/x.ron");
        let e = WriteError::write(
            path,
            std::io::Error::new(
                std::io::ErrorKind::AlreadyExists,
                "/tmp/x.ron: already exists (use --force to replace it); not writing there",
            ),
        );
        assert!(e.is_refused());
        let text = e.to_string();
        assert_eq!(
            text,
            "/tmp/x.ron: already exists (tick \"Replace existing files\" to replace it); not writing there"
        );
        let e = WriteError::write(path, std::io::Error::other("disk full"));
        assert!(!e.is_refused());
        assert_eq!(e.to_string(), "/tmp/x.ron: disk full");
        let e = WriteError::create_folder(Path::new("/nope"), std::io::Error::other("read-only"));
        assert_eq!(e.to_string(), "cannot create the folder /nope: read-only");
    }
}
