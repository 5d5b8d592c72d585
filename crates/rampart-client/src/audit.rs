//! The audit log (`/api/v1/audit/*`): search by page, every match streamed as CSV or JSON
//! lines, integration reports, signed checkpoints, inclusion and consistency proofs.

use rampart_api::{
    AuditEventPage, AuditEventsQuery, CheckpointView, ConsistencyProofView, ConsistencyQuery,
    InclusionProofView, InclusionQuery, IntegrationReportRequest, IntegrationReportResponse,
};
use reqwest::Method;

use crate::{Client, ClientError};

/// The audit operations of a [`Client`] (administrators and auditors, except
/// [`Audit::report_integration`]).
#[derive(Debug, Clone, Copy)]
pub struct Audit<'c> {
    client: &'c Client,
}

/// The form of a streamed export of audit events.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExportFormat {
    /// CSV with a header line (`text/csv`).
    Csv,
    /// One JSON event per line (`application/jsonl`).
    Jsonl,
}

impl ExportFormat {
    /// The `format` parameter's value.
    pub fn as_str(self) -> &'static str {
        match self {
            ExportFormat::Csv => "csv",
            ExportFormat::Jsonl => "jsonl",
        }
    }
}

impl<'c> Audit<'c> {
    pub(crate) fn new(client: &'c Client) -> Self {
        Self { client }
    }

    /// `GET /api/v1/audit/events`: a page of events, newest first; `next_cursor` goes into
    /// the query's `cursor` for the next (older) page. The query's `format` is ignored
    /// (see [`Audit::export`]).
    pub async fn events(&self, query: &AuditEventsQuery) -> Result<AuditEventPage, ClientError> {
        let query = AuditEventsQuery {
            format: None,
            ..query.clone()
        };
        self.client.get_query(&["audit", "events"], &query).await
    }

    /// `GET /api/v1/audit/events?format=…`: every event matching the query's filters,
    /// oldest first, streamed: read it with [`Download::chunk`] as it arrives. The query's
    /// `cursor`, `limit` and `format` are ignored.
    pub async fn export(
        &self,
        query: &AuditEventsQuery,
        format: ExportFormat,
    ) -> Result<Download, ClientError> {
        let query = AuditEventsQuery {
            cursor: None,
            limit: None,
            format: Some(format.as_str().to_owned()),
            ..query.clone()
        };
        let response = self
            .client
            .call(Method::GET, &["audit", "events"])
            .query(&query)
            .send()
            .await?;
        Ok(Download {
            response,
            server: self.client.server.clone(),
        })
    }

    /// `POST /api/v1/audit/integration`: calls a service made or received, recorded in the
    /// `integration` stream under the caller's name, all or none.
    pub async fn report_integration(
        &self,
        request: &IntegrationReportRequest,
    ) -> Result<IntegrationReportResponse, ClientError> {
        self.client.post(&["audit", "integration"], request).await
    }

    /// `GET /api/v1/audit/checkpoint`: the newest signed checkpoint.
    pub async fn checkpoint(&self) -> Result<CheckpointView, ClientError> {
        self.client.get(&["audit", "checkpoint"]).await
    }

    /// `POST /api/v1/audit/checkpoint`: signs a checkpoint of the log as it is now.
    pub async fn sign_checkpoint(&self) -> Result<CheckpointView, ClientError> {
        self.client.post_bare(&["audit", "checkpoint"]).await
    }

    /// `GET /api/v1/audit/proof/inclusion`: the audit path of an event (RFC 9162 §2.1.3).
    pub async fn inclusion(
        &self,
        query: &InclusionQuery,
    ) -> Result<InclusionProofView, ClientError> {
        self.client
            .get_query(&["audit", "proof", "inclusion"], query)
            .await
    }

    /// `GET /api/v1/audit/events/{seq}/proof`: the event's inclusion-proof bundle
    /// (`rampart-audit-proof/1`) against the newest signed checkpoint, as its text.
    pub async fn proof_bundle(&self, seq: i64) -> Result<String, ClientError> {
        let seq = seq.to_string();
        let response = self
            .client
            .call(
                reqwest::Method::GET,
                &["audit", "events", seq.as_str(), "proof"],
            )
            .send()
            .await?;
        response
            .text()
            .await
            .map_err(|source| ClientError::Transport {
                server: self.client.server.clone(),
                source,
            })
    }

    /// `GET /api/v1/audit/proof/consistency`: that a newer tree extends an older one
    /// (RFC 9162 §2.1.4).
    pub async fn consistency(
        &self,
        query: &ConsistencyQuery,
    ) -> Result<ConsistencyProofView, ClientError> {
        self.client
            .get_query(&["audit", "proof", "consistency"], query)
            .await
    }
}

/// A streamed answer, read chunk by chunk in constant memory.
#[derive(Debug)]
pub struct Download {
    response: reqwest::Response,
    server: String,
}

impl Download {
    /// The answer's `Content-Type`.
    pub fn content_type(&self) -> Option<&str> {
        self.response
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
    }

    /// The next chunk of the body as it arrives; `None` at its end.
    pub async fn chunk(&mut self) -> Result<Option<bytes::Bytes>, ClientError> {
        self.response
            .chunk()
            .await
            .map_err(|source| ClientError::Transport {
                server: self.server.clone(),
                source,
            })
    }

    /// Writes the rest of the body to `out`, chunk by chunk; returns the bytes written.
    pub async fn copy_to(&mut self, out: &mut impl std::io::Write) -> Result<u64, CopyError> {
        let mut written = 0u64;
        while let Some(chunk) = self.chunk().await? {
            out.write_all(&chunk)?;
            written += chunk.len() as u64;
        }
        out.flush()?;
        Ok(written)
    }
}

/// Why [`Download::copy_to`] stopped.
#[derive(Debug, thiserror::Error)]
pub enum CopyError {
    /// Reading from the server failed.
    #[error(transparent)]
    Client(#[from] ClientError),
    /// Writing failed.
    #[error("cannot write the download")]
    Write(#[from] std::io::Error),
}
