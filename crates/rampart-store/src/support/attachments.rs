//! Files attached to cases (checked by the caller with `rampart_support::attachment`),
//! stored with their SHA-256 and an event naming the file, its size and hash.

use super::cases::{case_details, case_in};
use super::*;

/// An attachment, without its content.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredAttachment {
    /// Its number in the case, from 1.
    pub seq: i64,
    /// The file name.
    pub name: String,
    /// The checked media type.
    pub media_type: String,
    /// Bytes.
    pub size: i64,
    /// SHA-256, lower-case hex.
    pub sha256: String,
    /// Who attached it (`provider:username`).
    pub author_name: String,
    /// When.
    pub created_at: OffsetDateTime,
}

const META: &str = "seq, name, media_type, size, sha256, author_name, created_at";

fn meta(row: &Row) -> Result<StoredAttachment, Error> {
    Ok(StoredAttachment {
        seq: row.get("seq")?,
        name: row.get("name")?,
        media_type: row.get("media_type")?,
        size: row.get("size")?,
        sha256: row.get("sha256")?,
        author_name: row.get("author_name")?,
        created_at: from_millis(row.get("created_at")?)?,
    })
}

impl Store {
    /// Attaches `content` (named `name`, of `media_type`, hashing to `sha256`) to case `id`,
    /// with its `support.case.attach` event.
    pub async fn support_attach(
        &self,
        ctx: &AuditContext,
        now: OffsetDateTime,
        id: &str,
        (name, media_type, sha256): (&str, &str, &str),
        content: &[u8],
    ) -> Result<StoredAttachment, Error> {
        let mut tx = self.write().await?;
        let case = case_in(&mut tx, id)
            .await?
            .ok_or(Error::NotFound { what: "case" })?;
        let seq: i64 = tx
            .scalar(
                "SELECT COALESCE(MAX(seq), 0) + 1 FROM support_attachments WHERE case_id = $1",
                [Arg::from(id)],
            )
            .await?;
        let (author, author_name) = crate::lifecycle::actor(ctx);
        let size = i64::try_from(content.len()).unwrap_or(i64::MAX);
        tx.exec(
            "INSERT INTO support_attachments (case_id, seq, name, media_type, size, sha256, \
             content, author_id, author_name, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
            [
                Arg::from(id),
                seq.into(),
                Arg::from(name),
                Arg::from(media_type),
                size.into(),
                Arg::from(sha256),
                Arg::from(content),
                Arg::from(&author),
                Arg::from(&author_name),
                to_millis(now).into(),
            ],
        )
        .await?;
        let mut details = case_details(&case);
        details["attachment"] = json!(seq);
        details["name"] = json!(name);
        details["size"] = json!(size);
        details["sha256"] = json!(sha256);
        crate::audit::record(
            &mut tx,
            ctx,
            now,
            "support.case.attach",
            format!("case:{id}"),
            details,
        )
        .await?;
        tx.commit().await?;
        Ok(StoredAttachment {
            seq,
            name: name.to_owned(),
            media_type: media_type.to_owned(),
            size,
            sha256: sha256.to_owned(),
            author_name,
            created_at: from_millis(to_millis(now))?,
        })
    }

    /// The attachments of case `id`, without their content, in order.
    pub async fn support_attachments(&self, id: &str) -> Result<Vec<StoredAttachment>, Error> {
        let mut tx = self.snapshot().await?;
        let rows = tx
            .rows(
                &format!("SELECT {META} FROM support_attachments WHERE case_id = $1 ORDER BY seq"),
                [Arg::from(id)],
            )
            .await?;
        rows.iter().map(meta).collect()
    }

    /// Attachment `seq` of case `id` with its content.
    pub async fn support_attachment(
        &self,
        id: &str,
        seq: i64,
    ) -> Result<Option<(StoredAttachment, Vec<u8>)>, Error> {
        let mut tx = self.snapshot().await?;
        let Some(row) = tx
            .row_opt(
                &format!(
                    "SELECT {META}, content FROM support_attachments \
                     WHERE case_id = $1 AND seq = $2"
                ),
                [Arg::from(id), seq.into()],
            )
            .await?
        else {
            return Ok(None);
        };
        Ok(Some((meta(&row)?, row.get("content")?)))
    }
}
