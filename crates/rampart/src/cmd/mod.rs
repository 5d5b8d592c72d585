//! The commands that talk to a running server, over `rampart-client`: `login`, and
//! `module`, `env`, `app` and `plan`, one module each. What is the command line's own stays
//! here: the session file, reading the password, and how a refusal reads in a terminal.
//!
//! The session token is kept in a file only the user can read (or given in `RAMPART_TOKEN`),
//! never on the command line.

use std::io::IsTerminal as _;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context as _};
use rampart_client::{api, Client, ClientError, StatusCode};
use serde_json::{json, Value};

pub mod alerts;
pub mod apps;
pub mod audit;
pub mod backup;
pub mod check;
pub mod env;
pub mod findings;
pub mod idp;
pub mod keys;
pub mod mfa;
pub mod modules;
pub mod plans;
pub mod posture;
pub mod proof;
pub mod providers;
pub mod sealed;
pub mod support;
pub mod users;
pub mod witness;

/// The file holding the CLI's session: `$RAMPART_SESSION_FILE`, else
/// `$XDG_CONFIG_HOME/rampart/session.json`, else `~/.config/rampart/session.json`.
fn session_file() -> anyhow::Result<PathBuf> {
    if let Some(p) = std::env::var_os("RAMPART_SESSION_FILE") {
        return Ok(PathBuf::from(p));
    }
    let base = match std::env::var_os("XDG_CONFIG_HOME") {
        Some(d) if !d.is_empty() => PathBuf::from(d),
        _ => match std::env::var_os("HOME") {
            Some(h) => PathBuf::from(h).join(".config"),
            None => bail!("cannot find a place for the session: set RAMPART_SESSION_FILE"),
        },
    };
    Ok(base.join("rampart").join("session.json"))
}

fn write_private(path: &Path, text: &str) -> anyhow::Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(0o600);
    }
    let mut file = options
        .open(path)
        .with_context(|| format!("cannot write {}", path.display()))?;
    std::io::Write::write_all(&mut file, text.as_bytes())?;
    Ok(())
}

/// A client for `server`, trusting `ca_cert` (PEM) in addition to the system's roots.
fn build(server: &str, ca_cert: Option<&Path>, token: Option<String>) -> anyhow::Result<Client> {
    let server = server.trim_end_matches('/');
    if !server.starts_with("https://") && !server.starts_with("http://") {
        bail!("--server must be a URL such as https://127.0.0.1:8443, not `{server}`");
    }
    let mut builder =
        Client::builder(server).user_agent(concat!("rampart-cli/", env!("CARGO_PKG_VERSION")));
    if let Some(path) = ca_cert {
        let pem = std::fs::read(path)
            .with_context(|| format!("cannot read the CA certificate {}", path.display()))?;
        builder = builder.ca_cert_pem(&pem);
    }
    if let Some(token) = token {
        builder = builder.token(token);
    }
    builder.build().map_err(fail)
}

/// The client of the saved session (or `RAMPART_SERVER` and `RAMPART_TOKEN`).
pub fn connect() -> anyhow::Result<Client> {
    let saved: Value = match std::fs::read_to_string(session_file()?) {
        Ok(text) => serde_json::from_str(&text).unwrap_or(Value::Null),
        Err(_) => Value::Null,
    };
    let server = std::env::var("RAMPART_SERVER")
        .ok()
        .or_else(|| saved["server"].as_str().map(str::to_owned));
    let token = std::env::var("RAMPART_TOKEN")
        .ok()
        .or_else(|| saved["token"].as_str().map(str::to_owned));
    let ca = std::env::var_os("RAMPART_CA_CERT")
        .map(PathBuf::from)
        .or_else(|| saved["ca_cert"].as_str().map(PathBuf::from));
    let (Some(server), Some(token)) = (server, token) else {
        bail!("not logged in: run `rampart login --server https://HOST:PORT --username NAME` (or set RAMPART_SERVER and RAMPART_TOKEN)");
    };
    build(&server, ca.as_deref(), Some(token))
}

/// A client error as the command line reports it: a refusal as [`problem_text`], a
/// transport failure with what to check.
pub fn fail(e: ClientError) -> anyhow::Error {
    match e {
        ClientError::Transport { server, source } => anyhow::Error::new(source).context(format!(
            "cannot reach {server} (is the server running, and its certificate trusted? see --ca-cert)"
        )),
        e @ (ClientError::Problem { .. } | ClientError::Status { .. }) => {
            anyhow::anyhow!("{}", problem_text(&e))
        }
        other => anyhow::Error::new(other),
    }
}

/// Like [`fail`], a refusal naming the file it concerns.
pub fn fail_in(path: &Path, e: ClientError) -> anyhow::Error {
    match e.status() {
        Some(_) => anyhow::anyhow!("{}: {}", path.display(), problem_text(&e)),
        None => fail(e),
    }
}

