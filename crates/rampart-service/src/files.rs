//! Files and directories of the data directory, created readable by their owner only.

use std::path::Path;

/// Creates a directory and its missing parents, each readable by its owner only (0700).
pub fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt as _;
        builder.mode(0o700);
    }
    builder.create(dir)
}

/// Options that create a file readable by its owner only (0600).
pub fn private_file() -> std::fs::OpenOptions {
    let mut options = std::fs::OpenOptions::new();
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(0o600);
    }
    options
}

/// Writes `parts` one after the other to a new file readable by its owner only and syncs
/// it; fails if the file exists (a key or a certificate is never silently replaced). The
/// parts are written as given, so a secret is never copied into a buffer of this
/// function's.
pub fn write_new_private(path: &Path, parts: &[&[u8]]) -> std::io::Result<()> {
    use std::io::Write as _;
    let mut file = private_file().write(true).create_new(true).open(path)?;
    for part in parts {
        file.write_all(part)?;
    }
    file.sync_all()
}
