//! Sending checkpoints to the configured witnesses (`[audit] witnesses`) and keeping their
//! cosignatures beside the checkpoints.
//!
//! After each signing, the leader sends the newest checkpoint to every witness that has not
//! cosigned it, with the consistency proof from the size that witness cosigned last (from
//! the store, or as the witness says when it answers 409), preceded by the rotation
//! checkpoints the witness has not seen, so it follows the chain of keys. A cosignature is
//! stored only when it verifies under the witness's configured key. A witness that refuses
//! a checkpoint as a fork raises the node's fork alarm (`rampart_audit_fork_alert`, which
//! the alerts raise as `checkpoint_fork`).

use std::time::Duration;

use rampart_audit::witness::AddCheckpoint;
use rampart_core::Error;
use rampart_store::StoredCheckpoint;
use time::OffsetDateTime;

use super::*;
use crate::config::witnesses::WitnessTarget;

/// How long one request to a witness may take.
const TIMEOUT: Duration = Duration::from_secs(10);

/// The path of a witness's endpoint under its URL.
pub const ADD_CHECKPOINT: &str = "/add-checkpoint";

/// A configured witness and the one HTTP client its connections go through: trusting the
/// public roots, or only the certificate authorities of its `ca=` file.
#[derive(Debug, Clone)]
pub struct Cosigner {
    /// The witness as configured.
    pub target: WitnessTarget,
    client: reqwest::Client,
}

impl Cosigner {
    /// Builds `target`'s client, reading its CA file if it has one: a file that cannot be
    /// read or holds no PEM certificate is an error naming the witness and the file.
    pub fn new(target: WitnessTarget) -> Result<Self, Error> {
        let mut builder = reqwest::Client::builder()
            .timeout(TIMEOUT)
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy();
        if let Some(path) = &target.ca {
            let refused = |why: String| {
                Error::invalid(
                    "audit.witnesses",
                    format!("the CA file {path} of witness {}: {why}", target.url),
                )
            };
            let pem = std::fs::read(path).map_err(|e| refused(format!("cannot be read ({e})")))?;
            let certificates = reqwest::Certificate::from_pem_bundle(&pem)
                .map_err(|e| refused(format!("is not PEM ({e})")))?;
            if certificates.is_empty() {
                return Err(refused(
                    "holds no PEM certificate (-----BEGIN CERTIFICATE-----)".to_owned(),
                ));
            }
            builder = builder.tls_built_in_root_certs(false);
            for certificate in certificates {
                builder = builder.add_root_certificate(certificate);
            }
        }
        let client = builder.build().map_err(|e| {
            Error::invalid("audit.witnesses", format!("witness {}: {e}", target.url))
        })?;
        Ok(Self { target, client })
    }

    /// The cosigners of `[audit] witnesses` (checked when the configuration was loaded),
    /// their CA files read.
    pub fn all(witnesses: &str) -> Result<Vec<Self>, Error> {
        crate::config::witnesses::parse_witnesses(witnesses)
            .map_err(|e| Error::invalid("audit.witnesses", e))?
            .into_iter()
            .map(Self::new)
            .collect()
    }
}

/// What a witness answered.
enum Answer {
    Cosigned(String),
    /// 409: the witness has cosigned this size.
    Size(u64),
    Fork(String),
    Refused(String),
}

impl AuditLog {
    /// Sends the newest checkpoint to every witness that has not cosigned it; returns how
    /// many cosignatures were stored. A witness that cannot be reached is logged and tried
    /// again after the next signing.
    pub async fn cosign(
        &self,
        witnesses: &[Cosigner],
        now: OffsetDateTime,
        metrics: &Metrics,
    ) -> Result<usize, Error> {
        if witnesses.is_empty() {
            return Ok(0);
        }
        let Some(latest) = self.store.audit_latest_checkpoint().await? else {
            return Ok(0);
        };
        let mut stored = 0;
        for cosigner in witnesses {
            let witness = &cosigner.target;
            let cosigned = latest.cosignatures.iter().any(|line| {
                rampart_audit::open_text(&format!("{}{line}", latest.note), &witness.key).is_ok()
            });
            if cosigned {
                continue;
            }
            match self.cosign_one(cosigner, &latest, now, metrics).await {
                Ok(()) => stored += 1,
                Err(e) => {
                    tracing::warn!(witness = %witness.url, error = %e, "checkpoint not cosigned")
                }
            }
        }
        Ok(stored)
    }

