//! `rampart idp-client …` and `rampart idp-key …`: Rampart as an OpenID Connect provider on
//! a running server. Administrators register the applications outside the platform that
//! sign their users in through Rampart, edit them, and rotate the provider's signing key;
//! auditors may list and show.

use clap::{Args, Subcommand};
use rampart_client::api::idp::{IdpClientUpdate, NewIdpClientRequest};

use super::{connect, fail};

#[derive(Debug, Subcommand)]
pub enum IdpClientCommand {
    /// Register a client (administrators). A confidential or service client's secret is
    /// printed once: store it in the application's secret store; Rampart keeps only its
    /// hash.
    ///
    ///     rampart idp-client create wiki --name Wiki --first-party \
    ///         --redirect-uri https://wiki.example.com/oidc/callback \
    ///         --post-logout-redirect-uri https://wiki.example.com/
    ///     rampart idp-client create spa --name "Timesheets" --kind public \
    ///         --redirect-uri https://time.example.com/callback
    ///     rampart idp-client create grafana --name Grafana --first-party --users it \
    ///         --redirect-uri https://grafana.example.com/login/generic_oauth
    ///     rampart idp-client create billing --name Billing --kind service --scope profile
    ///
    /// The application then discovers everything else at
    /// https://YOUR-SERVER/.well-known/openid-configuration. Redirect URIs are matched
    /// exactly; PKCE (S256) is required of every client; ID tokens are signed RS256 unless
    /// --id-token-alg ES256 is given. The applications' end users sign in to a client
    /// through the provider's own page (/oauth2/login); with --users it, IT users sign in
    /// through the console's sign-in page.
    #[command(verbatim_doc_comment)]
    Create(Box<CreateClient>),
    /// Every registered client (administrators and auditors).
    List,
    /// One client, as JSON (never its secret).
    Show {
        /// The client id.
        client_id: String,
    },
    /// Change a registered client's settings (administrators). Only the options given
    /// change; a repeatable option replaces the whole list with the values given. The
    /// client id, its secret (see rotate-secret) and its kind never change here.
    ///
    ///     rampart idp-client update wiki --name "Team wiki"
    ///     rampart idp-client update wiki \
    ///         --redirect-uri https://wiki.example.com/oidc/callback \
    ///         --redirect-uri https://wiki-staging.example.com/oidc/callback
    ///     rampart idp-client update wiki --scope openid --scope profile
    ///     rampart idp-client update wiki --no-post-logout-redirect-uris --third-party
    ///
    /// The change is checked whole by the rules of a registration and refused, with
    /// nothing changed, if any setting breaks one. It applies at once, on every node:
    /// a redirect URI removed is refused at the next authorization request, and codes
    /// issued for it can no longer be redeemed. Refresh tokens, unredeemed codes and
    /// consents keep only the scopes the client may still ask for; those left without
    /// openid are revoked, and the application must sign its users in again. Changing
    /// --users revokes every grant and consent the client holds.
    #[command(verbatim_doc_comment)]
    Update(Box<UpdateClient>),
    /// Remove a client with its codes, refresh tokens and consents (administrators).
    Delete {
        /// The client id.
        client_id: String,
    },
    /// Give a confidential or service client a new secret, printed once; the old one
    /// stops working at once (administrators).
    RotateSecret {
        /// The client id.
        client_id: String,
    },
}

