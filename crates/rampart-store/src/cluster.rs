//! Leases between the nodes that share a database (migration `0008_leases`).

use time::{Duration, OffsetDateTime};

use crate::backend::{from_millis, to_millis};
use crate::db::Arg;
use crate::Store;
use rampart_core::Error;

impl Store {
    /// Takes or renews lease `name` for `holder` until `now + ttl`: granted when nobody holds
    /// it, when `holder` already does, or when its holder let it expire. One statement, so
    /// two nodes racing for an expired lease cannot both get it.
    pub async fn lease_take(
        &self,
        name: &str,
        holder: &str,
        now: OffsetDateTime,
        ttl: Duration,
    ) -> Result<bool, Error> {
        let mut tx = self.write().await?;
        let granted = tx
            .row_opt(
                "INSERT INTO leases (name, holder, expires_at) VALUES ($1, $2, $3) \
                 ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, \
                 expires_at = excluded.expires_at \
                 WHERE leases.holder = excluded.holder OR leases.expires_at <= $4 \
                 RETURNING holder",
                [
                    Arg::from(name),
                    Arg::from(holder),
                    Arg::from(to_millis(now + ttl)),
                    Arg::from(to_millis(now)),
                ],
            )
            .await?
            .is_some();
        tx.commit().await?;
        Ok(granted)
    }

    /// Gives lease `name` up if `holder` holds it, so another node takes it at once.
    pub async fn lease_release(&self, name: &str, holder: &str) -> Result<(), Error> {
        let mut tx = self.write().await?;
        tx.exec(
            "DELETE FROM leases WHERE name = $1 AND holder = $2",
            [Arg::from(name), Arg::from(holder)],
        )
        .await?;
        tx.commit().await
    }

    /// Who holds lease `name` and until when, if anyone.
    pub async fn lease_holder(
        &self,
        name: &str,
    ) -> Result<Option<(String, OffsetDateTime)>, Error> {
        let row = self
            .reader()
            .row_opt(
                "SELECT holder, expires_at FROM leases WHERE name = $1",
                [Arg::from(name)],
            )
            .await?;
        match row {
            None => Ok(None),
            Some(row) => {
                let until: i64 = row.get("expires_at")?;
                Ok(Some((row.get("holder")?, from_millis(until)?)))
            }
        }
    }
}
