//! `rampart users …`: user administration on a running server, as the API's
//! `/api/v1/users` routes and the console's user pages do it (administrators; the list
//! and `show` also for auditors). A user is named by id or as `PROVIDER:USERNAME`
//! (`it:alice`, `end:bob`); a password is read from standard input, never from the
//! command line.

use clap::{Args, Subcommand};
use rampart_client::api::{CreateUserRequest, ListUsersQuery, ResetPasswordRequest, UserView};
use rampart_client::Client;

use super::{connect, fail, stamp};

#[derive(Debug, Subcommand)]
pub enum UsersCommand {
    /// Users of both providers, or of one, in creation order (every page).
    ///
    ///     rampart users list
    ///     rampart users list --provider end --prefix ali
    #[command(verbatim_doc_comment)]
    List {
        /// `it` or `end`; both when absent.
        #[arg(long, value_name = "PROVIDER")]
        provider: Option<String>,
        /// Only usernames starting with this, ignoring case.
        #[arg(long)]
        prefix: Option<String>,
    },
    /// One user, as JSON.
    Show {
        /// The user: an id, or `PROVIDER:USERNAME` (`it:alice`).
        user: String,
    },
    /// Create a user. The initial password is read from standard input (asked twice on a
    /// terminal) and must satisfy the password policy; with --no-password the account
    /// has none and signs in with a passkey, enrolled through a link (`rampart users
    /// enrol`).
    ///
    ///     printf '%s\n' "$PASSWORD" | rampart users create it alice --email alice@example.com
    ///     rampart users create it nora --no-password --email nora@example.com
    ///     rampart users enrol it:nora --mail
    #[command(verbatim_doc_comment)]
    Create(Box<CreateUser>),
    /// Disable a user: they can no longer sign in, and every session of theirs ends.
    Disable {
        /// The user: an id, or `PROVIDER:USERNAME`.
        user: String,
    },
    /// Enable a disabled user again.
    Enable {
        /// The user: an id, or `PROVIDER:USERNAME`.
        user: String,
    },
    /// Lift the lock that repeated failed logins put on a user.
    Unlock {
        /// The user: an id, or `PROVIDER:USERNAME`.
        user: String,
    },
    /// Set a new password (read from standard input); every session of theirs ends.
    ResetPassword {
        /// The user: an id, or `PROVIDER:USERNAME`.
        user: String,
    },
    /// End every session of a user.
    RevokeSessions {
        /// The user: an id, or `PROVIDER:USERNAME`.
        user: String,
    },
    /// Remove a user's second factors (TOTP, recovery codes, passkeys) and end their
    /// sessions; needs a recent second factor of yours (`rampart mfa step-up`).
    ResetMfa {
        /// The user: an id, or `PROVIDER:USERNAME`.
        user: String,
    },
    /// Issue an enrolment link for an account with no password, which lets its holder
    /// register a passkey once; needs a recent second factor of yours. The link is
    /// printed once; with --mail it goes to the account's e-mail address instead
    /// (through the server's `[support] smtp_host`) and nobody else sees it.
    ///
    ///     rampart users enrol it:nora --mail
    #[command(verbatim_doc_comment)]
    Enrol {
        /// The user: an id, or `PROVIDER:USERNAME`.
        user: String,
        /// Mail the link to the account's address instead of printing it.
        #[arg(long)]
        mail: bool,
    },
    /// Delete a user, their sessions and their grants.
    Delete {
        /// The user: an id, or `PROVIDER:USERNAME`.
        user: String,
    },
}

/// `rampart users create`.
#[derive(Debug, Args)]
pub struct CreateUser {
    /// `it` (platform users: administrators, developers, auditors) or `end` (the
    /// applications' users).
    provider: String,
    /// ASCII letters, digits, `.`, `_`, `-`, `@`; unique per provider ignoring case.
    username: String,
    /// The e-mail address (where a mailed enrolment link goes).
    #[arg(long)]
    email: Option<String>,
    /// The name shown for the user.
    #[arg(long)]
    display_name: Option<String>,
    /// Make an IT user a platform administrator.
    #[arg(long)]
    admin: bool,
    /// No password: the account signs in with a passkey, enrolled through a link.
    #[arg(long)]
    no_password: bool,
}

