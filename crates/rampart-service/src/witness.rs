//! The witness: a separate process (`rampart witness serve`) with its own Ed25519 key and
//! state file that cosigns a log's checkpoints once it has seen them consistent with the
//! last one it cosigned. The decisions are `rampart_audit::witness::judge`; this module
//! keeps the files and answers one request at a time.
//!
//! Its directory holds `witness.key` (the C2SP private key text, 0600) and
//! `witness-state.json`, per log: the origin, the log's current and retired verifier keys,
//! and the size and root it cosigned last. The state is written (to a new file, synced,
//! then renamed over the old one) before a cosignature is answered, so a cosignature is
//! never given for a state the witness could forget; a refused request writes nothing.

use std::path::{Path, PathBuf};

use rampart_audit::keychain::KeyChain;
use rampart_audit::witness::{judge, AddCheckpoint, Refusal, WitnessedLog};
use rampart_audit::{from_hex, to_hex, SigningKey, VerifierKey};
use rampart_core::Error;
use serde::{Deserialize, Serialize};
use tokio::sync::Mutex;

/// The witness's private key file in its directory.
pub const KEY_FILE: &str = "witness.key";
/// Its state file.
pub const STATE_FILE: &str = "witness-state.json";

#[derive(Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct StateFile {
    logs: Vec<LogFile>,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct LogFile {
    origin: String,
    key: String,
    retired: Vec<String>,
    size: u64,
    root: String,
}

/// A running witness.
pub struct Witness {
    dir: PathBuf,
    key: SigningKey,
    logs: Mutex<Vec<WitnessedLog>>,
}

impl std::fmt::Debug for Witness {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Witness")
            .field("dir", &self.dir)
            .field("key", &self.key)
            .finish_non_exhaustive()
    }
}

/// What a request came to.
#[derive(Debug)]
pub enum Outcome {
    /// The cosignature line.
    Cosigned(String),
    /// Refused; nothing changed.
    Refused(Refusal),
}

fn io(path: &Path) -> impl Fn(std::io::Error) -> Error + '_ {
    move |e| Error::Internal(format!("{}: {e}", path.display()))
}

fn to_log(file: LogFile) -> Result<WitnessedLog, Error> {
    let parse =
        |t: &str| VerifierKey::parse(t).map_err(|e| Error::Internal(format!("witness state: {e}")));
    let retired = file
        .retired
        .iter()
        .map(|t| parse(t))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(WitnessedLog {
        chain: KeyChain::from_parts(parse(&file.key)?, retired),
        root: from_hex(&file.root).map_err(|e| Error::Internal(format!("witness state: {e}")))?,
        origin: file.origin,
        size: file.size,
    })
}

fn to_file(log: &WitnessedLog) -> LogFile {
    LogFile {
        origin: log.origin.clone(),
        key: log.chain.current().to_text(),
        retired: log
            .chain
            .retired()
            .iter()
            .map(VerifierKey::to_text)
            .collect(),
        size: log.size,
        root: to_hex(&log.root),
    }
}

fn read_state(dir: &Path) -> Result<Vec<WitnessedLog>, Error> {
    let path = dir.join(STATE_FILE);
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(io(&path)(e)),
    };
    let file: StateFile = serde_json::from_str(&text)
        .map_err(|e| Error::Internal(format!("{}: {e}", path.display())))?;
    file.logs.into_iter().map(to_log).collect()
}

fn write_state(dir: &Path, logs: &[WitnessedLog]) -> Result<(), Error> {
    let path = dir.join(STATE_FILE);
    let file = StateFile {
        logs: logs.iter().map(to_file).collect(),
    };
    let text = serde_json::to_string_pretty(&file)
        .map_err(|e| Error::Internal(format!("witness state: {e}")))?;
    let tmp = dir.join(format!("{STATE_FILE}.new"));
    let _ = std::fs::remove_file(&tmp);
    crate::files::write_new_private(&tmp, &[text.as_bytes(), b"\n"]).map_err(io(&tmp))?;
    std::fs::rename(&tmp, &path).map_err(io(&path))?;
    if let Ok(d) = std::fs::File::open(dir) {
        let _ = d.sync_all();
    }
    Ok(())
}

