//! Passkeys as stored (migration 0015): a user's registered credentials, and the
//! server-side state of a WebAuthn ceremony between its two halves; and (migration 0023)
//! the state of a sign-in by a passkey the browser discovers, bound to no user until its
//! answer names one.
//!
//! A ceremony's state is bound to its user and to what it is for ([`Ceremony`]): the
//! pending login it completes, or the session that registers a passkey or steps up. It is
//! taken (deleted) by the answer that uses it, whatever the answer's fate, so a challenge
//! works once; asking for a new one replaces the old. A challenge is no change of anyone's
//! access and is not audited; what it leads to is (`user.mfa.passkey.add`, the sign-in or
//! step-up with `"factor": "passkey"`, or a failed one). Using a passkey spends its counter
//! in `identity::mfa`'s `spend`, inside the transaction that opens the session.

use rampart_core::{AuditContext, Error, Session, SessionId, User, UserId};
use serde_json::json;
use time::OffsetDateTime;
use uuid::Uuid;

use super::mfa::{spend, Proof, Spent};
use super::sessions::{login_success_in, SignedInWith};
use super::user_target;
use crate::backend::{from_millis, to_millis};
use crate::db::{Arg, Tx};
use crate::{NewSession, Store};

fn hex(hash: &[u8; 32]) -> String {
    hash.iter().map(|b| format!("{b:02x}")).collect()
}

/// What a WebAuthn ceremony is for, and what it is bound to besides its user.
#[derive(Debug, Clone, Copy)]
pub enum Ceremony<'a> {
    /// The second step of the pending login whose token hashes to this.
    Login(&'a [u8; 32]),
    /// Registering a passkey in this session.
    Register(SessionId),
    /// A step-up in this session.
    StepUp(SessionId),
    /// Enrolling a first passkey through the enrolment whose token hashes to this.
    Enrol(&'a [u8; 32]),
}

impl Ceremony<'_> {
    fn key(&self) -> (&'static str, String) {
        match self {
            Ceremony::Login(hash) => ("login", hex(hash)),
            Ceremony::Register(session) => ("register", session.to_string()),
            Ceremony::StepUp(session) => ("step-up", session.to_string()),
            Ceremony::Enrol(hash) => ("enrol", hex(hash)),
        }
    }
}

/// Which bound kept a discovery from being kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Waiting {
    /// The source address has as many waiting as it may.
    FromThisSource,
    /// Every source together has as many waiting as the node keeps.
    InAll,
}

/// A registered passkey.
#[derive(Debug, Clone)]
pub struct StoredPasskey {
    /// Rampart's id of it.
    pub id: Uuid,
    /// The name its user gave it.
    pub name: String,
    /// The authenticator's credential id.
    pub credential_id: Vec<u8>,
    /// The credential as `rampart_identity::passkey` keeps it.
    pub credential: String,
    /// The last signature counter accepted.
    pub sign_count: i64,
    /// When it was registered.
    pub created_at: OffsetDateTime,
    /// When it last verified a sign-in or step-up.
    pub last_used_at: Option<OffsetDateTime>,
}

impl Store {
    /// The passkeys of `user`, oldest first.
    pub async fn passkeys(&self, user: UserId) -> Result<Vec<StoredPasskey>, Error> {
        let rows = self
            .reader()
            .rows(
                "SELECT id, name, credential_id, credential, sign_count, created_at, \
                 last_used_at FROM webauthn_credentials WHERE user_id = $1 \
                 ORDER BY created_at, id",
                [user.to_string().into()],
            )
            .await?;
        rows.iter()
            .map(|row| {
                let id: String = row.get("id")?;
                Ok(StoredPasskey {
                    id: Uuid::parse_str(&id)
                        .map_err(|_| Error::Internal("a stored passkey id is no UUID".into()))?,
                    name: row.get("name")?,
                    credential_id: row.get("credential_id")?,
                    credential: row.get("credential")?,
                    sign_count: row.get("sign_count")?,
                    created_at: from_millis(row.get("created_at")?)?,
                    last_used_at: row
                        .get::<Option<i64>, _>("last_used_at")?
                        .map(from_millis)
                        .transpose()?,
                })
            })
            .collect()
    }

    /// Keeps the first half of a ceremony for `user`, in place of any earlier one for the
    /// same purpose and binding, until `expires_at`. Lapsed ones are cleared on the way.
    pub async fn passkey_challenge_put(
        &self,
        ceremony: Ceremony<'_>,
        user: UserId,
        state: &str,
        expires_at: OffsetDateTime,
        now: OffsetDateTime,
    ) -> Result<(), Error> {
        let (purpose, binding) = ceremony.key();
        let mut owned = self.write().await?;
        let tx = &mut owned;
        tx.exec(
            "DELETE FROM webauthn_challenges WHERE expires_at <= $1 \
             OR (purpose = $2 AND binding = $3)",
            [
                to_millis(now).into(),
                purpose.into(),
                binding.as_str().into(),
            ],
        )
        .await?;
        tx.exec(
            "INSERT INTO webauthn_challenges (purpose, binding, user_id, state, expires_at) \
             VALUES ($1, $2, $3, $4, $5)",
            [
                purpose.into(),
                binding.as_str().into(),
                user.to_string().into(),
                state.into(),
                to_millis(expires_at).into(),
            ],
        )
        .await?;
        owned.commit().await
    }