/// A refusal as lines for a terminal: the detail, then each listed error or breakage.
fn problem_text(e: &ClientError) -> String {
    let Some(status) = e.status() else {
        return e.to_string();
    };
    let problem = e.problem();
    let mut out = match problem {
        Some(p) => format!("{} ({})", p.detail, status.as_u16()),
        None => format!("the server answered {status}"),
    };
    if status == StatusCode::UNAUTHORIZED {
        out.push_str("\n  hint: your session may have expired; run `rampart login` again");
    }
    if problem.is_some_and(|p| p.problem_type.ends_with(":step-up-required")) {
        out.push_str(
            "\n  hint: verify your second factor with `rampart mfa step-up`, then run this again",
        );
    }
    for d in problem
        .and_then(|p| p.errors.as_ref())
        .into_iter()
        .flatten()
    {
        out.push_str(&format!(
            "\n  {}:{}:{}: error[{}]: {}",
            d.file, d.pos.line, d.pos.col, d.class, d.message
        ));
        if let Some(h) = &d.hint {
            out.push_str(&format!("\n    hint: {h}"));
        }
    }
    for b in problem
        .and_then(|p| p.breaking.as_ref())
        .into_iter()
        .flatten()
    {
        out.push_str(&format!(
            "\n  {} {} in {}: {} `{}` of {}: {}",
            b.module, b.version, b.environment, b.kind, b.element, b.depends_on, b.reason
        ));
    }
    out
}

/// The first 19 characters of a time in RFC 3339 (`2025-01-31T12:00:00`), as the tables
/// show it.
fn stamp(t: time::OffsetDateTime) -> String {
    t.format(&time::format_description::well_known::Rfc3339)
        .ok()
        .and_then(|s| s.get(..19).map(str::to_owned))
        .unwrap_or_default()
}

/// `rampart login`: asks for the password (standard input when not a terminal), stores the
/// session token in the session file, readable by the user only.
pub async fn login(
    server: &str,
    username: &str,
    provider: &str,
    via: Option<&str>,
    ca_cert: Option<&Path>,
) -> anyhow::Result<()> {
    let client = build(server, ca_cert, None)?;
    let password = if std::io::stdin().is_terminal() {
        rpassword::prompt_password(format!("Password for {username}: "))?
    } else {
        let mut line = String::new();
        std::io::stdin().read_line(&mut line)?;
        line.trim_end_matches(['\n', '\r']).to_owned()
    };
    let answer = client
        .identity()
        .login(&api::LoginRequest {
            username: username.to_owned(),
            password,
            provider: provider.to_owned(),
            user_provider: via.map(str::to_owned),
        })
        .await
        .map_err(fail)?;
    let token = match answer {
        rampart_client::LoginAnswer::Session(session) => session.token,
        rampart_client::LoginAnswer::SecondFactor(pending) => {
            mfa::second_step(&client, pending).await?
        }
    };
    let ca = match ca_cert {
        Some(p) => Some(std::fs::canonicalize(p)?.display().to_string()),
        None => None,
    };
    let path = session_file()?;
    write_private(
        &path,
        &serde_json::to_string_pretty(
            &json!({ "server": client.server(), "token": token, "ca_cert": ca }),
        )?,
    )?;
    eprintln!(
        "logged in to {} as {provider}:{username}; session saved in {}",
        client.server(),
        path.display()
    );
    Ok(())
}

/// `MODULE=VERSION` from the command line.
fn module_version(item: &str) -> anyhow::Result<(&str, i64)> {
    let Some((module, version)) = item.split_once('=') else {
        bail!("`{item}`: write MODULE=VERSION, e.g. core-service=3");
    };
    let version: i64 = version
        .parse()
        .with_context(|| format!("`{item}`: the version is a number"))?;
    Ok((module, version))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rampart_client::api::Problem;

    fn refused(status: StatusCode, code: &str) -> ClientError {
        let problem = Problem::new(status, code, "Refused", "it was refused");
        ClientError::Problem {
            status,
            problem: Box::new(problem),
        }
    }

    #[test]
    fn a_refusal_names_the_command_that_gets_past_it() {
        let step_up = problem_text(&refused(StatusCode::FORBIDDEN, "step-up-required"));
        assert!(step_up.starts_with("it was refused (403)"), "{step_up}");
        assert!(step_up.contains("`rampart mfa step-up`"), "{step_up}");
        let expired = problem_text(&refused(StatusCode::UNAUTHORIZED, "unauthenticated"));
        assert!(expired.contains("`rampart login`"), "{expired}");
        let other = problem_text(&refused(StatusCode::FORBIDDEN, "forbidden"));
        assert!(!other.contains("hint"), "{other}");
    }
}
