//! The scratch databases a drill restores a PostgreSQL backup into, on the live database's
//! server, and the removal of those whose drill died.
//!
//! A drill holds a connection of its own to the live database for its whole life, and on it
//! a session-level advisory lock derived from its scratch database's name, taken *before*
//! the database is created and released only after it is dropped. A drill killed midway
//! (SIGKILL, a power cut) cannot drop its database, but its connection closes and
//! PostgreSQL releases the lock with it. So a scratch database whose lock can be taken has
//! no living drill, and [`Store::postgres_drop_dead_scratch_databases`] drops exactly
//! those; a database whose drill still runs is never touched (its lock is held).
//!
//! Advisory locks are scoped to the database the session is connected to, so the name says
//! whose drill it is: `rampart_drill_<oid>_<uuid>`, the live database's OID and a new UUID.
//! Drills of one live database look only at their own scratch databases, never at those a
//! drill of another database on the same server may be using.

use rampart_core::Error;
use sqlx::postgres::PgConnection;
use sqlx::Connection as _;

use crate::backend::{db, Backend};
use crate::Store;

/// The first key of the drills' advisory locks (`pg_advisory_lock(int, int)`), the second
/// being `hashtext` of the scratch database's name. The two-key form never meets the
/// one-key locks of migrations and application writes.
const DRILL_LOCKS: i32 = 0x7264_7269;

/// `application_name` of the connection that holds a drill's lock: `pg_stat_activity`
/// shows which sessions keep scratch databases alive.
pub const DRILL_APPLICATION: &str = "rampart drill";

/// A scratch database a drill restores a PostgreSQL backup into, on the live database's
/// server. Its name, `rampart_drill_`, the live database's OID and the 32 hex digits of a
/// new UUID, is made by [`Store::postgres_create_scratch_database`] and nowhere else, so the
/// statements that create and drop it (which cannot take their identifier as a parameter)
/// hold nothing an operator or a backup supplied. It holds the connection whose lock says
/// its drill is alive; dropped without [`Store::postgres_drop_scratch_database`], the
/// connection closes and the next drill removes the database.
#[derive(Debug)]
pub struct ScratchDatabase {
    name: String,
    holder: PgConnection,
}

impl ScratchDatabase {
    /// The database's name.
    pub fn name(&self) -> &str {
        &self.name
    }
}

/// The prefix of the scratch databases of drills of the database whose OID is `oid`.
fn prefix(oid: i64) -> String {
    format!("rampart_drill_{oid}_")
}

/// Whether `name` is a scratch database name made with `prefix` (so safe to quote).
fn is_scratch(name: &str, prefix: &str) -> bool {
    name.strip_prefix(prefix).is_some_and(|rest| {
        rest.len() == 32
            && rest
                .chars()
                .all(|c| c.is_ascii_digit() || ('a'..='f').contains(&c))
    })
}

/// The OID of the database `c` is connected to.
async fn live_oid(c: &mut PgConnection) -> Result<i64, Error> {
    sqlx::query_scalar("SELECT oid::bigint FROM pg_database WHERE datname = current_database()")
        .fetch_one(c)
        .await
        .map_err(db)
}

/// Takes the drill lock of `name` on `c` if nobody holds it.
async fn try_lock(c: &mut PgConnection, name: &str) -> Result<bool, Error> {
    sqlx::query_scalar("SELECT pg_try_advisory_lock($1, hashtext($2))")
        .bind(DRILL_LOCKS)
        .bind(name)
        .fetch_one(c)
        .await
        .map_err(db)
}

/// `DROP DATABASE` of a scratch database on `c`, ending any session still connected to it.
async fn drop_database(c: &mut PgConnection, name: &str) -> Result<(), Error> {
    let sql = format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)");
    sqlx::query(&sql)
        .persistent(false)
        .execute(c)
        .await
        .map(|_| ())
        .map_err(db)
}

impl Store {
    /// A connection of its own (outside the pool) to this store's PostgreSQL database.
    async fn drill_connection(&self) -> Result<PgConnection, Error> {
        let Backend::Postgres(pool) = &self.backend else {
            return Err(Error::Internal(
                "a scratch database is created on PostgreSQL".to_owned(),
            ));
        };
        let options = (*pool.connect_options())
            .clone()
            .application_name(DRILL_APPLICATION);
        PgConnection::connect_with(&options).await.map_err(db)
    }