    /// Takes the waiting ceremony of `user` for `ceremony`: deleted, its state returned,
    /// unless there is none, it lapsed by `now`, or it is another user's. Of two requests
    /// racing for one, one gets it.
    pub async fn passkey_challenge_take(
        &self,
        ceremony: Ceremony<'_>,
        user: UserId,
        now: OffsetDateTime,
    ) -> Result<Option<String>, Error> {
        let (purpose, binding) = ceremony.key();
        let mut owned = self.write().await?;
        let tx = &mut owned;
        let row = tx
            .row_opt(
                "SELECT state FROM webauthn_challenges WHERE purpose = $1 AND binding = $2 \
                 AND user_id = $3 AND expires_at > $4",
                [
                    purpose.into(),
                    binding.as_str().into(),
                    user.to_string().into(),
                    to_millis(now).into(),
                ],
            )
            .await?;
        let Some(row) = row else {
            return Ok(None);
        };
        let state: String = row.get("state")?;
        let taken = tx
            .exec(
                "DELETE FROM webauthn_challenges WHERE purpose = $1 AND binding = $2 \
                 AND user_id = $3",
                [
                    purpose.into(),
                    binding.as_str().into(),
                    user.to_string().into(),
                ],
            )
            .await?;
        owned.commit().await?;
        Ok((taken == 1).then_some(state))
    }

    /// Registers a passkey for `user`, named `name`; `session` (which registered it with a
    /// verified user) counts as having verified a second factor now. A credential id
    /// registered already, to anyone, is refused. Records `user.mfa.passkey.add`.
    #[allow(clippy::too_many_arguments)] // one transaction's inputs, each named
    pub async fn passkey_add(
        &self,
        user: UserId,
        name: &str,
        credential_id: &[u8],
        credential: &str,
        sign_count: u32,
        session: SessionId,
        now: OffsetDateTime,
        ctx: &AuditContext,
    ) -> Result<StoredPasskey, Error> {
        let mut owned = self.write().await?;
        let tx = &mut owned;
        let added =
            insert_passkey(tx, user, name, credential_id, credential, sign_count, now).await?;
        tx.exec(
            "UPDATE sessions SET second_factor_at = $1 WHERE id = $2 AND user_id = $3",
            [
                to_millis(now).into(),
                session.to_string().into(),
                user.to_string().into(),
            ],
        )
        .await?;
        crate::audit::record(
            tx,
            ctx,
            now,
            "user.mfa.passkey.add",
            user_target(user),
            json!({ "factor": "passkey", "passkey": added.id.to_string(), "name": name }),
        )
        .await?;
        crate::fence::credentials_changed(tx).await?;
        owned.commit().await?;
        self.credentials_changed();
        Ok(added)
    }

    /// Removes passkey `id` of `user`; `NotFound` when `user` has no such passkey. Records
    /// `user.mfa.passkey.remove`.
    pub async fn passkey_remove(
        &self,
        user: UserId,
        id: Uuid,
        now: OffsetDateTime,
        ctx: &AuditContext,
    ) -> Result<(), Error> {
        let mut owned = self.write().await?;
        let tx = &mut owned;
        let removed = tx
            .exec(
                "DELETE FROM webauthn_credentials WHERE id = $1 AND user_id = $2",
                [id.to_string().into(), user.to_string().into()],
            )
            .await?;
        if removed == 0 {
            return Err(Error::NotFound { what: "passkey" });
        }
        crate::audit::record(
            tx,
            ctx,
            now,
            "user.mfa.passkey.remove",
            user_target(user),
            json!({ "factor": "passkey", "passkey": id.to_string() }),
        )
        .await?;
        crate::fence::credentials_changed(tx).await?;
        owned.commit().await?;
        self.credentials_changed();
        Ok(())
    }

