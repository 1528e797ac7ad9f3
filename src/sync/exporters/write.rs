//! Putting artifacts under `EXPORT_PATH`: `<format>/helix_sync_<UTC timestamp>_<run>.<ext>` and
//! `<format>/latest.<ext>`, each written to a temporary name in the same directory, synced and
//! renamed, so a reader sees the old file or the new one, never half of one.
//!
//! Retention keeps the newest N timestamped files per format (names sort by time). This is
//! the only exporter code that touches the file system; it never decides what a file says.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use super::{Artifact, ExportError, ExportFile, RunInfo};

const PREFIX: &str = "helix_sync_";

fn write_err(path: &Path) -> impl FnOnce(std::io::Error) -> ExportError + '_ {
    move |source| ExportError::Write {
        path: path.display().to_string(),
        source,
    }
}

/// A unique hidden name next to `path` (two runs may write the same `latest` at once).
fn temp_sibling(path: &Path) -> PathBuf {
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or("export");
    path.with_file_name(format!(".{name}.{}.tmp", uuid::Uuid::now_v7().simple()))
}

/// Writes `bytes` to `path` through a temporary sibling and a rename.
fn atomic_write(path: &Path, bytes: &[u8]) -> Result<(), ExportError> {
    let tmp = temp_sibling(path);
    let result = (|| {
        let mut f = fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result.map_err(write_err(path))
}

/// Makes `latest` the same file as `target` without writing (and flushing) the bytes a
/// second time: a hard link under a temporary name, renamed over `latest`. Where links are
/// not supported, a copy. Retention deleting `target` later leaves `latest` intact.
fn point_latest(target: &Path, latest: &Path) -> Result<(), ExportError> {
    let tmp = temp_sibling(latest);
    let result = fs::hard_link(target, &tmp)
        .or_else(|_| fs::copy(target, &tmp).map(|_| ()))
        .and_then(|()| fs::rename(&tmp, latest));
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result.map_err(write_err(latest))
}

/// The run id as it may appear in a file name.
fn file_safe(id: &str) -> String {
    id.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// `helix_sync_20261125T211500Z_<run>.<ext>`: UTC, sortable, stable for a run.
pub fn file_name(run: &RunInfo, extension: &str) -> String {
    format!(
        "{PREFIX}{}_{}.{extension}",
        run.generated_at().format("%Y%m%dT%H%M%SZ"),
        file_safe(&run.id)
    )
}

/// Writes one artifact and its `latest` copy, then applies retention.
pub fn write_artifact(
    root: &Path,
    artifact: &Artifact,
    run: &RunInfo,
    retention: usize,
) -> Result<ExportFile, ExportError> {
    let dir = root.join(artifact.format);
    fs::create_dir_all(&dir).map_err(write_err(&dir))?;
    let name = file_name(run, artifact.extension);
    let file = dir.join(&name);
    atomic_write(&file, &artifact.bytes)?;
    point_latest(&file, &dir.join(format!("latest.{}", artifact.extension)))?;
    prune(&dir, retention.max(1))?;
    Ok(ExportFile {
        format: artifact.format.to_owned(),
        path: format!("{}/{name}", artifact.format),
        bytes: artifact.bytes.len() as u64,
    })
}

/// Deletes all but the newest `keep` timestamped exports in `dir`.
fn prune(dir: &Path, keep: usize) -> Result<(), ExportError> {
    let mut files: Vec<PathBuf> = fs::read_dir(dir)
        .map_err(write_err(dir))?
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with(PREFIX))
        })
        .collect();
    if files.len() <= keep {
        return Ok(());
    }
    files.sort();
    for old in &files[..files.len() - keep] {
        fs::remove_file(old).map_err(write_err(old))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sync::exporters::{fixture, test_support, write_exports, ExportInput};

    #[test]
    fn writes_every_format_with_latest_and_keeps_the_newest_n() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().display().to_string();
        let mut config = test_support::config_with(&[("EXPORT_PATH", &path)]);
        config.file.exports.retention = 2;
        let (snapshot, changes, mut run, history) = fixture::snapshot(1, 10);
        let mut written = Vec::new();
        for i in 0..3 {
            run.id = format!("run-{i}");
            run.finished_at = Some(fixture::base_time() + chrono::Duration::hours(i));
            let input = ExportInput {
                run: &run,
                snapshot: &snapshot,
                changes: &changes,
                history: &history,
            };
            let outcome = write_exports(&config, &input);
            assert!(outcome.failed.is_empty(), "{:?}", outcome.failed);
            written = outcome.files;
        }
        assert_eq!(written.len(), 4);
        for f in &written {
            let on_disk = fs::read(dir.path().join(&f.path)).unwrap();
            assert_eq!(on_disk.len() as u64, f.bytes);
            let format_dir = dir.path().join(&f.format);
            let mut names: Vec<String> = fs::read_dir(&format_dir)
                .unwrap()
                .map(|e| e.unwrap().file_name().into_string().unwrap())
                .collect();
            names.sort();
            let ext = f.path.rsplit_once("run-2.").unwrap().1;
            assert_eq!(
                names,
                [
                    format!("helix_sync_20261125T221500Z_run-1.{ext}"),
                    format!("helix_sync_20261125T231500Z_run-2.{ext}"),
                    format!("latest.{ext}"),
                ],
                "retention keeps two, no temporary file is left"
            );
            assert_eq!(
                fs::read(format_dir.join(format!("latest.{ext}"))).unwrap(),
                on_disk
            );
        }
    }

    #[test]
    fn a_format_that_fails_is_named_and_the_others_are_still_written() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().display().to_string();
        let config = test_support::config_with(&[("EXPORT_PATH", &path)]);
        // A file where the html directory should be: that format cannot be written.
        fs::write(dir.path().join("html"), b"in the way").unwrap();
        let fixture = fixture::Fixture::new(1, 10);
        let outcome = write_exports(&config, &fixture.input());
        let failed: Vec<&str> = outcome.failed.iter().map(|(f, _)| f.as_str()).collect();
        assert_eq!(failed, ["html"]);
        assert!(matches!(outcome.failed[0].1, ExportError::Write { .. }));
        let formats: Vec<&str> = outcome.files.iter().map(|f| f.format.as_str()).collect();
        assert_eq!(formats, ["notion", "markdown", "json"]);
        for f in &outcome.files {
            assert!(dir.path().join(&f.path).is_file(), "{}", f.path);
        }
    }

    #[test]
    fn run_ids_cannot_escape_the_directory() {
        let (_, _, mut run, _) = fixture::snapshot(0, 0);
        run.id = "../../etc/passwd".into();
        assert_eq!(
            file_name(&run, "md"),
            "helix_sync_20261125T211500Z_______etc_passwd.md"
        );
    }
}
