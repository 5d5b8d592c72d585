//! What other nodes may have changed, read in one statement: the authorization revision, the
//! credentials epoch and each environment's latest deployment. A node sharing the database
//! reads these before it trusts what it holds in memory (its authorization index, cached
//! sessions, the models running in each environment).

use crate::db::Tx;
use crate::Store;
use rampart_core::Error;

/// The marks of the database's state at one instant.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Marks {
    /// The latest committed authorization revision.
    pub authz: u64,
    /// The credentials epoch (see the migration `0003_credentials_epoch`).
    pub credentials: u64,
    /// Each environment's latest deployment, by environment name.
    pub deployments: Vec<(String, i64)>,
}

impl Marks {
    /// The latest deployment in `environment` (0: none).
    pub fn deployment(&self, environment: &str) -> i64 {
        self.deployments
            .iter()
            .find(|(e, _)| e == environment)
            .map_or(0, |(_, d)| *d)
    }
}

const MARKS_SQL: &str = "\
    SELECT CAST(0 AS BIGINT) AS kind, '' AS name, revision AS n FROM authz_revision WHERE id = 1 \
    UNION ALL SELECT 1, '', epoch FROM credentials_epoch WHERE id = 1 \
    UNION ALL SELECT 2, environment, MAX(deployment) FROM deployed GROUP BY environment";

impl Store {
    /// The marks, as committed when the statement ran.
    pub async fn marks(&self) -> Result<Marks, Error> {
        let rows = self.reader().rows(MARKS_SQL, []).await?;
        let mut marks = Marks::default();
        for row in &rows {
            let kind: i64 = row.get("kind")?;
            let n: i64 = row.get("n")?;
            match kind {
                0 => marks.authz = u64::try_from(n).unwrap_or(0),
                1 => marks.credentials = u64::try_from(n).unwrap_or(0),
                _ => marks.deployments.push((row.get("name")?, n)),
            }
        }
        Ok(marks)
    }
}

/// Bumps the credentials epoch in `tx`: called by every change that can end a session or
/// change a session's user, before it commits, so that the change and the new epoch become
/// visible together.
pub(crate) async fn credentials_changed(tx: &mut Tx<'_>) -> Result<(), Error> {
    tx.exec(
        "UPDATE credentials_epoch SET epoch = epoch + 1 WHERE id = 1",
        [],
    )
    .await?;
    Ok(())
}