    /// Keeps a discovery's state, for the browser holding the ceremony token that hashes to
    /// `binding`, until `expires_at`; unless `source` has `per_source` discoveries waiting
    /// already, or every source together `in_all` (nothing kept, and which bound it was).
    /// Lapsed ones are cleared on the way.
    #[allow(clippy::too_many_arguments)] // one transaction's inputs, each named
    pub async fn passkey_discovery_put(
        &self,
        binding: &[u8; 32],
        source: &str,
        state: &str,
        expires_at: OffsetDateTime,
        now: OffsetDateTime,
        per_source: u32,
        in_all: u32,
    ) -> Result<Result<(), Waiting>, Error> {
        let at = to_millis(now);
        let mut owned = self.write().await?;
        let tx = &mut owned;
        tx.exec(
            "DELETE FROM webauthn_discoveries WHERE expires_at <= $1",
            [at.into()],
        )
        .await?;
        let of_source: i64 = tx
            .scalar(
                "SELECT COUNT(*) FROM webauthn_discoveries WHERE source = $1",
                [source.into()],
            )
            .await?;
        let full = if of_source >= i64::from(per_source) {
            Some(Waiting::FromThisSource)
        } else {
            let all: i64 = tx
                .scalar("SELECT COUNT(*) FROM webauthn_discoveries", [])
                .await?;
            (all >= i64::from(in_all)).then_some(Waiting::InAll)
        };
        if let Some(full) = full {
            owned.commit().await?;
            return Ok(Err(full));
        }
        tx.exec(
            "INSERT INTO webauthn_discoveries (binding, source, state, expires_at) \
             VALUES ($1, $2, $3, $4)",
            [
                hex(binding).into(),
                source.into(),
                state.into(),
                to_millis(expires_at).into(),
            ],
        )
        .await?;
        owned.commit().await?;
        Ok(Ok(()))
    }

    /// Takes the discovery waiting for the ceremony token that hashes to `binding`:
    /// deleted, its state returned, unless there is none or it lapsed by `now`. Of two
    /// requests racing for one, one gets it.
    pub async fn passkey_discovery_take(
        &self,
        binding: &[u8; 32],
        now: OffsetDateTime,
    ) -> Result<Option<String>, Error> {
        let binding = hex(binding);
        let mut owned = self.write().await?;
        let tx = &mut owned;
        let found: Option<(String, i64)> = tx
            .opt(
                "SELECT state, expires_at FROM webauthn_discoveries WHERE binding = $1",
                [binding.as_str().into()],
            )
            .await?;
        let Some((state, expires_at)) = found else {
            return Ok(None);
        };
        let taken = tx
            .exec(
                "DELETE FROM webauthn_discoveries WHERE binding = $1",
                [binding.as_str().into()],
            )
            .await?;
        owned.commit().await?;
        Ok((taken == 1 && expires_at > to_millis(now)).then_some(state))
    }

    /// Signs `user` in with a passkey alone, in one transaction: the passkey's counter spent
    /// as for a second factor (refused, changing nothing, when it did not advance or the
    /// passkey is gone), then the session opened as by [`Store::record_login_success`],
    /// remembering a second factor verified now, with `auth.login` saying
    /// `"method": "passkey"`.
    pub async fn passkey_sign_in(
        &self,
        user: &User,
        proof: Proof,
        new: &NewSession,
        now: OffsetDateTime,
        ctx: &AuditContext,
    ) -> Result<Result<Session, Spent>, Error> {
        if !matches!(proof, Proof::Passkey { .. }) {
            return Err(Error::Internal("a passkey sign-in spends a passkey".into()));
        }
        let mut owned = self.write().await?;
        let tx = &mut owned;
        let spent = spend(tx, user.id, &proof, false, now).await?;
        if spent != Spent::Done {
            return Ok(Err(spent));
        }
        let session = login_success_in(tx, user, new, now, ctx, SignedInWith::PasskeyAlone).await?;
        owned.commit().await?;
        Ok(Ok(session))
    }
}

/// Inserts a passkey of `user` in `tx`; a credential id registered already, to anyone, is a
/// conflict. The passkey as stored.
pub(super) async fn insert_passkey(
    tx: &mut Tx<'_>,
    user: UserId,
    name: &str,
    credential_id: &[u8],
    credential: &str,
    sign_count: u32,
    now: OffsetDateTime,
) -> Result<StoredPasskey, Error> {
    let taken = tx
        .row_opt(
            "SELECT 1 AS one FROM webauthn_credentials WHERE credential_id = $1",
            [Arg::from(credential_id)],
        )
        .await?;
    if taken.is_some() {
        return Err(Error::Conflict(
            "this authenticator's passkey is registered already".into(),
        ));
    }
    let id = Uuid::now_v7();
    tx.exec(
        "INSERT INTO webauthn_credentials (id, user_id, name, credential_id, credential, \
         sign_count, created_at, last_used_at) VALUES ($1, $2, $3, $4, $5, $6, $7, NULL)",
        [
            id.to_string().into(),
            user.to_string().into(),
            name.into(),
            Arg::from(credential_id),
            credential.into(),
            i64::from(sign_count).into(),
            to_millis(now).into(),
        ],
    )
    .await?;
    Ok(StoredPasskey {
        id,
        name: name.to_owned(),
        credential_id: credential_id.to_vec(),
        credential: credential.to_owned(),
        sign_count: i64::from(sign_count),
        // As stored: to the millisecond.
        created_at: from_millis(to_millis(now))?,
        last_used_at: None,
    })
}