fn read_key(dir: &Path) -> Result<SigningKey, Error> {
    let path = dir.join(KEY_FILE);
    let text = std::fs::read_to_string(&path).map_err(io(&path))?;
    SigningKey::parse(text.trim()).map_err(|e| Error::Internal(format!("{}: {e}", path.display())))
}

/// Prepares a witness directory to follow the log `origin`, whose checkpoints its key
/// `log_key` signs now: creates the directory (0700) and the witness key named `name` when
/// missing, and adds the log. Returns the witness's verifier key. A log it follows already
/// is refused.
pub fn init(dir: &Path, name: &str, origin: &str, log_key: &str) -> Result<String, Error> {
    let log_key =
        VerifierKey::parse(log_key).map_err(|e| Error::invalid("log_key", e.to_string()))?;
    if origin.is_empty() || origin.contains(['\n', '\r']) {
        return Err(Error::invalid("origin", "a log origin, one line"));
    }
    crate::files::create_private_dir(dir).map_err(io(dir))?;
    let key_path = dir.join(KEY_FILE);
    let key = if key_path.exists() {
        read_key(dir)?
    } else {
        let mut seed = zeroize::Zeroizing::new([0u8; 32]);
        getrandom::fill(&mut seed[..]).map_err(|e| Error::Internal(format!("random: {e}")))?;
        let key = SigningKey::from_seed(name, *seed)
            .map_err(|e| Error::invalid("name", e.to_string()))?;
        let text = zeroize::Zeroizing::new(key.to_text());
        crate::files::write_new_private(&key_path, &[text.as_bytes(), b"\n"])
            .map_err(io(&key_path))?;
        key
    };
    let mut logs = read_state(dir)?;
    if logs.iter().any(|l| l.origin == origin) {
        return Err(Error::Conflict(format!(
            "the witness follows the log {origin:?} already"
        )));
    }
    logs.push(WitnessedLog {
        origin: origin.to_owned(),
        chain: KeyChain::new(log_key),
        size: 0,
        root: rampart_audit::empty_root(),
    });
    write_state(dir, &logs)?;
    Ok(key.verifier_key())
}

impl Witness {
    /// Opens a prepared witness directory.
    pub fn open(dir: &Path) -> Result<Self, Error> {
        let key = read_key(dir)?;
        let logs = read_state(dir)?;
        if logs.is_empty() {
            return Err(Error::invalid(
                "dir",
                format!(
                    "{} follows no log: run rampart witness init first",
                    dir.display()
                ),
            ));
        }
        Ok(Self {
            dir: dir.to_owned(),
            key,
            logs: Mutex::new(logs),
        })
    }

    /// The witness's verifier key.
    pub fn verifier_key(&self) -> String {
        self.key.verifier_key()
    }

    /// Decides a request (its text); on a cosignature, the new state is on disk first.
    pub async fn add_checkpoint(&self, body: &str) -> Result<Outcome, Error> {
        let request = match AddCheckpoint::parse(body) {
            Ok(r) => r,
            Err(refusal) => return Ok(Outcome::Refused(refusal)),
        };
        let mut logs = self.logs.lock().await;
        let decided = judge(
            |origin| logs.iter().find(|l| l.origin == origin),
            &request,
            &self.key,
        );
        let (next, line) = match decided {
            Ok(d) => d,
            Err(refusal) => {
                tracing::warn!(%refusal, "checkpoint refused");
                return Ok(Outcome::Refused(refusal));
            }
        };
        let mut updated = logs.clone();
        if let Some(slot) = updated.iter_mut().find(|l| l.origin == next.origin) {
            *slot = next;
        }
        write_state(&self.dir, &updated)?;
        *logs = updated;
        Ok(Outcome::Cosigned(line))
    }
}
