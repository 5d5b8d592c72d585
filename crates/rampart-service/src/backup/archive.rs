//! The backup archive `rampart-backup/1`: one file holding the parts of a backup and a
//! manifest that names each part with its size and SHA-256.
//!
//! ```text
//! "RAMPART-BACKUP/1\n"                    17 bytes of magic
//! part 1 … part n                         each as stored: gzip (databases) or as is
//! manifest                                JSON (see `Manifest`)
//! manifest length                         8 bytes, big-endian
//! "RBK1END\n"                             8 bytes: the archive is complete
//! ```
//!
//! The manifest comes last so a backup is written in one pass; a reader finds it from the
//! end, and an archive cut short (no end marker) is refused as incomplete. Each part's hash
//! is of its content before compression and is checked as the part is extracted.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufReader, BufWriter, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use rampart_core::Error;
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};
use time::OffsetDateTime;

/// The first bytes of every archive.
pub const MAGIC: &[u8; 17] = b"RAMPART-BACKUP/1\n";
/// The last bytes of a complete archive.
const END: &[u8; 8] = b"RBK1END\n";
/// The format's name in the manifest.
pub const FORMAT: &str = "rampart-backup/1";
/// The largest manifest a reader accepts.
const MAX_MANIFEST: u64 = 16 << 20;

/// What a backup holds, written at the end of its archive.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    /// `rampart-backup/1`.
    pub format: String,
    /// The backup's id (a UUID).
    pub id: String,
    /// When the backup was taken.
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    /// The version of Rampart that took it.
    pub rampart_version: String,
    /// `sqlite` or `postgres`.
    pub database: String,
    /// The node that took it.
    pub node_id: String,
    /// The newest database migration applied.
    pub schema_version: i64,
    /// The audit log as backed up.
    pub audit: AuditSummary,
    /// Row counts of the platform's tables (`rampart_store::CENSUS_TABLES`) and the audit
    /// log's size, for a restore to compare.
    pub census: BTreeMap<String, i64>,
    /// The keys, when the backup holds them (encrypted with age).
    pub keys: Option<KeysSummary>,
    /// The parts, in the order they are stored.
    pub parts: Vec<Part>,
}

/// The audit log in a backup.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuditSummary {
    /// The log's origin (its name in checkpoints).
    pub origin: String,
    /// The verifier key of the log's signing key (public), which a restore checks the log
    /// against unless the operator names the key they trust.
    pub verifier_key: String,
    /// Events in the log.
    pub size: u64,
    /// The size of the newest signed checkpoint in the backup.
    pub checkpoint_size: u64,
}

/// The keys in a backup.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeysSummary {
    /// `age-x25519` (to recipients) or `age-scrypt` (a passphrase).
    pub encryption: String,
    /// The files, relative to the data directory.
    pub files: Vec<String>,
}

/// One part of an archive.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Part {
    /// Its name: `platform.db`, `apps/<num>.db`, `keys.age`, `rampart.toml`,
    /// `audit-archive/<file>`.
    pub name: String,
    /// Where its stored bytes start, from the beginning of the file.
    pub offset: u64,
    /// How many bytes are stored.
    pub stored: u64,
    /// Its size once extracted.
    pub size: u64,
    /// SHA-256 of the extracted content, hex.
    pub sha256: String,
    /// `gzip` or `none`.
    pub encoding: String,
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn io(path: &Path) -> impl Fn(std::io::Error) -> Error + '_ {
    move |e| Error::Unavailable(format!("{}: {e}", path.display()))
}

/// Counts the bytes written through it.
struct Counting<W> {
    inner: W,
    written: u64,
}

impl<W: Write> Write for Counting<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.written += n as u64;
        Ok(n)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

/// Copies `input` to `output`, hashing what it reads; returns its size and SHA-256 (hex).
fn pump(
    input: &mut dyn Read,
    output: &mut dyn Write,
    progress: &mut dyn FnMut(u64),
) -> std::io::Result<(u64, String)> {
    let mut hasher = Sha256::new();
    let mut size = 0u64;
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = input.read(&mut buf)?;
        if n == 0 {
            break;
        }
        let chunk = buf.get(..n).unwrap_or_default();
        hasher.update(chunk);
        output.write_all(chunk)?;
        size += n as u64;
        progress(size);
    }
    Ok((size, hex(&hasher.finalize())))
}

/// Writes an archive to `<path>.partial`, renamed to `path` by [`Writer::finish`].
pub struct Writer {
    out: Counting<BufWriter<File>>,
    partial: PathBuf,
    path: PathBuf,
    parts: Vec<Part>,
}