/// The arguments of `idp-client create`.
#[derive(Debug, Args)]
pub struct CreateClient {
    /// The client id: 1–64 of a-z 0-9 - _ . starting with a letter or digit.
    pub client_id: String,
    /// What the consent page and administrators call it.
    #[arg(long)]
    pub name: String,
    /// `confidential` (a server-side application with a secret), `public` (a browser or
    /// native app: no secret, PKCE only) or `service` (a secret, client credentials only).
    #[arg(long, default_value = "confidential")]
    pub kind: String,
    /// An application of this organisation: its users are not asked to consent.
    #[arg(long)]
    pub first_party: bool,
    /// A redirect URI, matched exactly (repeat for several).
    #[arg(long = "redirect-uri")]
    pub redirect_uris: Vec<String>,
    /// Where RP-initiated logout may return to, matched exactly (repeat for several).
    #[arg(long = "post-logout-redirect-uri")]
    pub post_logout_redirect_uris: Vec<String>,
    /// A scope the client may ask for (repeat; all of `openid profile email
    /// offline_access` when none is given).
    #[arg(long = "scope")]
    pub scopes: Vec<String>,
    /// The algorithm of its ID tokens: RS256 (OpenID Connect's default) or ES256.
    #[arg(long = "id-token-alg", value_parser = ["RS256", "ES256"])]
    pub id_token_alg: Option<String>,
    /// Who signs in to it: the applications' end users (`end`, the provider's own
    /// sign-in page) or IT users (`it`, the console's sign-in page). A session of the
    /// other kind of user never obtains a code for it.
    #[arg(long, value_parser = ["end", "it"], default_value = "end")]
    pub users: String,
}

/// The arguments of `idp-client update`: each option absent leaves its setting as it is.
#[derive(Debug, Args)]
pub struct UpdateClient {
    /// The client id (never changes).
    pub client_id: String,
    /// A new name, shown on the consent page and to administrators.
    #[arg(long)]
    pub name: Option<String>,
    /// Make it first-party: its users are no longer asked to consent.
    #[arg(long, conflicts_with = "third_party")]
    pub first_party: bool,
    /// Make it third-party: its users are asked to consent to what they have not granted.
    #[arg(long)]
    pub third_party: bool,
    /// A redirect URI, matched exactly; repeat for several. The URIs given replace every
    /// registered one (give them all).
    #[arg(long = "redirect-uri")]
    pub redirect_uris: Vec<String>,
    /// A post-logout redirect URI; repeat for several. Replaces every registered one.
    #[arg(
        long = "post-logout-redirect-uri",
        conflicts_with = "no_post_logout_redirect_uris"
    )]
    pub post_logout_redirect_uris: Vec<String>,
    /// Remove every post-logout redirect URI.
    #[arg(long)]
    pub no_post_logout_redirect_uris: bool,
    /// A scope the client may ask for, among openid profile email offline_access; repeat
    /// for several. Replaces the registered scopes (grants keep only those still allowed).
    #[arg(long = "scope")]
    pub scopes: Vec<String>,
    /// The algorithm of its ID tokens from the next one issued: RS256 or ES256.
    #[arg(long = "id-token-alg", value_parser = ["RS256", "ES256"])]
    pub id_token_alg: Option<String>,
    /// Who signs in to it: `end` or `it` users. Changing it revokes every grant and
    /// consent the client holds.
    #[arg(long, value_parser = ["end", "it"])]
    pub users: Option<String>,
    /// Refuse the edit (and change nothing) if the settings have changed since they were
    /// read with this `version` (as `idp-client list` or the API shows it).
    #[arg(long = "if-version", value_name = "VERSION")]
    pub if_version: Option<String>,
}

impl UpdateClient {
    /// The API's change: only what was given.
    fn change(&self) -> IdpClientUpdate {
        let list = |v: &Vec<String>| (!v.is_empty()).then(|| v.clone());
        IdpClientUpdate {
            client_id: None,
            kind: None,
            name: self.name.clone(),
            first_party: match (self.first_party, self.third_party) {
                (true, _) => Some(true),
                (_, true) => Some(false),
                _ => None,
            },
            redirect_uris: list(&self.redirect_uris),
            post_logout_redirect_uris: if self.no_post_logout_redirect_uris {
                Some(Vec::new())
            } else {
                list(&self.post_logout_redirect_uris)
            },
            scopes: list(&self.scopes),
            id_token_signed_response_alg: self.id_token_alg.clone(),
            users: self.users.clone(),
            if_version: self.if_version.clone(),
        }
    }
}