    /// On PostgreSQL, creates a new, empty scratch database on the server of this store's
    /// database, with the same encoding, for a drill to restore a backup into, holding its
    /// drill lock first (see the module's header). A role that may not create databases
    /// gets an error saying so and what to grant; nothing is created then.
    pub async fn postgres_create_scratch_database(&self) -> Result<ScratchDatabase, Error> {
        let mut holder = self.drill_connection().await?;
        let (role, encoding): (String, String) = sqlx::query_as(
            "SELECT current_user::text, pg_encoding_to_char(encoding)::text \
             FROM pg_database WHERE datname = current_database()",
        )
        .fetch_one(&mut holder)
        .await
        .map_err(db)?;
        if encoding.is_empty()
            || !encoding
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_')
        {
            return Err(Error::Internal(format!(
                "the live database's encoding `{encoding}` is not a plain name"
            )));
        }
        let name = format!(
            "{}{}",
            prefix(live_oid(&mut holder).await?),
            uuid::Uuid::new_v4().simple()
        );
        if !try_lock(&mut holder, &name).await? {
            return Err(Error::Unavailable(format!(
                "the drill lock of a new scratch database name ({name}) is held by another session"
            )));
        }
        // Not in a transaction: CREATE DATABASE refuses to run in one.
        let sql = format!("CREATE DATABASE \"{name}\" TEMPLATE template0 ENCODING '{encoding}'");
        match sqlx::query(&sql)
            .persistent(false)
            .execute(&mut holder)
            .await
        {
            Ok(_) => Ok(ScratchDatabase { name, holder }),
            Err(sqlx::Error::Database(d)) if d.code().as_deref() == Some("42501") => {
                Err(Error::Forbidden(format!(
                    "the drill restores a PostgreSQL backup into a scratch database it creates \
                     on the same server (and drops when done), and the role `{role}` may not \
                     create databases: grant it with `ALTER ROLE \"{}\" CREATEDB`, or restore \
                     the backup by hand into an empty database with `rampart restore`",
                    role.replace('"', "\"\"")
                )))
            }
            Err(e) => Err(db(e)),
        }
    }

    /// On PostgreSQL, drops a scratch database [`Store::postgres_create_scratch_database`]
    /// made, ending any session still connected to it, then releases its drill lock. When
    /// the drop fails the lock is released all the same, so the next drill removes it.
    pub async fn postgres_drop_scratch_database(
        &self,
        scratch: ScratchDatabase,
    ) -> Result<(), Error> {
        let ScratchDatabase { name, mut holder } = scratch;
        let dropped = drop_database(&mut holder, &name).await;
        let _ = holder.close().await;
        dropped
    }

    /// On PostgreSQL, drops the scratch databases of this database's drills that no living
    /// drill holds (their drill was killed before it could drop them) and answers their
    /// names; a database whose drill still runs is left alone. Only databases this role may
    /// drop are looked at. Nothing on SQLite.
    pub async fn postgres_drop_dead_scratch_databases(&self) -> Result<Vec<String>, Error> {
        if !matches!(self.backend, Backend::Postgres(_)) {
            return Ok(Vec::new());
        }
        let mut c = self.drill_connection().await?;
        let result = drop_dead(&mut c).await;
        let _ = c.close().await;
        result
    }
}

async fn drop_dead(c: &mut PgConnection) -> Result<Vec<String>, Error> {
    let prefix = prefix(live_oid(c).await?);
    let names: Vec<String> = sqlx::query_scalar(
        "SELECT datname::text FROM pg_database \
         WHERE starts_with(datname::text, $1) AND pg_has_role(datdba, 'MEMBER') \
         ORDER BY datname",
    )
    .bind(&prefix)
    .fetch_all(&mut *c)
    .await
    .map_err(db)?;
    let mut dropped = Vec::new();
    for name in names.into_iter().filter(|n| is_scratch(n, &prefix)) {
        if !try_lock(c, &name).await? {
            continue; // its drill is alive
        }
        // Held now, so no drill can be using it; it may have been dropped meanwhile by its
        // own drill, which releases its lock only after the drop.
        let result = async {
            let exists: bool =
                sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)")
                    .bind(&name)
                    .fetch_one(&mut *c)
                    .await
                    .map_err(db)?;
            if exists {
                drop_database(c, &name).await?;
            }
            Ok::<_, Error>(exists)
        }
        .await;
        let unlocked = sqlx::query_scalar::<_, bool>("SELECT pg_advisory_unlock($1, hashtext($2))")
            .bind(DRILL_LOCKS)
            .bind(&name)
            .fetch_one(&mut *c)
            .await
            .map_err(db);
        match result {
            Ok(true) => dropped.push(name),
            Ok(false) => {}
            Err(e) => {
                return Err(Error::Unavailable(format!(
                    "the scratch database {name} of a drill that did not finish could not be \
                     dropped ({}): drop it with `DROP DATABASE {name}`",
                    match &e {
                        Error::Unavailable(cause) | Error::Internal(cause) => cause.clone(),
                        other => other.to_string(),
                    }
                )))
            }
        }
        unlocked?;
    }
    Ok(dropped)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_names_made_here_for_this_database_are_scratch_databases() {
        let p = prefix(16_384);
        assert_eq!(p, "rampart_drill_16384_");
        let made = format!("{p}{}", uuid::Uuid::new_v4().simple());
        assert!(is_scratch(&made, &p));
        for other in [
            "rampart_drill_16384_".to_owned(),
            "rampart_drill_163840_0123456789abcdef0123456789abcdef".to_owned(),
            "rampart_drill_16384_0123456789ABCDEF0123456789abcdef".to_owned(),
            "rampart_drill_16384_0123456789abcdef0123456789abcdef0".to_owned(),
            "rampart_drill_16384_0123456789abcdef0123456789abcde\"".to_owned(),
            "rampart_drill_0123456789abcdef0123456789abcdef".to_owned(),
            "postgres".to_owned(),
        ] {
            assert!(!is_scratch(&other, &p), "{other}");
        }
    }
}
