//! Writing files safely: every file streamlab writes (traces, shrunk scenarios, GUI saves and
//! exports) goes through [`write_with`]. The data goes to a uniquely named temporary file in the
//! target's folder, is flushed and fsynced, and then renamed over the target, so a crash never
//! leaves half a file. Only a regular file is ever replaced: a symlink, directory, FIFO, socket or
//! device at the target is refused with a clear message (writing `--trace /dev/full` as root
//! must not replace the device). The temporary file is removed on every failure path.

use std::fs::{File, OpenOptions};
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

/// What may already be at the target.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Overwrite {
    /// An output the tool owns (a trace, a chart): an existing regular file is replaced.
    Replace,
    /// Something that may hold the user's own work (a scenario): an existing file is refused;
    /// the caller asks for `--force` or a confirmation, then passes [`Overwrite::Replace`].
    Refuse,
}

fn refused(path: &Path, why: &str) -> io::Error {
    io::Error::new(io::ErrorKind::AlreadyExists, format!("{}: {why}; not writing there", path.display()))
}

/// Whether `path` may be written under `policy`: nothing there, or a regular file and `Replace`,
/// in a folder that exists (checked first, so that a command refuses a path it cannot write
/// before it runs, not after).
pub fn check_target(path: &Path, policy: Overwrite) -> io::Result<()> {
    if let Some(folder) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        match std::fs::metadata(folder) {
            Ok(meta) if meta.is_dir() => {}
            Ok(_) => return Err(refused(path, &format!("{} is not a folder", folder.display()))),
            Err(e) => return Err(refused(path, &format!("its folder {} cannot be used ({e})", folder.display()))),
        }
    }
    match std::fs::symlink_metadata(path) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        // A name too long, a loop of links above it, …: named with the path.
        Err(e) => Err(refused(path, &e.to_string())),
        Ok(meta) => {
            let kind = meta.file_type();
            if kind.is_symlink() {
                Err(refused(path, "is a symbolic link (it would be replaced, not followed)"))
            } else if kind.is_dir() {
                Err(refused(path, "is a directory"))
            } else if !kind.is_file() {
                Err(refused(path, "is not a regular file (a device, FIFO or socket)"))
            } else if policy == Overwrite::Refuse {
                Err(refused(path, "already exists (use --force to replace it)"))
            } else {
                Ok(())
            }
        }
    }
}

/// Create a new, uniquely named temporary file next to `path`.
fn temporary(path: &Path) -> io::Result<(PathBuf, File)> {
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    // The target's name, cut: a target named with the longest name a folder takes (255 bytes)
    // must still get a temporary name, which adds a dot, the process id and a counter to it.
    let name: String = path.file_name().map_or("file".into(), |n| n.to_string_lossy().chars().take(64).collect());
    let pid = std::process::id();
    let mut last = None;
    for attempt in 0..100u32 {
        let tmp = dir.join(format!(".{name}.{pid}.{attempt}.tmp"));
        // `create_new`: never follows or reuses anything already there.
        match OpenOptions::new().write(true).create_new(true).open(&tmp) {
            Ok(file) => return Ok((tmp, file)),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => last = Some(e),
            Err(e) => return Err(e),
        }
    }
    Err(last.unwrap_or_else(|| io::Error::other("no free temporary file name")))
}

/// Write `path` atomically with what `fill` writes.
pub fn write_with(
    path: &Path,
    policy: Overwrite,
    fill: impl FnOnce(&mut dyn Write) -> io::Result<()>,
) -> io::Result<()> {
    check_target(path, policy)?;
    let (tmp, file) = temporary(path)?;
    let result = (|| {
        let mut w = BufWriter::new(file);
        fill(&mut w)?;
        let file = w.into_inner().map_err(|e| e.into_error())?;
        file.sync_all()?;
        drop(file);
        // Again just before the rename: the target may have changed meanwhile.
        check_target(path, policy)?;
        std::fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
        return result;
    }
    // Make the rename itself durable (best effort: not every file system syncs directories).
    if let Some(dir) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        if let Ok(d) = File::open(dir) {
            let _ = d.sync_all();
        }
    }
    Ok(())
}

