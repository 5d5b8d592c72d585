//! PostgreSQL backups through `pg_dump` (one consistent snapshot of the whole database: the
//! platform's tables, the audit log and every application schema `app_<num>`, in a snapshot
//! the backup exported and read its census in) and restores through `pg_restore` into an
//! empty database (the target's, or a drill's scratch database). The tools get the
//! connection as flags and the password in `PGPASSWORD`, never on their command line, so it
//! does not show in the process list.

use std::path::Path;
use std::process::Command;

use rampart_core::Error;

/// Where a `postgres://` URL points, for the command-line tools.
pub(crate) struct Conn {
    host: String,
    port: u16,
    user: String,
    dbname: String,
    password: Option<String>,
}

impl Conn {
    /// Reads `url` (the configured `database_url`).
    pub(crate) fn parse(url: &str) -> Result<Self, Error> {
        let invalid = || {
            Error::invalid(
                "database_url",
                "is not a postgres:// URL with a database name",
            )
        };
        let parsed = url::Url::parse(url).map_err(|_| invalid())?;
        if !matches!(parsed.scheme(), "postgres" | "postgresql") {
            return Err(invalid());
        }
        let dbname = parsed.path().trim_start_matches('/').to_owned();
        if dbname.is_empty() {
            return Err(invalid());
        }
        let decode = |s: &str| {
            url::form_urlencoded::parse(format!("x={s}").as_bytes())
                .next()
                .map(|(_, v)| v.into_owned())
                .unwrap_or_default()
        };
        Ok(Conn {
            host: parsed.host_str().unwrap_or("localhost").to_owned(),
            port: parsed.port().unwrap_or(5432),
            user: decode(parsed.username()),
            dbname: decode(&dbname),
            password: parsed.password().map(decode),
        })
    }

    fn command(&self, tool: &str) -> Command {
        let mut c = Command::new(tool);
        c.arg("--host")
            .arg(&self.host)
            .arg("--port")
            .arg(self.port.to_string())
            .arg("--no-password");
        if !self.user.is_empty() {
            c.arg("--username").arg(&self.user);
        }
        c.env_remove("PGPASSWORD");
        if let Some(p) = &self.password {
            c.env("PGPASSWORD", p);
        }
        c
    }
}

async fn run(mut command: Command, what: &str) -> Result<(), Error> {
    let what = what.to_owned();
    let output = tokio::task::spawn_blocking(move || command.output())
        .await
        .map_err(|e| Error::Internal(format!("{what}: {e}")))?
        .map_err(|e| {
            Error::Unavailable(format!(
                "cannot run {what} (is the PostgreSQL client installed?): {e}"
            ))
        })?;
    if output.status.success() {
        return Ok(());
    }
    let stderr = String::from_utf8_lossy(&output.stderr);
    let first: Vec<&str> = stderr.lines().take(5).collect();
    Err(Error::Unavailable(format!(
        "{what} failed ({}): {}",
        output.status,
        first.join(" / ")
    )))
}

/// `pg_dump --format=custom` of the whole database into `file`, as the exported snapshot
/// `snapshot` sees it (held open by the caller until the dump is done).
pub(crate) async fn dump(conn: &Conn, file: &Path, snapshot: &str) -> Result<(), Error> {
    let mut c = conn.command("pg_dump");
    c.arg("--format=custom")
        .arg("--snapshot")
        .arg(snapshot)
        .arg("--no-owner")
        .arg("--no-privileges")
        .arg("--file")
        .arg(file)
        .arg(&conn.dbname);
    run(c, "pg_dump").await
}

/// `pg_restore` of `file` into the (empty) database, stopping at the first error.
pub(crate) async fn restore(conn: &Conn, file: &Path) -> Result<(), Error> {
    let mut c = conn.command("pg_restore");
    c.arg("--exit-on-error")
        .arg("--no-owner")
        .arg("--no-privileges")
        .arg("--single-transaction")
        .arg("--dbname")
        .arg(&conn.dbname)
        .arg(file);
    run(c, "pg_restore").await
}