    async fn witnessed_size(&self, label: &str) -> Result<u64, Error> {
        if let Some(size) = self.witnessed.lock().await.get(label) {
            return Ok(*size);
        }
        Ok(self
            .store
            .audit_cosigned_sizes()
            .await?
            .get(label)
            .copied()
            .unwrap_or(0))
    }

    async fn cosign_one(
        &self,
        cosigner: &Cosigner,
        latest: &StoredCheckpoint,
        now: OffsetDateTime,
        metrics: &Metrics,
    ) -> Result<(), Error> {
        let witness = &cosigner.target;
        let label = witness.label();
        let mut old = self.witnessed_size(&label).await?;
        // The rotations the witness has not seen, then the newest checkpoint.
        let mut queue: Vec<StoredCheckpoint> = Vec::new();
        for g in self.generations().await?.iter().skip(1) {
            if let Some(at) = g.from_size.filter(|s| *s > old && *s < latest.size) {
                queue.extend(self.store.audit_checkpoints(at, at, false).await?);
            }
        }
        queue.push(latest.clone());
        let mut conflicts = 0;
        let mut at = 0;
        while let Some(checkpoint) = queue.get(at) {
            let proof = if old == 0 || old >= checkpoint.size {
                Vec::new()
            } else {
                self.consistency_proof(old, checkpoint.size).await?.1
            };
            let request = AddCheckpoint {
                old_size: old,
                proof,
                note: checkpoint.note.clone(),
            };
            match send(cosigner, &request).await? {
                Answer::Cosigned(line) => {
                    let cosigned = format!("{}{line}", checkpoint.note);
                    rampart_audit::open_text(&cosigned, &witness.key).map_err(|e| {
                        Error::Integration(format!(
                            "witness {} answered a cosignature that does not verify under its configured key: {e}",
                            witness.url
                        ))
                    })?;
                    self.store
                        .audit_put_cosignature(checkpoint.size, &label, &line, now)
                        .await?;
                    old = checkpoint.size;
                    self.witnessed.lock().await.insert(label.clone(), old);
                    at += 1;
                }
                Answer::Size(size) if conflicts < 2 => {
                    conflicts += 1;
                    old = size;
                    self.witnessed.lock().await.insert(label.clone(), size);
                }
                Answer::Size(size) => {
                    return Err(Error::Integration(format!(
                        "witness {} keeps answering that it has size {size}",
                        witness.url
                    )))
                }
                Answer::Fork(reason) => {
                    metrics.audit_fork_alert.set(1);
                    tracing::error!(
                        witness = %witness.url,
                        size = checkpoint.size,
                        %reason,
                        "a witness refused the checkpoint as a fork of what it cosigned before"
                    );
                    return Err(Error::Integration(format!(
                        "witness {} refused checkpoint {} as a fork: {reason}",
                        witness.url, checkpoint.size
                    )));
                }
                Answer::Refused(reason) => {
                    return Err(Error::Integration(format!(
                        "witness {} refused checkpoint {}: {reason}",
                        witness.url, checkpoint.size
                    )))
                }
            }
        }
        Ok(())
    }
}

async fn send(cosigner: &Cosigner, request: &AddCheckpoint) -> Result<Answer, Error> {
    let witness = &cosigner.target;
    // The whole chain of causes: a refused certificate is named in the innermost.
    let unreachable = |e: reqwest::Error| {
        let mut text = e.to_string();
        let mut cause = std::error::Error::source(&e);
        while let Some(c) = cause {
            text.push_str(&format!(": {c}"));
            cause = c.source();
        }
        Error::Integration(format!("witness {}: {text}", witness.url))
    };
    let response = cosigner
        .client
        .post(format!("{}{ADD_CHECKPOINT}", witness.url))
        .header(reqwest::header::CONTENT_TYPE, "text/plain; charset=utf-8")
        .body(request.to_text())
        .send()
        .await
        .map_err(unreachable)?;
    let status = response.status().as_u16();
    let text = response.text().await.map_err(unreachable)?;
    let text: String = text.chars().take(2_000).collect();
    Ok(match status {
        200 => Answer::Cosigned(text),
        409 => match text.trim().strip_prefix("size ").map(str::parse::<u64>) {
            Some(Ok(size)) => Answer::Size(size),
            _ => Answer::Refused(format!("409 without a size: {text}")),
        },
        422 => Answer::Fork(text.trim().to_owned()),
        other => Answer::Refused(format!("{other}: {}", text.trim())),
    })
}
