//! SAML sign-in's bookkeeping (migration 0012): the AuthnRequests issued, each answered at
//! most once before it expires; the assertions consumed, remembered until they expire so
//! none is used twice (on every node: the check and the insert are one statement); and the
//! service provider's signing certificates, public, one per node.
//!
//! None of this changes anyone's rights, so none of it is an event of its own: the sign-in
//! it serves is (`auth.login`, written by the service).

use rampart_core::Error;
use time::OffsetDateTime;

use crate::backend::{from_millis, from_millis_opt, to_millis};
use crate::Store;

/// An AuthnRequest as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SamlRequest {
    /// Its ID (the response's `InResponseTo`).
    pub id: String,
    /// The user provider it went to.
    pub user_provider: String,
    /// `it` or `end`: who is signing in.
    pub provider: String,
    /// The return address, the RelayState sent with it.
    pub relay_state: String,
    /// The SHA-256 (hex) of the secret in the cookie of the browser that started it; none
    /// when it started over plain HTTP.
    pub browser_hash: Option<String>,
    /// When it stops being answerable.
    pub expires_at: OffsetDateTime,
    /// When a response consumed it.
    pub consumed_at: Option<OffsetDateTime>,
}

/// What consuming a response did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Consumed {
    /// The assertion is remembered and the request consumed.
    Done,
    /// The assertion was consumed before: a replay. Nothing changed.
    Replayed,
    /// The request was consumed meanwhile, expired, or is not this provider's. Nothing
    /// changed.
    RequestGone,
}

impl Store {
    /// Stores an AuthnRequest just issued, and forgets requests and assertions expired before
    /// `now` (a request an hour after it expired).
    pub async fn record_saml_request(
        &self,
        r: &SamlRequest,
        now: OffsetDateTime,
    ) -> Result<(), Error> {
        let at = to_millis(now);
        let mut owned = self.write().await?;
        owned
            .exec(
                "DELETE FROM saml_requests WHERE expires_at < $1",
                [(at - 3_600_000).into()],
            )
            .await?;
        owned
            .exec(
                "DELETE FROM saml_assertions WHERE expires_at < $1",
                [at.into()],
            )
            .await?;
        owned
            .exec(
                "INSERT INTO saml_requests (id, user_provider, provider, relay_state, \
                 browser_hash, created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
                [
                    r.id.as_str().into(),
                    r.user_provider.as_str().into(),
                    r.provider.as_str().into(),
                    r.relay_state.as_str().into(),
                    r.browser_hash.as_deref().into(),
                    at.into(),
                    to_millis(r.expires_at).into(),
                ],
            )
            .await?;
        owned.commit().await
    }

    /// The AuthnRequest `id`, if Rampart issued it (and has not forgotten it).
    pub async fn saml_request(&self, id: &str) -> Result<Option<SamlRequest>, Error> {
        let row = self
            .reader()
            .row_opt(
                "SELECT id, user_provider, provider, relay_state, browser_hash, expires_at, \
                 consumed_at FROM saml_requests WHERE id = $1",
                [id.into()],
            )
            .await?;
        let Some(row) = row else {
            return Ok(None);
        };
        Ok(Some(SamlRequest {
            id: row.get("id")?,
            user_provider: row.get("user_provider")?,
            provider: row.get("provider")?,
            relay_state: row.get("relay_state")?,
            browser_hash: row.get("browser_hash")?,
            expires_at: from_millis(row.get("expires_at")?)?,
            consumed_at: from_millis_opt(row.get("consumed_at")?)?,
        }))
    }

    /// Whether the assertion `assertion_id` of `user_provider` was consumed (and is still
    /// remembered).
    pub async fn saml_assertion_seen(
        &self,
        user_provider: &str,
        assertion_id: &str,
    ) -> Result<bool, Error> {
        let n: Option<i64> = self
            .reader()
            .scalar_opt(
                "SELECT expires_at FROM saml_assertions \
                 WHERE user_provider = $1 AND assertion_id = $2",
                [user_provider.into(), assertion_id.into()],
            )
            .await?;
        Ok(n.is_some())
    }

    /// Consumes a response: remembers its assertion until `remember_until` and marks the
    /// request it answers consumed, in one transaction, or changes nothing and says why.
    pub async fn consume_saml_response(
        &self,
        user_provider: &str,
        request_id: &str,
        assertion_id: &str,
        remember_until: OffsetDateTime,
        now: OffsetDateTime,
    ) -> Result<Consumed, Error> {
        let at = to_millis(now);
        let mut owned = self.write().await?;
        let fresh = owned
            .exec(
                "INSERT INTO saml_assertions (user_provider, assertion_id, expires_at) \
                 VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
                [
                    user_provider.into(),
                    assertion_id.into(),
                    to_millis(remember_until).into(),
                ],
            )
            .await?;
        if fresh == 0 {
            return Ok(Consumed::Replayed);
        }
        let taken = owned
            .exec(
                "UPDATE saml_requests SET consumed_at = $1 WHERE id = $2 \
                 AND user_provider = $3 AND consumed_at IS NULL AND expires_at > $1",
                [at.into(), request_id.into(), user_provider.into()],
            )
            .await?;
        if taken == 0 {
            return Ok(Consumed::RequestGone);
        }
        owned.commit().await?;
        Ok(Consumed::Done)
    }

    /// Publishes a node's signing certificate (DER, base64) under its fingerprint; publishing
    /// it again changes nothing.
    pub async fn publish_saml_certificate(
        &self,
        fingerprint: &str,
        der_base64: &str,
        now: OffsetDateTime,
    ) -> Result<(), Error> {
        let mut owned = self.write().await?;
        owned
            .exec(
                "INSERT INTO saml_sp_certificates (fingerprint, der, created_at) \
                 VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
                [fingerprint.into(), der_base64.into(), to_millis(now).into()],
            )
            .await?;
        owned.commit().await
    }

    /// Every node's signing certificate (DER, base64), oldest first.
    pub async fn saml_certificates(&self) -> Result<Vec<String>, Error> {
        self.reader()
            .scalars(
                "SELECT der FROM saml_sp_certificates ORDER BY created_at, fingerprint",
                [],
            )
            .await
    }
}
