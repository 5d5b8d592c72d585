//! `rampart providers …`: user providers (directories that vouch for users) on a running
//! server: add, list, show, remove, test the connection, sync now, status. Changes are for
//! IT administrators; auditors may list, show and read the status.

use std::path::PathBuf;

use anyhow::Context as _;
use clap::{Args, Subcommand};
use rampart_client::api;
use serde_json::{json, Value};

use super::{connect, fail, stamp};

#[derive(Debug, Subcommand)]
pub enum ProvidersCommand {
    /// Add an LDAP directory as a user provider (administrators). The bind password is a
    /// reference to where the server reads it, never the password:
    ///
    ///     rampart providers add corp --users it --url ldaps://ldap.example.com:636 \
    ///         --bind-dn cn=rampart,ou=services,dc=example,dc=com \
    ///         --bind-password env:CORP_LDAP_PASSWORD \
    ///         --user-base ou=people,dc=example,dc=com \
    ///         --user-filter '(&(objectClass=inetOrgPerson)(uid={username}))' \
    ///         --map admins=it:administrator --map devs=it:developer \
    ///         --map sales=app:crm/rep --sync-every 60
    ///
    /// Users then sign in with `rampart login --via corp` (or `user_provider` in the API's
    /// login). Plain `ldap://` needs `--security starttls`, or `none` to a loopback address.
    ///
    /// An OpenID Connect provider is added from a settings file (see the API's
    /// `CreateProviderRequest`):
    ///
    ///     rampart providers add idp --kind oidc --users both --settings-file idp.json
    ///
    /// and a SAML 2.0 identity provider likewise (`--kind saml`). Their users sign in with
    /// the buttons of the console's and the applications' sign-in pages.
    Add(Box<AddProvider>),
    /// Offer a provider on the sign-in pages and accept sign-ins through it again
    /// (administrators).
    Enable {
        /// The provider.
        name: String,
    },
    /// Stop offering a provider and refuse sign-ins through it (administrators).
    Disable {
        /// The provider.
        name: String,
    },
    /// Every user provider (administrators and auditors).
    List,
    /// One user provider's settings and status, as JSON.
    Show {
        /// The provider.
        name: String,
    },
    /// Remove a user provider (administrators): the users it vouched for are disabled and
    /// their sessions end.
    Remove {
        /// The provider.
        name: String,
    },
    /// Test the connection: connect and bind with the service account (administrators).
    Test {
        /// The provider.
        name: String,
    },
    /// Sync now: create and update profiles, disable users gone from the directory
    /// (administrators).
    Sync {
        /// The provider.
        name: String,
    },
    /// The last success and error, the last sync, the users it vouches for.
    Status {
        /// The provider.
        name: String,
    },
    /// The provider's SCIM token, with which its directory provisions users and groups at
    /// /scim/v2 (administrators change it; auditors may see whether one is in force).
    ScimToken {
        /// The provider.
        name: String,
        /// What to do.
        #[arg(value_enum, default_value = "show")]
        action: ScimTokenAction,
    },
}

/// What `providers scim-token` does.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum ScimTokenAction {
    /// Whether a token is in force, and since when.
    Show,
    /// Make a token, or replace the current one (which stops working at once); printed once.
    Rotate,
    /// Revoke the token: the directory's next request is refused.
    Revoke,
}