impl Writer {
    /// Starts an archive at `path`, which must not exist (nor its `.partial`).
    pub fn create(path: &Path) -> Result<Self, Error> {
        if path.exists() {
            return Err(Error::Conflict(format!(
                "{} exists already: give a new file to write the backup to",
                path.display()
            )));
        }
        let partial = PathBuf::from(format!("{}.partial", path.display()));
        let file = crate::files::private_file()
            .write(true)
            .create_new(true)
            .open(&partial)
            .map_err(|e| Error::Unavailable(format!("cannot create {}: {e}", partial.display())))?;
        let mut out = Counting {
            inner: BufWriter::with_capacity(1 << 20, file),
            written: 0,
        };
        out.write_all(MAGIC).map_err(io(&partial))?;
        Ok(Writer {
            out,
            partial,
            path: path.to_owned(),
            parts: Vec::new(),
        })
    }

    /// Adds the file `source` as the part `name`, gzip-compressed when `gzip`; `progress`
    /// gets the bytes of `source` read so far.
    pub fn add_file(
        &mut self,
        name: &str,
        source: &Path,
        gzip: bool,
        progress: &mut dyn FnMut(u64),
    ) -> Result<(), Error> {
        let mut input = BufReader::with_capacity(1 << 20, File::open(source).map_err(io(source))?);
        self.add_reader(name, &mut input, gzip, progress)
    }

    /// Adds `bytes` as the part `name`, stored as they are.
    pub fn add_bytes(&mut self, name: &str, bytes: &[u8]) -> Result<(), Error> {
        self.add_reader(name, &mut &bytes[..], false, &mut |_| {})
    }

    fn add_reader(
        &mut self,
        name: &str,
        input: &mut dyn Read,
        gzip: bool,
        progress: &mut dyn FnMut(u64),
    ) -> Result<(), Error> {
        let offset = self.out.written;
        let fail = io(&self.partial);
        let (size, hash) = if gzip {
            let mut encoder =
                flate2::write::GzEncoder::new(&mut self.out, flate2::Compression::fast());
            let pumped = pump(input, &mut encoder, progress).map_err(&fail)?;
            encoder.finish().map_err(&fail)?;
            pumped
        } else {
            pump(input, &mut self.out, progress).map_err(&fail)?
        };
        self.parts.push(Part {
            name: name.to_owned(),
            offset,
            stored: self.out.written - offset,
            size,
            sha256: hash,
            encoding: if gzip { "gzip" } else { "none" }.to_owned(),
        });
        Ok(())
    }

    /// Writes the manifest (with the parts added) and the end marker, syncs the file and
    /// gives it its name; returns the manifest and the archive's size.
    pub fn finish(mut self, mut manifest: Manifest) -> Result<(Manifest, u64), Error> {
        manifest.parts = std::mem::take(&mut self.parts);
        let fail = io(&self.partial);
        let json = serde_json::to_vec(&manifest)
            .map_err(|e| Error::Internal(format!("backup manifest: {e}")))?;
        self.out.write_all(&json).map_err(&fail)?;
        self.out
            .write_all(&(json.len() as u64).to_be_bytes())
            .map_err(&fail)?;
        self.out.write_all(END).map_err(&fail)?;
        let size = self.out.written;
        let file = self
            .out
            .inner
            .into_inner()
            .map_err(|e| Error::Unavailable(format!("{}: {e}", self.partial.display())))?;
        file.sync_all().map_err(&fail)?;
        std::fs::rename(&self.partial, &self.path).map_err(&fail)?;
        Ok((manifest, size))
    }

    /// Removes the unfinished file (after a failure).
    pub fn abandon(self) {
        let partial = self.partial.clone();
        drop(self);
        let _ = std::fs::remove_file(partial);
    }
}

/// An archive opened for reading.
pub struct Archive {
    file: File,
    path: PathBuf,
    /// Its manifest.
    pub manifest: Manifest,
}

fn refused(path: &Path, why: impl std::fmt::Display) -> Error {
    Error::invalid(
        "backup",
        format!("{} is not a usable backup: {why}", path.display()),
    )
}

