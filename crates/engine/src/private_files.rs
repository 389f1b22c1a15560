//! The agent's folder and files are its own: the folder 0700, every file 0600 (on Unix; other
//! systems keep a user's profile private already). The database holds no secret, but it does
//! hold the site's records and what the agent knows of its server.

use std::path::Path;

/// Creates `dir` (and its parents) if missing, and makes it readable by its owner only.
pub fn private_dir(dir: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    restrict(dir, 0o700)
}

/// Makes `path` readable by its owner only, creating it empty if missing (so whatever writes
/// it next, SQLite included, never makes it readable by others first).
pub fn private_file(path: &Path) -> std::io::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.create(true).append(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options.open(path)?;
    restrict(path, 0o600)
}

/// Makes an existing `path` readable by its owner only; a missing one is fine.
pub fn restrict_if_present(path: &Path) -> std::io::Result<()> {
    match restrict(path, 0o600) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        other => other,
    }
}

#[cfg(unix)]
fn restrict(path: &Path, mode: u32) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
}

#[cfg(not(unix))]
fn restrict(_path: &Path, _mode: u32) -> std::io::Result<()> {
    Ok(())
}