/// The arguments of `providers add`.
#[derive(Debug, Args)]
pub struct AddProvider {
    /// The provider's name (what a login names it by).
    name: String,
    /// The kind: ldap (from the flags below or a settings file), or oidc or saml (with
    /// --settings-file).
    #[arg(long, default_value = "ldap")]
    kind: String,
    /// Whom it vouches for: it, end or both.
    #[arg(long, default_value = "it")]
    users: String,
    /// The directory: ldaps://host:port, or ldap://host:port with --security starttls.
    #[arg(long, required_unless_present = "settings_file")]
    url: Option<String>,
    /// tls, starttls or none (loopback only); from the URL's scheme when left out.
    #[arg(long)]
    security: Option<String>,
    /// PEM certificates to trust for the directory (the system's roots otherwise). The
    /// directory's own certificate must not be a CA certificate.
    #[arg(long, value_name = "FILE")]
    ca_cert: Option<PathBuf>,
    /// The service account that searches for users.
    #[arg(long, required_unless_present = "settings_file")]
    bind_dn: Option<String>,
    /// Where its password is kept: env:NAME or file:/absolute/path.
    #[arg(long, required_unless_present = "settings_file")]
    bind_password: Option<String>,
    /// Where users are searched (subtree).
    #[arg(long, required_unless_present = "settings_file")]
    user_base: Option<String>,
    /// The filter finding one user, with {username} once.
    #[arg(long, default_value = "(&(objectClass=inetOrgPerson)(uid={username}))")]
    user_filter: String,
    /// The attribute listing a user's groups.
    #[arg(long, default_value = "memberOf")]
    group_attribute: String,
    /// A group mapping: GROUP=it:ROLE or GROUP=app:APPLICATION/ROLE (repeatable; GROUP
    /// is a DN or its first RDN's value; for IT roles the first match wins).
    #[arg(long = "map", value_name = "GROUP=TARGET")]
    mappings: Vec<String>,
    /// Minutes between scheduled syncs (0: none).
    #[arg(long, default_value_t = 0)]
    sync_every: u32,
    /// The whole settings object as a JSON file, instead of the flags above.
    #[arg(long, value_name = "FILE", conflicts_with_all = ["url", "bind_dn", "bind_password", "user_base"])]
    settings_file: Option<PathBuf>,
}

/// Runs a `providers` command.
pub async fn run(command: &ProvidersCommand) -> anyhow::Result<()> {
    let client = connect()?;
    let providers = client.providers();
    match command {
        ProvidersCommand::Add(add) => {
            let request = api::CreateProviderRequest {
                name: add.name.clone(),
                kind: add.kind.clone(),
                users: add.users.clone(),
                settings: settings(add)?,
            };
            let p = providers.create(&request).await.map_err(fail)?;
            println!(
                "added user provider {} ({}, for {} users); check it with `rampart providers test {}`",
                p.name, p.kind, p.users, p.name
            );
        }
        ProvidersCommand::List => {
            let list = providers.list().await.map_err(fail)?;
            if list.items.is_empty() {
                println!("no user providers");
            }
            for p in list.items {
                let url = ["url", "issuer"]
                    .iter()
                    .find_map(|k| p.settings.get(*k).and_then(Value::as_str))
                    .unwrap_or("");
                let state = if p.enabled { "" } else { " (disabled)" };
                println!(
                    "{:<20} {:<5} {:<5} {:<40} {} users{state}",
                    p.name, p.kind, p.users, url, p.status.users
                );
            }
        }
        ProvidersCommand::Show { name } => {
            let p = providers.get(name).await.map_err(fail)?;
            println!("{}", serde_json::to_string_pretty(&p)?);
        }
        ProvidersCommand::Enable { name } | ProvidersCommand::Disable { name } => {
            let enabled = matches!(command, ProvidersCommand::Enable { .. });
            let request = api::UpdateProviderRequest {
                users: None,
                settings: None,
                enabled: Some(enabled),
            };
            providers.update(name, &request).await.map_err(fail)?;
            println!(
                "user provider {name} {}",
                if enabled { "enabled" } else { "disabled" }
            );
        }
        ProvidersCommand::Remove { name } => {
            providers.delete(name).await.map_err(fail)?;
            println!("removed user provider {name}; the users it vouched for are disabled");
        }
        ProvidersCommand::Test { name } => {
            let r = providers.test(name).await.map_err(fail)?;
            println!("{}", r.message);
        }
        ProvidersCommand::Sync { name } => {
            let r = providers.sync(name).await.map_err(fail)?;
            println!(
                "{name}: {} listed, {} created, {} updated, {} disabled ({} sessions ended), {} skipped",
                r.listed, r.created, r.updated, r.disabled, r.sessions_revoked, r.skipped
            );
        }
        ProvidersCommand::ScimToken { name, action } => match action {
            ScimTokenAction::Show => {
                let s = providers.scim_token(name).await.map_err(fail)?;
                match s.created_at {
                    Some(t) => println!("{name}: a SCIM token made {}", stamp(t)),
                    None => println!("{name}: no SCIM token"),
                }
            }
            ScimTokenAction::Rotate => {
                let t = providers.issue_scim_token(name).await.map_err(fail)?;
                eprintln!(
                    "{name}: {} SCIM token for {}; it is shown this once:",
                    if t.rotated { "a new" } else { "a" },
                    t.base_url
                );
                println!("{}", t.token);
            }
            ScimTokenAction::Revoke => {
                providers.revoke_scim_token(name).await.map_err(fail)?;
                println!("{name}: SCIM token revoked");
            }
        },
        ProvidersCommand::Status { name } => {
            let s = providers.status(name).await.map_err(fail)?;
            let at =
                |t: Option<time::OffsetDateTime>| t.map(stamp).unwrap_or_else(|| "never".into());
            println!("provider       {}", s.name);
            println!("users          {} ({} disabled)", s.users, s.disabled_users);
            println!("last success   {}", at(s.last_success_at));
            match (&s.last_error, s.last_error_at) {
                (Some(e), t) => println!("last error     {} {e}", at(t)),
                (None, _) => println!("last error     none"),
            }
            let sync = s.last_sync.map(|v| v.to_string()).unwrap_or_default();
            println!("last sync      {} {sync}", at(s.last_sync_at));
        }
    }
    Ok(())
}

