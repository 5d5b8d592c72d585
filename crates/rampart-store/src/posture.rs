//! The facts of the security posture report that live in the database: administrators and
//! their sign-ins, accounts to test for published passwords, findings of deployed module
//! versions, data keys. Reads only.

use rampart_core::Error;
use time::OffsetDateTime;

use crate::backend::{from_millis, from_millis_opt};
use crate::Store;

/// An enabled account, as the posture report needs it.
#[derive(Debug, Clone)]
pub struct AccountFacts {
    /// The username.
    pub username: String,
    /// `it` or `end`.
    pub provider: String,
    /// Its password hash (PHC string), to test against published passwords only.
    pub password_hash: String,
    /// When it was created.
    pub created_at: OffsetDateTime,
    /// When its password was last set.
    pub password_changed_at: OffsetDateTime,
    /// Its last sign-in.
    pub last_login_at: Option<OffsetDateTime>,
}

/// How many findings of deployed versions have a severity and are accepted or not.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FindingCount {
    /// `warning`, `note`, …
    pub severity: String,
    /// Whether they are accepted.
    pub accepted: bool,
    /// How many (counted once per environment running the version).
    pub count: i64,
}

type AccountRow = (String, String, String, i64, i64, Option<i64>);

fn account(
    (username, provider, password_hash, created, changed, last): AccountRow,
) -> Result<AccountFacts, Error> {
    Ok(AccountFacts {
        username,
        provider,
        password_hash,
        created_at: from_millis(created)?,
        password_changed_at: from_millis(changed)?,
        last_login_at: from_millis_opt(last)?,
    })
}

impl Store {
    /// Enabled IT administrators.
    pub async fn posture_administrators(&self) -> Result<Vec<AccountFacts>, Error> {
        let rows: Vec<AccountRow> = self
            .reader()
            .all(
                "SELECT u.username, u.provider, u.password_hash, u.created_at, u.password_changed_at, \
                 u.last_login_at FROM users u WHERE NOT u.disabled AND u.provider = 'it' AND EXISTS \
                 (SELECT 1 FROM it_role_assignments r WHERE r.user_id = u.id AND r.role = 'administrator') \
                 ORDER BY u.username",
                [],
            )
            .await?;
        rows.into_iter().map(account).collect()
    }

    /// How many enabled IT administrators have a confirmed second factor (a TOTP app or a
    /// passkey).
    pub async fn posture_administrators_enrolled(&self) -> Result<u64, Error> {
        let n: i64 = self
            .reader()
            .scalar(
                "SELECT COUNT(*) FROM users u WHERE (EXISTS \
                 (SELECT 1 FROM mfa_totp t WHERE t.user_id = u.id AND t.confirmed_at IS NOT NULL) \
                 OR EXISTS (SELECT 1 FROM webauthn_credentials w WHERE w.user_id = u.id)) \
                 AND NOT u.disabled AND u.provider = 'it' AND EXISTS \
                 (SELECT 1 FROM it_role_assignments r WHERE r.user_id = u.id AND r.role = 'administrator')",
                [],
            )
            .await?;
        Ok(u64::try_from(n).unwrap_or(0))
    }

    /// Enabled accounts of any provider named `username`.
    pub async fn posture_accounts_named(
        &self,
        username: &rampart_core::Username,
    ) -> Result<Vec<AccountFacts>, Error> {
        let rows: Vec<AccountRow> = self
            .reader()
            .all(
                "SELECT username, provider, password_hash, created_at, password_changed_at, \
                 last_login_at FROM users WHERE NOT disabled AND username_norm = $1",
                [username.normalized().into()],
            )
            .await?;
        rows.into_iter().map(account).collect()
    }

    /// How many module versions are deployed (once per environment), and their findings by
    /// severity and acceptance.
    pub async fn posture_findings(&self) -> Result<(i64, Vec<FindingCount>), Error> {
        let deployed: i64 = self
            .reader()
            .scalar("SELECT COUNT(*) FROM deployed", [])
            .await?;
        let rows: Vec<(String, i64, i64)> = self
            .reader()
            .all(
                "SELECT f.severity, CAST(CASE WHEN f.accepted_at IS NULL THEN 0 ELSE 1 END AS BIGINT), \
                 COUNT(*) FROM deployed d JOIN version_findings f \
                 ON f.module_num = d.module_num AND f.number = d.number \
                 GROUP BY 1, 2 ORDER BY 1, 2",
                [],
            )
            .await?;
        Ok((
            deployed,
            rows.into_iter()
                .map(|(severity, accepted, count)| FindingCount {
                    severity,
                    accepted: accepted != 0,
                    count,
                })
                .collect(),
        ))
    }

    /// Each environment holding data keys, with its newest data key's creation time.
    pub async fn posture_data_keys(&self) -> Result<Vec<(String, OffsetDateTime)>, Error> {
        let rows: Vec<(String, i64)> = self
            .reader()
            .all(
                "SELECT environment, MAX(created_at) FROM app_keys WHERE kind = 'data' \
                 GROUP BY environment ORDER BY environment",
                [],
            )
            .await?;
        rows.into_iter()
            .map(|(env, at)| Ok((env, from_millis(at)?)))
            .collect()
    }
}
