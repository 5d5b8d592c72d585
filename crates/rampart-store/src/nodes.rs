//! The nodes that decide from marks held in memory, and the signals between them
//! (PostgreSQL only; migration `0021_cluster_nodes`).
//!
//! A node takes a **point** ([`Store::marks_point`]) before it reads the marks, then records
//! the point as `seen` with a renewed lease ([`Store::node_renew`]). A writer whose change
//! moved the marks takes a point after its commit and announces it
//! ([`Store::marks_announce`]), then waits while [`Store::nodes_behind`] names a node with a
//! live lease that has not seen it. Points come from one sequence, so a point taken after a
//! commit is greater than any taken before it, and a read of the marks that follows a point
//! taken after a commit sees that commit.

use std::time::Duration;

use rampart_core::Error;
use sqlx::postgres::{PgListener, PgPool, PgPoolOptions};

use crate::backend::{db, Backend};
use crate::Store;

/// The channel a change that moved the marks is announced on (by the triggers of the
/// migration at its commit, and by [`Store::marks_announce`]).
pub const MARKS_CHANNEL: &str = "rampart_marks";
/// The channel a node announces on after it recorded a newer `seen`.
pub const SEEN_CHANNEL: &str = "rampart_seen";

/// What a node heard on its listening connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Heard {
    /// The marks may have moved: read them again.
    Marks,
    /// A node recorded a newer `seen`: a writer waiting for acknowledgements looks again.
    Seen,
}

/// The nodes a writer still waits for ([`Store::nodes_behind`]).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Behind {
    /// Those with a live lease that have not seen the point: instance, and how long until
    /// its lease runs out.
    pub live: Vec<(String, Duration)>,
    /// Whether a node watched for was found with its lease run out, not having seen it.
    pub lapsed: bool,
}

/// A connection listening on [`MARKS_CHANNEL`] and [`SEEN_CHANNEL`].
pub struct MarksListener {
    listener: PgListener,
    _pool: PgPool,
}

impl MarksListener {
    /// The next signal; `None` once the connection is lost (notifications sent meanwhile are
    /// lost with it: the caller reads the marks again after it listens anew).
    pub async fn recv(&mut self) -> Result<Option<Heard>, Error> {
        match self.listener.try_recv().await.map_err(db)? {
            None => Ok(None),
            Some(n) if n.channel() == SEEN_CHANNEL => Ok(Some(Heard::Seen)),
            Some(_) => Ok(Some(Heard::Marks)),
        }
    }
}

impl Store {
    fn pg(&self) -> Result<&PgPool, Error> {
        match &self.backend {
            Backend::Postgres(pool) => Ok(pool),
            Backend::Sqlite { .. } => Err(Error::Internal(
                "a SQLite store has no other nodes to listen to".into(),
            )),
        }
    }

    /// Opens a connection of its own (outside the pool) listening for the nodes' signals.
    pub async fn listen_marks(&self) -> Result<MarksListener, Error> {
        let options = self.pg()?.connect_options();
        let pool = PgPoolOptions::new()
            .max_connections(1)
            .max_lifetime(None)
            .idle_timeout(None)
            .connect_with((*options).clone())
            .await
            .map_err(db)?;
        let mut listener = PgListener::connect_with(&pool).await.map_err(db)?;
        listener.eager_reconnect(false);
        listener
            .listen_all([MARKS_CHANNEL, SEEN_CHANNEL])
            .await
            .map_err(db)?;
        Ok(MarksListener {
            listener,
            _pool: pool,
        })
    }

    /// A new point, greater than every point taken before.
    pub async fn marks_point(&self) -> Result<i64, Error> {
        sqlx::query_scalar("SELECT nextval('marks_points')")
            .fetch_one(self.pg()?)
            .await
            .map_err(db)
    }

    /// A new point, announced on [`MARKS_CHANNEL`] once taken: a node that hears it takes
    /// its own point later, so records a `seen` at or past this one.
    pub async fn marks_announce(&self) -> Result<i64, Error> {
        sqlx::query_scalar(
            "SELECT n FROM (SELECT nextval('marks_points') AS n) AS p, \
             LATERAL (SELECT pg_notify($1, CAST(p.n AS TEXT))) AS sent",
        )
        .bind(MARKS_CHANNEL)
        .fetch_one(self.pg()?)
        .await
        .map_err(db)
    }

    /// Records that node `instance` (of `node_id`) holds every change committed before
    /// point `seen`, and renews its lease until `lease` from now by the database's clock;
    /// announced on [`SEEN_CHANNEL`].
    pub async fn node_renew(
        &self,
        instance: &str,
        node_id: &str,
        seen: i64,
        lease: Duration,
    ) -> Result<(), Error> {
        let millis = i64::try_from(lease.as_millis()).unwrap_or(i64::MAX);
        sqlx::query(
            "WITH renewed AS ( \
                 INSERT INTO cluster_nodes (instance, node_id, lease_until, seen) \
                 VALUES ($1, $2, now() + CAST($3 AS DOUBLE PRECISION) * INTERVAL '1 millisecond', $4) \
                 ON CONFLICT (instance) DO UPDATE SET lease_until = excluded.lease_until, \
                 seen = GREATEST(cluster_nodes.seen, excluded.seen) RETURNING 1) \
             SELECT pg_notify($5, '') FROM renewed",
        )
        .bind(instance)
        .bind(node_id)
        .bind(millis)
        .bind(seen)
        .bind(SEEN_CHANNEL)
        .execute(self.pg()?)
        .await
        .map_err(db)?;
        Ok(())
    }

    /// Removes node `instance`: a node stopping takes no more waiting.
    pub async fn node_release(&self, instance: &str) -> Result<(), Error> {
        sqlx::query("DELETE FROM cluster_nodes WHERE instance = $1")
            .bind(instance)
            .execute(self.pg()?)
            .await
            .map_err(db)?;
        Ok(())
    }

    /// The nodes with a live lease that have not seen `point`, with how long until each
    /// lease runs out; and whether one of `watched` (nodes found behind earlier) has not
    /// seen it either though its lease ran out.
    pub async fn nodes_behind(&self, point: i64, watched: &[String]) -> Result<Behind, Error> {
        let rows: Vec<(String, f64)> = sqlx::query_as(
            "SELECT instance, CAST(EXTRACT(EPOCH FROM lease_until - now()) AS DOUBLE PRECISION) \
             FROM cluster_nodes \
             WHERE seen < $1 AND (lease_until > now() OR instance = ANY($2))",
        )
        .bind(point)
        .bind(watched)
        .fetch_all(self.pg()?)
        .await
        .map_err(db)?;
        let mut behind = Behind::default();
        for (instance, left) in rows {
            if left > 0.0 {
                behind.live.push((instance, Duration::from_secs_f64(left)));
            } else {
                behind.lapsed = true;
            }
        }
        Ok(behind)
    }

    /// The nodes with a live lease, as `(instance, node_id, seen)`.
    pub async fn nodes_live(&self) -> Result<Vec<(String, String, i64)>, Error> {
        sqlx::query_as(
            "SELECT instance, node_id, seen FROM cluster_nodes WHERE lease_until > now() \
             ORDER BY instance",
        )
        .fetch_all(self.pg()?)
        .await
        .map_err(db)
    }
}