/// The settings object of `providers add`, from its flags or its file.
fn settings(add: &AddProvider) -> anyhow::Result<Value> {
    let AddProvider {
        url,
        security,
        ca_cert,
        bind_dn,
        bind_password,
        user_base,
        user_filter,
        group_attribute,
        mappings,
        sync_every,
        settings_file,
        ..
    } = add;
    if let Some(path) = settings_file {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read {}", path.display()))?;
        return serde_json::from_str(&text)
            .with_context(|| format!("{} is not a JSON object of settings", path.display()));
    }
    let url = url.clone().unwrap_or_default();
    let security = match security {
        Some(s) => s.clone(),
        None if url.starts_with("ldaps://") => "tls".into(),
        None => "starttls".into(),
    };
    let mut s = json!({
        "url": url,
        "security": security,
        "bind_dn": bind_dn,
        "bind_password": bind_password,
        "user_base": user_base,
        "user_filter": user_filter,
        "group_attribute": group_attribute,
        "sync_interval_minutes": sync_every,
        "mappings": mappings.iter().map(|m| mapping(m)).collect::<anyhow::Result<Vec<_>>>()?,
    });
    if let Some(path) = ca_cert {
        s["ca_certificate"] = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read {}", path.display()))?
            .into();
    }
    Ok(s)
}

/// `GROUP=it:ROLE` or `GROUP=app:APPLICATION/ROLE` as a mapping object.
fn mapping(text: &str) -> anyhow::Result<Value> {
    let usage = || {
        anyhow::anyhow!(
            "--map {text:?}: write GROUP=it:ROLE or GROUP=app:APPLICATION/ROLE, e.g. \
             admins=it:administrator"
        )
    };
    let (group, target) = text.rsplit_once('=').ok_or_else(usage)?;
    if let Some(role) = target.strip_prefix("it:") {
        return Ok(json!({ "group": group, "it_role": role }));
    }
    let (app, role) = target
        .strip_prefix("app:")
        .and_then(|t| t.split_once('/'))
        .ok_or_else(usage)?;
    Ok(json!({ "group": group, "application": app, "role": role }))
}

#[cfg(test)]
mod tests {
    use super::mapping;

    #[test]
    fn mappings_read_from_the_command_line() {
        let m = mapping("cn=admins,ou=groups,dc=x=it:administrator").ok();
        assert_eq!(
            m.map(|v| v.to_string()),
            Some(r#"{"group":"cn=admins,ou=groups,dc=x","it_role":"administrator"}"#.into())
        );
        let m = mapping("sales=app:crm/rep").ok();
        assert_eq!(
            m.map(|v| v.to_string()),
            Some(r#"{"application":"crm","group":"sales","role":"rep"}"#.into())
        );
        assert!(mapping("sales").is_err());
        assert!(mapping("sales=crm").is_err());
        assert!(mapping("sales=app:crm").is_err());
    }
}