/// Runs a `rampart users` command against the logged-in server.
pub async fn run(command: &UsersCommand) -> anyhow::Result<()> {
    let client = connect()?;
    let users = client.identity();
    match command {
        UsersCommand::List { provider, prefix } => {
            let mut query = ListUsersQuery {
                provider: provider.clone(),
                prefix: prefix.clone(),
                cursor: None,
                limit: Some(500),
            };
            let mut any = false;
            loop {
                let page = users.users(&query).await.map_err(fail)?;
                for u in &page.items {
                    any = true;
                    println!("{}", row(u));
                }
                match page.next_cursor {
                    Some(next) => query.cursor = Some(next),
                    None => break,
                }
            }
            if !any {
                println!("no users");
            }
        }
        UsersCommand::Show { user } => {
            let id = resolve(&client, user).await?;
            let u = users.user(&id).await.map_err(fail)?;
            println!("{}", serde_json::to_string_pretty(&u)?);
        }
        UsersCommand::Create(c) => {
            let password = if c.no_password {
                None
            } else {
                Some(crate::read_password()?)
            };
            let request = CreateUserRequest {
                provider: c.provider.clone(),
                username: c.username.clone(),
                password,
                no_password: c.no_password,
                display_name: c.display_name.clone(),
                email: c.email.clone(),
                administrator: c.admin,
            };
            let u = users.create_user(&request).await.map_err(fail)?;
            println!("created {}:{} ({})", u.provider, u.username, u.id);
            if c.no_password {
                println!(
                    "no password: issue its enrolment link with `rampart users enrol {}:{}` \
                     (--mail to send it to the account's address)",
                    u.provider, u.username
                );
            }
        }
        UsersCommand::Disable { user } => {
            let u = users
                .disable_user(&resolve(&client, user).await?)
                .await
                .map_err(fail)?;
            println!(
                "disabled {}:{}; every session of theirs has ended",
                u.provider, u.username
            );
        }
        UsersCommand::Enable { user } => {
            let u = users
                .enable_user(&resolve(&client, user).await?)
                .await
                .map_err(fail)?;
            println!("enabled {}:{}", u.provider, u.username);
        }
        UsersCommand::Unlock { user } => {
            users
                .unlock_user(&resolve(&client, user).await?)
                .await
                .map_err(fail)?;
            println!("unlocked {user}");
        }
        UsersCommand::ResetPassword { user } => {
            let id = resolve(&client, user).await?;
            let password = crate::read_password()?;
            users
                .reset_password(&id, &ResetPasswordRequest { password })
                .await
                .map_err(fail)?;
            println!("password set for {user}; every session of theirs has ended");
        }
        UsersCommand::RevokeSessions { user } => {
            let ended = users
                .revoke_sessions(&resolve(&client, user).await?)
                .await
                .map_err(fail)?;
            println!("ended {} session(s) of {user}", ended.revoked);
        }
        UsersCommand::ResetMfa { user } => {
            let ended = users
                .reset_mfa(&resolve(&client, user).await?)
                .await
                .map_err(fail)?;
            println!(
                "second factors of {user} removed; ended {} session(s)",
                ended.revoked
            );
        }
        UsersCommand::Enrol { user, mail } => {
            let id = resolve(&client, user).await?;
            if *mail {
                let mailed = users.mail_enrolment(&id).await.map_err(fail)?;
                println!(
                    "enrolment link for {user} mailed to {}; it works once, until {}",
                    mailed.mailed_to,
                    stamp(mailed.expires_at)
                );
            } else {
                let link = users.issue_enrolment(&id).await.map_err(fail)?;
                println!(
                    "enrolment link for {user} (shown once; it works once, until {}; hand it \
                     over through a safe channel):",
                    stamp(link.expires_at)
                );
                println!("{}", link.link);
            }
        }
        UsersCommand::Delete { user } => {
            users
                .delete_user(&resolve(&client, user).await?)
                .await
                .map_err(fail)?;
            println!("deleted {user}");
        }
    }
    Ok(())
}

/// One line of `rampart users list`.
fn row(u: &UserView) -> String {
    let mut marks = Vec::new();
    if u.administrator {
        marks.push("administrator");
    }
    if u.disabled {
        marks.push("disabled");
    }
    if !u.password && u.user_provider.is_none() {
        marks.push("no password");
    }
    let source = u
        .user_provider
        .as_deref()
        .map_or_else(|| "local".to_owned(), |p| format!("via {p}"));
    let login = u.last_login_at.map_or_else(|| "never".to_owned(), stamp);
    format!(
        "{:<36} {:<3} {:<24} {:<14} last login {:<19} {}",
        u.id,
        u.provider,
        u.username,
        source,
        login,
        marks.join(", ")
    )
    .trim_end()
    .to_owned()
}

/// The id of the user `named`: an id as given, or `PROVIDER:USERNAME` looked up (the
/// username matched whole, ignoring case).
async fn resolve(client: &Client, named: &str) -> anyhow::Result<String> {
    let Some((provider, username)) = named.split_once(':') else {
        return Ok(named.to_owned());
    };
    if !matches!(provider, "it" | "end") || username.is_empty() {
        anyhow::bail!("{named:?}: name a user by id, or as it:USERNAME or end:USERNAME");
    }
    let mut query = ListUsersQuery {
        provider: Some(provider.to_owned()),
        prefix: Some(username.to_owned()),
        cursor: None,
        limit: Some(500),
    };
    loop {
        let page = client.identity().users(&query).await.map_err(fail)?;
        if let Some(u) = page
            .items
            .into_iter()
            .find(|u| u.username.eq_ignore_ascii_case(username))
        {
            return Ok(u.id);
        }
        match page.next_cursor {
            Some(next) => query.cursor = Some(next),
            None => anyhow::bail!("no {provider} user is named {username:?}"),
        }
    }
}