#[derive(Debug, Subcommand)]
pub enum IdpKeyCommand {
    /// The published signing keys: when each was published, signs from, and retires.
    List,
    /// Rotate the signing key (administrators; a second factor verified recently, for
    /// those who have one: `rampart mfa step-up`). The new key is published at once and
    /// signs ten minutes later, so relying parties fetch it first; the old key stays
    /// published until the tokens it signed have expired.
    Rotate,
}

pub async fn run_clients(command: &IdpClientCommand) -> anyhow::Result<()> {
    let client = connect()?;
    let idp = client.idp();
    match command {
        IdpClientCommand::Create(c) => {
            let request = NewIdpClientRequest {
                client_id: c.client_id.clone(),
                name: c.name.clone(),
                kind: c.kind.clone(),
                first_party: c.first_party,
                redirect_uris: c.redirect_uris.clone(),
                post_logout_redirect_uris: c.post_logout_redirect_uris.clone(),
                scopes: (!c.scopes.is_empty()).then(|| c.scopes.clone()),
                id_token_signed_response_alg: c.id_token_alg.clone(),
                users: Some(c.users.clone()),
            };
            let created = idp.create(&request).await.map_err(fail)?;
            println!(
                "registered {} client {} ({})",
                created.client.kind, created.client.client_id, created.client.name
            );
            if let Some(secret) = created.client_secret {
                println!("client secret (shown once, only its hash is kept): {secret}");
            }
        }
        IdpClientCommand::List => {
            let list = idp.clients().await.map_err(fail)?;
            if list.clients.is_empty() {
                println!("no clients");
            }
            for c in list.clients {
                let party = if c.first_party {
                    "first-party"
                } else {
                    "third-party"
                };
                println!(
                    "{:<24} {:<12} {:<11} {:<9} {}",
                    c.client_id,
                    c.kind,
                    party,
                    format!("{} users", c.users),
                    c.redirect_uris.join(" ")
                );
            }
        }
        IdpClientCommand::Show { client_id } => {
            let c = idp.client(client_id).await.map_err(fail)?;
            println!("{}", serde_json::to_string_pretty(&c)?);
        }
        IdpClientCommand::Update(u) => {
            let change = u.change();
            if serde_json::to_value(&change)?
                .as_object()
                .is_some_and(|m| m.is_empty())
            {
                anyhow::bail!(
                    "nothing to change: give at least one option (see `rampart idp-client update --help`)"
                );
            }
            let c = idp.update(&u.client_id, &change).await.map_err(fail)?;
            println!("updated client {} ({})", c.client_id, c.name);
            println!("{}", serde_json::to_string_pretty(&c)?);
        }
        IdpClientCommand::Delete { client_id } => {
            idp.delete(client_id).await.map_err(fail)?;
            println!("removed client {client_id}");
        }
        IdpClientCommand::RotateSecret { client_id } => {
            let rotated = idp.rotate_secret(client_id).await.map_err(fail)?;
            if let Some(secret) = rotated.client_secret {
                println!("new client secret for {client_id} (shown once): {secret}");
            }
        }
    }
    Ok(())
}

pub async fn run_keys(command: &IdpKeyCommand) -> anyhow::Result<()> {
    let client = connect()?;
    let idp = client.idp();
    let list = match command {
        IdpKeyCommand::List => idp.keys().await.map_err(fail)?,
        IdpKeyCommand::Rotate => idp.rotate_key().await.map_err(fail)?,
    };
    for k in list.keys {
        let retire = k
            .retire_at
            .map(|r| format!("retires {r}"))
            .unwrap_or_default();
        println!(
            "{} {} published {} signs from {} {retire}",
            k.kid, k.alg, k.published_at, k.signs_from
        );
    }
    Ok(())
}