impl Archive {
    /// Opens `path`: checks the magic, the end marker and the manifest.
    pub fn open(path: &Path) -> Result<Self, Error> {
        let mut file = File::open(path).map_err(|e| {
            Error::invalid("backup", format!("cannot open {}: {e}", path.display()))
        })?;
        let len = file.metadata().map_err(io(path))?.len();
        let mut magic = [0u8; 17];
        if len < (MAGIC.len() + 16) as u64
            || file.read_exact(&mut magic).is_err()
            || &magic != MAGIC
        {
            return Err(refused(
                path,
                "it does not start as a rampart-backup/1 archive",
            ));
        }
        let mut tail = [0u8; 16];
        file.seek(SeekFrom::End(-16)).map_err(io(path))?;
        file.read_exact(&mut tail).map_err(io(path))?;
        let (length, end) = tail.split_at(8);
        if end != END {
            return Err(refused(
                path,
                "it is incomplete (cut short, or still being written)",
            ));
        }
        let mut length_bytes = [0u8; 8];
        length_bytes.copy_from_slice(length);
        let manifest_len = u64::from_be_bytes(length_bytes);
        if manifest_len > MAX_MANIFEST || manifest_len + 16 + MAGIC.len() as u64 > len {
            return Err(refused(path, "its manifest length is out of range"));
        }
        let start = len - 16 - manifest_len;
        file.seek(SeekFrom::Start(start)).map_err(io(path))?;
        let mut json = vec![0u8; usize::try_from(manifest_len).unwrap_or(0)];
        file.read_exact(&mut json).map_err(io(path))?;
        let manifest: Manifest = serde_json::from_slice(&json)
            .map_err(|e| refused(path, format!("its manifest does not read: {e}")))?;
        if manifest.format != FORMAT {
            return Err(refused(
                path,
                format!("format {:?}, this version reads {FORMAT}", manifest.format),
            ));
        }
        for part in &manifest.parts {
            let inside = part.offset >= MAGIC.len() as u64
                && part
                    .offset
                    .checked_add(part.stored)
                    .is_some_and(|e| e <= start);
            if !inside || !matches!(part.encoding.as_str(), "gzip" | "none") {
                return Err(refused(path, format!("part {} is out of place", part.name)));
            }
        }
        Ok(Archive {
            file,
            path: path.to_owned(),
            manifest,
        })
    }

    /// The part named `name`.
    pub fn part(&self, name: &str) -> Option<&Part> {
        self.manifest.parts.iter().find(|p| p.name == name)
    }

    /// Writes `part`'s content to the new file `dest` (0600), checking its size and hash;
    /// `progress` gets the bytes extracted so far. A mismatch removes `dest` and refuses.
    pub fn extract(
        &mut self,
        part: &Part,
        dest: &Path,
        progress: &mut dyn FnMut(u64),
    ) -> Result<(), Error> {
        let out = crate::files::private_file()
            .write(true)
            .create_new(true)
            .open(dest)
            .map_err(io(dest))?;
        let mut out = BufWriter::with_capacity(1 << 20, out);
        let result = self.copy_part(part, &mut out, progress).and_then(|()| {
            let file = out
                .into_inner()
                .map_err(|e| Error::Unavailable(format!("{}: {e}", dest.display())))?;
            file.sync_all().map_err(io(dest))
        });
        if result.is_err() {
            let _ = std::fs::remove_file(dest);
        }
        result
    }

    /// `part`'s content in memory (small parts: keys, configuration).
    pub fn read(&mut self, part: &Part) -> Result<Vec<u8>, Error> {
        let mut out = Vec::new();
        self.copy_part(part, &mut out, &mut |_| {})?;
        Ok(out)
    }

    fn copy_part(
        &mut self,
        part: &Part,
        out: &mut dyn Write,
        progress: &mut dyn FnMut(u64),
    ) -> Result<(), Error> {
        let path = self.path.clone();
        self.file
            .seek(SeekFrom::Start(part.offset))
            .map_err(io(&path))?;
        let stored = (&mut self.file).take(part.stored);
        let mut input: Box<dyn Read + '_> = if part.encoding == "gzip" {
            Box::new(flate2::read::GzDecoder::new(BufReader::with_capacity(
                1 << 20,
                stored,
            )))
        } else {
            Box::new(stored)
        };
        let mut hasher = Sha256::new();
        let mut size = 0u64;
        let mut buf = vec![0u8; 1 << 20];
        loop {
            let n = input
                .read(&mut buf)
                .map_err(|e| refused(&path, format!("part {} does not read: {e}", part.name)))?;
            if n == 0 {
                break;
            }
            size += n as u64;
            if size > part.size {
                return Err(refused(
                    &path,
                    format!("part {} is longer than its manifest says", part.name),
                ));
            }
            let chunk = buf.get(..n).unwrap_or_default();
            hasher.update(chunk);
            out.write_all(chunk).map_err(io(&path))?;
            progress(size);
        }
        if size != part.size || hex(&hasher.finalize()) != part.sha256 {
            return Err(refused(
                &path,
                format!(
                    "part {} does not match its SHA-256 in the manifest (altered or damaged)",
                    part.name
                ),
            ));
        }
        Ok(())
    }
}