/// Write `bytes` to `path` atomically.
pub fn write_bytes(path: &Path, bytes: &[u8], policy: Overwrite) -> io::Result<()> {
    write_with(path, policy, |w| w.write_all(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dir(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("streamlab-atomic-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    fn leftovers(d: &Path) -> Vec<String> {
        std::fs::read_dir(d)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.ends_with(".tmp"))
            .collect()
    }

    /// A name of 255 bytes is allowed, and its temporary file's name must be too; a longer one is
    /// refused by `check_target` with the path named.
    #[test]
    fn a_target_with_the_longest_name_is_written() {
        let d = dir("long-name");
        let p = d.join("y".repeat(255));
        check_target(&p, Overwrite::Replace).unwrap();
        write_bytes(&p, b"trace", Overwrite::Replace).unwrap();
        assert_eq!(std::fs::read(&p).unwrap(), b"trace");
        assert!(leftovers(&d).is_empty());
        let too_long = d.join("z".repeat(256));
        let e = check_target(&too_long, Overwrite::Replace).unwrap_err();
        assert!(e.to_string().contains(&"z".repeat(256)), "{e}");
        std::fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn replaces_a_regular_file_and_leaves_no_temporary() {
        let d = dir("regular");
        let p = d.join("out.txt");
        std::fs::write(&p, "old").unwrap();
        write_bytes(&p, b"new", Overwrite::Replace).unwrap();
        assert_eq!(std::fs::read_to_string(&p).unwrap(), "new");
        assert!(leftovers(&d).is_empty());
        let e = write_bytes(&p, b"newer", Overwrite::Refuse).unwrap_err();
        assert!(e.to_string().contains("--force"), "{e}");
        assert_eq!(std::fs::read_to_string(&p).unwrap(), "new");
        std::fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn refuses_a_path_whose_folder_does_not_exist_or_is_a_file() {
        let d = dir("folder");
        let file = d.join("file.txt");
        std::fs::write(&file, "keep").unwrap();
        for target in [d.join("missing").join("out.txt"), file.join("out.txt")] {
            let e = check_target(&target, Overwrite::Replace).unwrap_err();
            assert!(e.to_string().contains("folder"), "{e}");
            assert!(write_bytes(&target, b"x", Overwrite::Replace).is_err());
        }
        assert_eq!(std::fs::read_to_string(&file).unwrap(), "keep");
        assert!(!d.join("missing").exists());
        std::fs::remove_dir_all(&d).unwrap();
    }

    #[cfg(unix)]
    #[test]
    fn refuses_symlinks_directories_and_devices() {
        let d = dir("special");
        let target = d.join("target.txt");
        std::fs::write(&target, "keep").unwrap();
        let link = d.join("link.txt");
        std::os::unix::fs::symlink(&target, &link).unwrap();
        let e = write_bytes(&link, b"x", Overwrite::Replace).unwrap_err();
        assert!(e.to_string().contains("symbolic link"), "{e}");
        assert!(std::fs::symlink_metadata(&link).unwrap().file_type().is_symlink());
        assert_eq!(std::fs::read_to_string(&target).unwrap(), "keep");
        let e = write_bytes(&d, b"x", Overwrite::Replace).unwrap_err();
        assert!(e.to_string().contains("directory"), "{e}");
        let e = write_bytes(Path::new("/dev/null"), b"x", Overwrite::Replace).unwrap_err();
        assert!(e.to_string().contains("not a regular file"), "{e}");
        assert!(leftovers(&d).is_empty());
        std::fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn a_failing_writer_removes_its_temporary_file() {
        let d = dir("failing");
        let p = d.join("out.txt");
        let e = write_with(&p, Overwrite::Replace, |_| Err(io::Error::other("boom"))).unwrap_err();
        assert_eq!(e.to_string(), "boom");
        assert!(!p.exists());
        assert!(leftovers(&d).is_empty());
        std::fs::remove_dir_all(&d).unwrap();
    }
}
