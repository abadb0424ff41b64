//! The one door through which llmops writes a file a person asked for or will read: reports,
//! recordings, prompt files, lock files, attributes.
//!
//! - `-` means standard output (the caller prints; see [`is_stdout`]).
//! - A symlink is followed: its target is replaced, the link stays a link.
//! - Anything that is not a regular file (a device such as `/dev/null`, a FIFO, a socket) is
//!   written through, never replaced.
//! - A regular file is written to a temporary file with a unique name beside it, flushed to
//!   disk, then renamed over the target, so a reader never sees half a file, a crash leaves the
//!   old one, and two processes writing beside each other never share a temporary file.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use crate::error::{Error, Result};

/// Whether `path` asks for standard output (`--output -`).
pub fn is_stdout(path: &Path) -> bool {
    path.as_os_str() == "-"
}

/// Follow symlinks (up to 40, like the kernel) to the path that will really be written. A
/// dangling link resolves to where it points, so writing creates its target.
fn resolve(path: &Path) -> std::io::Result<PathBuf> {
    let mut p = path.to_path_buf();
    for _ in 0..40 {
        match std::fs::symlink_metadata(&p) {
            Ok(m) if m.file_type().is_symlink() => {
                let target = std::fs::read_link(&p)?;
                p = if target.is_absolute() {
                    target
                } else {
                    p.parent().unwrap_or(Path::new(".")).join(target)
                };
            }
            _ => return Ok(p),
        }
    }
    Err(std::io::Error::other("too many levels of symbolic links"))
}

/// A temporary name beside `target` that no other writer uses: process id, a per-process
/// counter and the clock.
fn temp_name(target: &Path) -> PathBuf {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let dir = target.parent().unwrap_or(Path::new("."));
    let name = target
        .file_name()
        .map(|f| f.to_string_lossy().into_owned())
        .unwrap_or_default();
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    dir.join(format!(
        ".{name}.{}-{}-{nanos:x}.llmops-tmp",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    ))
}

/// Write `bytes` to `path` (see the module docs). Parent directories are created. Errors name
/// the path as given.
pub fn write(path: &Path, bytes: &[u8]) -> Result<()> {
    let shown = path.display().to_string();
    write_inner(path, bytes).map_err(|e| Error::io(shown, e))
}

/// Append `bytes` to `path` (created when missing): for files others own and collect, such as
/// `$GITHUB_STEP_SUMMARY`. Appending never replaces anything, so it is safe on any file type.
pub fn append(path: &Path, bytes: &[u8]) -> Result<()> {
    let shown = path.display().to_string();
    (|| {
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)?;
        f.write_all(bytes)?;
        f.flush()
    })()
    .map_err(|e| Error::io(shown, e))
}

fn write_inner(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    if is_stdout(path) {
        return std::io::stdout().lock().write_all(bytes);
    }
    let target = resolve(path)?;
    match std::fs::metadata(&target) {
        Ok(m) if m.is_dir() => {
            return Err(std::io::Error::other("is a directory"));
        }
        Ok(m) if !m.is_file() => {
            // A device, a FIFO, a socket: write into it; replacing it would destroy it.
            let mut f = std::fs::OpenOptions::new().write(true).open(&target)?;
            f.write_all(bytes)?;
            return f.flush();
        }
        _ => {}
    }
    if let Some(dir) = target.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }
    let tmp = temp_name(&target);
    let result = (|| {
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&tmp)?;
        // Keep the mode of a file being replaced (an executable hook stays executable).
        if let Ok(old) = std::fs::metadata(&target) {
            f.set_permissions(old.permissions())?;
        }
        f.write_all(bytes)?;
        f.sync_all()?;
        drop(f);
        std::fs::rename(&tmp, &target)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result?;
    // Make the rename itself durable; a directory that cannot be opened is not an error.
    if let Some(dir) = target.parent().filter(|d| !d.as_os_str().is_empty()) {
        if let Ok(d) = std::fs::File::open(dir) {
            let _ = d.sync_all();
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replaces_a_regular_file_and_leaves_no_temp() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("sub/r.json");
        write(&p, b"one").unwrap();
        write(&p, b"two").unwrap();
        assert_eq!(std::fs::read_to_string(&p).unwrap(), "two");
        let names: Vec<_> = std::fs::read_dir(dir.path().join("sub"))
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names.len(), 1, "{names:?}");
    }

    #[test]
    fn a_symlink_stays_a_link_and_its_target_is_replaced() {
        let dir = tempfile::tempdir().unwrap();
        let real = dir.path().join("real.txt");
        std::fs::write(&real, "old").unwrap();
        let link = dir.path().join("link.txt");
        std::os::unix::fs::symlink("real.txt", &link).unwrap();
        write(&link, b"new").unwrap();
        assert!(std::fs::symlink_metadata(&link)
            .unwrap()
            .file_type()
            .is_symlink());
        assert_eq!(std::fs::read_to_string(&real).unwrap(), "new");
    }

    #[test]
    fn a_device_is_written_through_not_replaced() {
        let dir = tempfile::tempdir().unwrap();
        let link = dir.path().join("null");
        std::os::unix::fs::symlink("/dev/null", &link).unwrap();
        write(&link, b"gone").unwrap();
        use std::os::unix::fs::FileTypeExt;
        assert!(std::fs::metadata("/dev/null")
            .unwrap()
            .file_type()
            .is_char_device());
    }

    #[test]
    fn a_fifo_is_written_through() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("pipe");
        let ok = std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .is_ok_and(|s| s.success());
        if !ok {
            return; // no mkfifo here
        }
        let reader = {
            let fifo = fifo.clone();
            std::thread::spawn(move || std::fs::read_to_string(fifo).unwrap())
        };
        write(&fifo, b"through the pipe").unwrap();
        assert_eq!(reader.join().unwrap(), "through the pipe");
        use std::os::unix::fs::FileTypeExt;
        assert!(std::fs::symlink_metadata(&fifo)
            .unwrap()
            .file_type()
            .is_fifo());
    }

    #[test]
    fn temp_names_are_unique() {
        let p = Path::new("r.json");
        assert_ne!(temp_name(p), temp_name(p));
    }

    #[test]
    fn parallel_writers_to_neighbours_do_not_mix() {
        let dir = tempfile::tempdir().unwrap();
        let handles: Vec<_> = (0..8)
            .map(|i| {
                let p = dir.path().join(format!("r{}.out", i % 2));
                std::thread::spawn(move || {
                    for _ in 0..20 {
                        write(&p, format!("{}", i % 2).repeat(1000).as_bytes()).unwrap();
                    }
                })
            })
            .collect();
        for h in handles {
            h.join().unwrap();
        }
        for i in 0..2 {
            let text = std::fs::read_to_string(dir.path().join(format!("r{i}.out"))).unwrap();
            assert_eq!(text, format!("{i}").repeat(1000));
        }
    }
}
