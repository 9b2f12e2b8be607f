//! Private files: everything the gateway and the adapters write (databases, keys, key
//! files) is readable by its owner only: files 0600, folders 0700.

use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::Path;

/// Creates `dir` and its missing parents with mode 0700 (an existing folder is left as it is).
pub fn create_dir(dir: &Path) -> std::io::Result<()> {
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
}

/// Creates the folder of `path` if missing (0700).
pub fn create_parent(path: &Path) -> std::io::Result<()> {
    match path.parent().filter(|p| !p.as_os_str().is_empty()) {
        Some(parent) => create_dir(parent),
        None => Ok(()),
    }
}

/// Creates `path` empty with mode 0600 if it does not exist, so that whatever writes it
/// next (SQLite: and its `-wal` and `-shm` files, which take the database's mode) keeps it
/// private.
pub fn touch(path: &Path) -> std::io::Result<()> {
    create_parent(path)?;
    match std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
    {
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        other => other.map(drop),
    }
}

/// Writes `bytes` to `path` with mode 0600, replacing it atomically (a temporary file
/// beside it, then a rename): a crash leaves the old file or the new one, never half.
pub fn write(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    create_parent(path)?;
    let temporary = path.with_extension(format!("tmp-{}", std::process::id()));
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&temporary)?;
    file.write_all(bytes)?;
    file.sync_all()?;
    std::fs::rename(&temporary, path)
}

/// The mode bits of `path` that let others than its owner read or write it, if any.
pub fn open_to_others(path: &Path) -> std::io::Result<Option<u32>> {
    let mode = std::fs::metadata(path)?.permissions().mode() & 0o777;
    Ok((mode & 0o077 != 0).then_some(mode))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_and_folders_are_the_owners_only() {
        let dir = std::env::temp_dir().join(format!("private-{}", uuid::Uuid::new_v4()));
        let file = dir.join("a/b/secret.txt");
        write(&file, b"x").unwrap();
        touch(&dir.join("a/db.sqlite")).unwrap();
        for path in [dir.join("a"), dir.join("a/b")] {
            let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o700, "{}", path.display());
        }
        assert_eq!(open_to_others(&file).unwrap(), None);
        assert_eq!(open_to_others(&dir.join("a/db.sqlite")).unwrap(), None);
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
        assert_eq!(open_to_others(&file).unwrap(), Some(0o644));
        std::fs::remove_dir_all(dir).unwrap();
    }
}
