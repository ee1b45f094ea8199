//! The data dir is private to its owner: the directory 0700, every file in it
//! 0600. The SQLite file holds every workspace's data and the key files sign
//! and seal, so neither another local user nor a group may read them.

use std::fs;
use std::io;
use std::path::Path;

/// Mode of the data dir and its subdirectories.
pub const DIR_MODE: u32 = 0o700;
/// Mode of every file in the data dir.
pub const FILE_MODE: u32 = 0o600;

/// Creates `dir` (and missing parents) owner-only, and tightens an existing
/// one that group or others can enter.
pub fn private_dir(dir: &Path) -> io::Result<()> {
    let mut builder = fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(DIR_MODE);
    }
    builder.create(dir)?;
    tighten(dir, DIR_MODE)
}

/// Creates `path` empty and owner-only if it does not exist, and tightens it
/// if it does. SQLite gives its `-wal`, `-shm` and `-journal` files the mode
/// of the database file, so a 0600 database keeps them 0600 too.
pub fn private_file(path: &Path) -> io::Result<()> {
    let mut options = fs::OpenOptions::new();
    options.write(true).create(true).truncate(false);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(FILE_MODE);
    }
    options.open(path)?;
    tighten(path, FILE_MODE)
}

/// Tightens the regular files directly in `dir` whose name starts with
/// `prefix` to owner-only: the store files an earlier version left
/// world-readable. Key files are not tightened but refused when loose (see
/// `kustiq::adapters::local::keys`): a key others could read may have leaked.
pub fn tighten_files(dir: &Path, prefix: &str) -> io::Result<()> {
    for entry in fs::read_dir(dir)? {
        let entry = entry?;
        if entry.file_type()?.is_file() && entry.file_name().to_string_lossy().starts_with(prefix) {
            tighten(&entry.path(), FILE_MODE)?;
        }
    }
    Ok(())
}

#[cfg(unix)]
fn tighten(path: &Path, mode: u32) -> io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let current = fs::metadata(path)?.permissions().mode() & 0o777;
    if current & 0o077 != 0 {
        tracing::info!(path = %path.display(), from = format!("{current:o}"), to = format!("{mode:o}"), "tightened permissions");
        fs::set_permissions(path, fs::Permissions::from_mode(mode))?;
    }
    Ok(())
}

#[cfg(not(unix))]
fn tighten(_path: &Path, _mode: u32) -> io::Result<()> {
    Ok(())
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn mode(path: &Path) -> u32 {
        fs::metadata(path)
            .map(|m| m.permissions().mode() & 0o777)
            .unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn new_and_loose_dirs_and_files_end_owner_only() {
        let tmp = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let dir = tmp.path().join("a/.kustiq");
        private_dir(&dir).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(mode(&dir), 0o700);

        let file = dir.join("kustiq.sqlite");
        private_file(&file).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(mode(&file), 0o600);

        fs::set_permissions(&dir, fs::Permissions::from_mode(0o755))
            .unwrap_or_else(|e| panic!("{e}"));
        fs::set_permissions(&file, fs::Permissions::from_mode(0o644))
            .unwrap_or_else(|e| panic!("{e}"));
        let stray = dir.join("kustiq.sqlite-wal");
        fs::write(&stray, b"x").unwrap_or_else(|e| panic!("{e}"));
        fs::set_permissions(&stray, fs::Permissions::from_mode(0o664))
            .unwrap_or_else(|e| panic!("{e}"));

        private_dir(&dir).unwrap_or_else(|e| panic!("{e}"));
        tighten_files(&dir, "kustiq.sqlite").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            (mode(&dir), mode(&file), mode(&stray)),
            (0o700, 0o600, 0o600)
        );
        assert_eq!(
            fs::read(&stray).unwrap_or_default(),
            b"x",
            "contents are kept"
        );
    }
}
