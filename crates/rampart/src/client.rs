//! The commands that talk to a running server over its HTTP API: `login`, `module …` and
//! `env …`. The session token is kept in a file only the user can read (or given in
//! `RAMPART_TOKEN`), never on the command line.

use std::io::IsTerminal as _;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context as _};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

/// Where and how to reach the server.
pub struct Client {
    http: reqwest::Client,
    server: String,
    token: Option<String>,
}

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

impl Client {
    /// A client for `server`, trusting `ca_cert` (PEM) in addition to the system's roots.
    fn build(server: &str, ca_cert: Option<&Path>, token: Option<String>) -> anyhow::Result<Self> {
        let server = server.trim_end_matches('/').to_owned();
        if !server.starts_with("https://") && !server.starts_with("http://") {
            bail!("--server must be a URL such as https://127.0.0.1:8443, not `{server}`");
        }
        let mut builder = reqwest::Client::builder()
            .user_agent(concat!("rampart-cli/", env!("CARGO_PKG_VERSION")));
        if let Some(path) = ca_cert {
            let pem = std::fs::read(path)
                .with_context(|| format!("cannot read the CA certificate {}", path.display()))?;
            let cert = reqwest::Certificate::from_pem(&pem)
                .with_context(|| format!("{} is not a PEM certificate", path.display()))?;
            builder = builder.add_root_certificate(cert);
        }
        Ok(Self {
            http: builder.build().context("cannot set up HTTPS")?,
            server,
            token,
        })
    }

    /// The client of the saved session (or `RAMPART_SERVER` and `RAMPART_TOKEN`).
    pub fn from_session() -> anyhow::Result<Self> {
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
        Self::build(&server, ca.as_deref(), Some(token))
    }

    /// Sends a request; returns the status and the JSON body (problems included).
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> anyhow::Result<(StatusCode, Value)> {
        let mut request = self.http.request(method, format!("{}{path}", self.server));
        if let Some(token) = &self.token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request
            .send()
            .await
            .with_context(|| format!("cannot reach {} (is the server running, and its certificate trusted? see --ca-cert)", self.server))?;
        let status = response.status();
        let text = response.text().await.unwrap_or_default();
        Ok((
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        ))
    }

    /// Like [`Client::call`], turning an error status into an error naming the problem.
    pub async fn ok(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> anyhow::Result<Value> {
        let (status, body) = self.call(method, path, body).await?;
        if status.is_success() {
            return Ok(body);
        }
        bail!("{}", problem_text(status, &body))
    }
}

/// A problem as lines for a terminal: the detail, then each listed error or breakage.
pub fn problem_text(status: StatusCode, body: &Value) -> String {
    let mut out = match body["detail"].as_str() {
        Some(detail) => format!("{detail} ({})", status.as_u16()),
        None => format!("the server answered {status}"),
    };
    if status == StatusCode::UNAUTHORIZED {
        out.push_str("\n  hint: your session may have expired; run `rampart login` again");
    }
    for e in body["errors"].as_array().into_iter().flatten() {
        out.push_str(&format!(
            "\n  {}:{}:{}: error[{}]: {}",
            e["file"].as_str().unwrap_or(""),
            e["pos"]["line"],
            e["pos"]["col"],
            e["class"].as_str().unwrap_or(""),
            e["message"].as_str().unwrap_or("")
        ));
        if let Some(h) = e["hint"].as_str() {
            out.push_str(&format!("\n    hint: {h}"));
        }
    }
    for b in body["breaking"].as_array().into_iter().flatten() {
        out.push_str(&format!(
            "\n  {} {} in {}: {} `{}` of {}: {}",
            b["module"].as_str().unwrap_or(""),
            b["version"],
            b["environment"].as_str().unwrap_or(""),
            b["kind"].as_str().unwrap_or(""),
            b["element"].as_str().unwrap_or(""),
            b["depends_on"].as_str().unwrap_or(""),
            b["reason"].as_str().unwrap_or("")
        ));
    }
    out
}

/// `rampart login`: asks for the password (standard input when not a terminal), stores the
/// session token in the session file, readable by the user only.
pub async fn login(
    server: &str,
    username: &str,
    provider: &str,
    ca_cert: Option<&Path>,
) -> anyhow::Result<()> {
    let client = Client::build(server, ca_cert, None)?;
    let password = if std::io::stdin().is_terminal() {
        rpassword::prompt_password(format!("Password for {username}: "))?
    } else {
        let mut line = String::new();
        std::io::stdin().read_line(&mut line)?;
        line.trim_end_matches(['\n', '\r']).to_owned()
    };
    let body = json!({ "username": username, "password": password, "provider": provider });
    let answer = client
        .ok(Method::POST, "/api/v1/auth/login", Some(body))
        .await?;
    let Some(token) = answer["token"].as_str() else {
        bail!("the server answered without a session token");
    };
    let ca = match ca_cert {
        Some(p) => Some(std::fs::canonicalize(p)?.display().to_string()),
        None => None,
    };
    let path = session_file()?;
    write_private(
        &path,
        &serde_json::to_string_pretty(
            &json!({ "server": client.server, "token": token, "ca_cert": ca }),
        )?,
    )?;
    eprintln!(
        "logged in to {} as {provider}:{username}; session saved in {}",
        client.server,
        path.display()
    );
    Ok(())
}

/// The module files under `paths` (directories give their `.yaml`, `.yml` and `.json`
/// files), parsed, in an order where each comes after the modules it depends on.
pub fn module_files(
    paths: &[PathBuf],
) -> anyhow::Result<Vec<(PathBuf, String, rampart_model::Module)>> {
    let mut files = Vec::new();
    for p in paths {
        if p.is_dir() {
            let mut entries: Vec<PathBuf> = std::fs::read_dir(p)
                .with_context(|| format!("cannot list {}", p.display()))?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|f| {
                    matches!(
                        f.extension().and_then(|e| e.to_str()),
                        Some("yaml" | "yml" | "json")
                    )
                })
                .collect();
            entries.sort();
            files.extend(entries);
        } else {
            files.push(p.clone());
        }
    }
    if files.is_empty() {
        bail!(
            "no module files (.yaml, .yml, .json) in {}",
            paths
                .iter()
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    let mut parsed = Vec::new();
    let mut failures = Vec::new();
    for f in files {
        let text =
            std::fs::read_to_string(&f).with_context(|| format!("cannot read {}", f.display()))?;
        match rampart_model::parse(&f.display().to_string(), &text) {
            Ok(m) => parsed.push((f, text, m)),
            Err(d) => failures.push(d.to_string()),
        }
    }
    if !failures.is_empty() {
        bail!("{}", failures.join("\n"));
    }
    // Dependencies first (a stable topological order; cycles keep file order).
    let mut ordered: Vec<(PathBuf, String, rampart_model::Module)> = Vec::new();
    while !parsed.is_empty() {
        let names: Vec<String> = parsed.iter().map(|(_, _, m)| m.module.clone()).collect();
        let ready = parsed
            .iter()
            .position(|(_, _, m)| m.dependencies.iter().all(|d| !names.contains(&d.module)))
            .unwrap_or(0);
        ordered.push(parsed.remove(ready));
    }
    Ok(ordered)
}

/// `rampart module publish`.
pub async fn publish(paths: &[PathBuf], message: &str, force: bool) -> anyhow::Result<()> {
    let files = module_files(paths)?;
    let client = Client::from_session()?;
    for (path, source, module) in files {
        let name = &module.module;
        let (status, versions) = client
            .call(
                Method::GET,
                &format!("/api/v1/modules/{name}/versions"),
                None,
            )
            .await?;
        let parent = match status {
            StatusCode::NOT_FOUND => 0,
            s if s.is_success() => versions[0]["version"].as_i64().unwrap_or(0),
            s => bail!("{}: {}", path.display(), problem_text(s, &versions)),
        };
        let body =
            json!({ "source": source, "message": message, "parent": parent, "force": force });
        let (status, answer) = client
            .call(
                Method::POST,
                &format!("/api/v1/modules/{name}/versions"),
                Some(body),
            )
            .await?;
        if !status.is_success() {
            bail!("{}: {}", path.display(), problem_text(status, &answer));
        }
        let v = &answer["version"];
        if answer["created"] == json!(true) {
            println!(
                "published {name} version {} ({})",
                v["version"],
                v["digest"].as_str().unwrap_or("")
            );
        } else {
            println!("{name}: unchanged, same as version {}", v["version"]);
        }
        for b in answer["forced"].as_array().into_iter().flatten() {
            println!(
                "  forced: breaks {} {} in {} ({} `{}`: {})",
                b["module"].as_str().unwrap_or(""),
                b["version"],
                b["environment"].as_str().unwrap_or(""),
                b["kind"].as_str().unwrap_or(""),
                b["element"].as_str().unwrap_or(""),
                b["reason"].as_str().unwrap_or("")
            );
        }
    }
    Ok(())
}

/// `rampart module list`.
pub async fn list(name: &str) -> anyhow::Result<()> {
    let client = Client::from_session()?;
    let versions = client
        .ok(
            Method::GET,
            &format!("/api/v1/modules/{name}/versions"),
            None,
        )
        .await?;
    println!(
        "{:>7}  {:<20}  {:<20}  {:<16}  message",
        "version", "published", "author", "deployed in"
    );
    for v in versions.as_array().into_iter().flatten() {
        let deployed: Vec<&str> = v["deployed_in"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .collect();
        println!(
            "{:>7}  {:<20}  {:<20}  {:<16}  {}",
            v["version"],
            v["created_at"]
                .as_str()
                .unwrap_or("")
                .get(..19)
                .unwrap_or(""),
            v["author"].as_str().unwrap_or(""),
            deployed.join(","),
            v["message"]
                .as_str()
                .unwrap_or("")
                .lines()
                .next()
                .unwrap_or("")
        );
    }
    Ok(())
}

/// `rampart module show`: the source (`open`) or the public surface (`reference`).
pub async fn show(name: &str, version: Option<i64>, surface: bool) -> anyhow::Result<()> {
    let client = Client::from_session()?;
    if surface {
        let q = version.map(|v| format!("?version={v}")).unwrap_or_default();
        let s = client
            .ok(
                Method::GET,
                &format!("/api/v1/modules/{name}/surface{q}"),
                None,
            )
            .await?;
        println!("{}", serde_json::to_string_pretty(&s)?);
        return Ok(());
    }
    let v = match version {
        Some(v) => v,
        None => {
            let list = client
                .ok(
                    Method::GET,
                    &format!("/api/v1/modules/{name}/versions"),
                    None,
                )
                .await?;
            list[0]["version"]
                .as_i64()
                .context("the module has no versions")?
        }
    };
    let answer = client
        .ok(
            Method::GET,
            &format!("/api/v1/modules/{name}/versions/{v}"),
            None,
        )
        .await?;
    print!("{}", answer["source"].as_str().unwrap_or(""));
    Ok(())
}

/// `rampart module diff`: structured, then lines; colour on a terminal; `--json` as the API
/// gives it.
pub async fn diff(name: &str, from: i64, to: i64, as_json: bool) -> anyhow::Result<()> {
    let client = Client::from_session()?;
    let d = client
        .ok(
            Method::GET,
            &format!("/api/v1/modules/{name}/diff?from={from}&to={to}"),
            None,
        )
        .await?;
    if as_json {
        println!("{}", serde_json::to_string_pretty(&d)?);
        return Ok(());
    }
    let d: rampart_model::ModuleDiff =
        serde_json::from_value(d).context("unexpected diff from the server")?;
    print!(
        "{}",
        d.render(std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none())
    );
    Ok(())
}

/// `rampart module delete`.
pub async fn delete(name: &str, version: i64) -> anyhow::Result<()> {
    let client = Client::from_session()?;
    client
        .ok(
            Method::DELETE,
            &format!("/api/v1/modules/{name}/versions/{version}"),
            None,
        )
        .await?;
    println!("deleted {name} version {version}");
    Ok(())
}

fn print_name(n: &Value) {
    println!(
        "{:<30}  {:<20}  {:<10}  {}",
        n["name"].as_str().unwrap_or(""),
        n["application"].as_str().unwrap_or(""),
        n["status"].as_str().unwrap_or(""),
        n["since"].as_str().unwrap_or("").get(..19).unwrap_or("")
    );
}

/// `rampart module names`.
pub async fn module_names() -> anyhow::Result<()> {
    let client = Client::from_session()?;
    let names = client.ok(Method::GET, "/api/v1/module-names", None).await?;
    println!(
        "{:<30}  {:<20}  {:<10}  since",
        "name", "application", "status"
    );
    for n in names.as_array().into_iter().flatten() {
        print_name(n);
    }
    Ok(())
}

/// `rampart module reserve`.
pub async fn reserve_name(name: &str, application: &str) -> anyhow::Result<()> {
    let client = Client::from_session()?;
    let n = client
        .ok(
            Method::POST,
            "/api/v1/module-names",
            Some(json!({ "name": name, "application": application })),
        )
        .await?;
    println!(
        "reserved {} for application {}",
        n["name"].as_str().unwrap_or(name),
        n["application"].as_str().unwrap_or(application)
    );
    Ok(())
}

/// `rampart module transfer`.
pub async fn transfer_name(name: &str, application: &str) -> anyhow::Result<()> {
    let client = Client::from_session()?;
    let n = client
        .ok(
            Method::POST,
            &format!("/api/v1/module-names/{name}/transfer"),
            Some(json!({ "application": application })),
        )
        .await?;
    println!(
        "{} ({}) now belongs to application {}",
        n["name"].as_str().unwrap_or(name),
        n["status"].as_str().unwrap_or(""),
        n["application"].as_str().unwrap_or(application)
    );
    Ok(())
}

/// `rampart module release`.
pub async fn release_name(name: &str) -> anyhow::Result<()> {
    let client = Client::from_session()?;
    client
        .ok(
            Method::DELETE,
            &format!("/api/v1/module-names/{name}"),
            None,
        )
        .await?;
    println!("released {name}");
    Ok(())
}

fn print_plan(answer: &Value) {
    let env = answer["environment"].as_str().unwrap_or("");
    let changes = answer["changes"].as_array().cloned().unwrap_or_default();
    if changes.is_empty() {
        println!("{env}: nothing to change");
        return;
    }
    for c in &changes {
        let from = c["from"]
            .as_i64()
            .map_or("nothing".to_owned(), |v| format!("v{v}"));
        println!(
            "{env}: {} {from} → v{}",
            c["module"].as_str().unwrap_or(""),
            c["to"]
        );
        if let Some(kinds) = c["changes"].as_object() {
            for (kind, s) in kinds {
                for (mark, key) in [("+", "added"), ("-", "removed")] {
                    for n in s[key].as_array().into_iter().flatten() {
                        println!("    {mark} {kind} {}", n.as_str().unwrap_or(""));
                    }
                }
                for n in s["changed"].as_array().into_iter().flatten() {
                    println!("    ~ {kind} {}", n["name"].as_str().unwrap_or(""));
                }
            }
        }
    }
    match answer["status"].as_str() {
        Some("applied") => println!("applied"),
        Some("pending-approval") => println!(
            "waiting for a second approver: request {} (rampart env approve {env} {})",
            answer["request"], answer["request"]
        ),
        _ => println!("not applied (plan only)"),
    }
}

/// `rampart env requests ENV`.
pub async fn requests(env: &str, all: bool) -> anyhow::Result<()> {
    let client = Client::from_session()?;
    let q = if all { "" } else { "?status=pending" };
    let list = client
        .ok(
            Method::GET,
            &format!("/api/v1/environments/{env}/requests{q}"),
            None,
        )
        .await?;
    for r in list.as_array().into_iter().flatten() {
        let items: Vec<String> = r["items"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|i| format!("{}={}", i["module"].as_str().unwrap_or(""), i["version"]))
            .collect();
        println!(
            "{:>5}  {:<8}  {:<8}  by {:<20}  {}",
            r["id"],
            r["status"].as_str().unwrap_or(""),
            r["kind"].as_str().unwrap_or(""),
            r["requester"].as_str().unwrap_or(""),
            items.join(" ")
        );
    }
    Ok(())
}

/// `rampart env approve ENV ID`.
pub async fn approve(env: &str, id: i64) -> anyhow::Result<()> {
    let client = Client::from_session()?;
    let answer = client
        .ok(
            Method::POST,
            &format!("/api/v1/environments/{env}/requests/{id}/approve"),
            None,
        )
        .await?;
    print_plan(&answer);
    Ok(())
}

/// `rampart env reject ENV ID --reason`.
pub async fn reject(env: &str, id: i64, reason: &str) -> anyhow::Result<()> {
    let client = Client::from_session()?;
    client
        .ok(
            Method::POST,
            &format!("/api/v1/environments/{env}/requests/{id}/reject"),
            Some(json!({ "reason": reason })),
        )
        .await?;
    println!("rejected request {id}");
    Ok(())
}

/// `rampart env deploy ENV MODULE=VERSION…`.
pub async fn deploy(env: &str, items: &[String], dry_run: bool) -> anyhow::Result<()> {
    let mut modules = Vec::new();
    for item in items {
        let Some((module, version)) = item.split_once('=') else {
            bail!("`{item}`: write MODULE=VERSION, e.g. core-service=3");
        };
        let version: i64 = version
            .parse()
            .with_context(|| format!("`{item}`: the version is a number"))?;
        modules.push(json!({ "module": module, "version": version }));
    }
    let client = Client::from_session()?;
    let answer = client
        .ok(
            Method::POST,
            &format!("/api/v1/environments/{env}/deployments"),
            Some(json!({ "modules": modules, "dry_run": dry_run })),
        )
        .await?;
    print_plan(&answer);
    Ok(())
}

/// `rampart env stage ENV`.
pub async fn stage(
    env: &str,
    from: Option<&str>,
    modules: &[String],
    dry_run: bool,
) -> anyhow::Result<()> {
    let client = Client::from_session()?;
    let mut body = json!({ "dry_run": dry_run });
    if let Some(f) = from {
        body["from"] = json!(f);
    }
    if !modules.is_empty() {
        body["modules"] = json!(modules);
    }
    let answer = client
        .ok(
            Method::POST,
            &format!("/api/v1/environments/{env}/stage"),
            Some(body),
        )
        .await?;
    print_plan(&answer);
    Ok(())
}

/// `rampart env rollback ENV MODULE`.
pub async fn rollback(env: &str, module: &str, dry_run: bool) -> anyhow::Result<()> {
    let client = Client::from_session()?;
    let answer = client
        .ok(
            Method::POST,
            &format!("/api/v1/environments/{env}/rollback"),
            Some(json!({ "module": module, "dry_run": dry_run })),
        )
        .await?;
    print_plan(&answer);
    Ok(())
}

/// `rampart env history ENV`.
pub async fn history(env: &str, module: Option<&str>) -> anyhow::Result<()> {
    let client = Client::from_session()?;
    let q = module.map(|m| format!("?module={m}")).unwrap_or_default();
    let list = client
        .ok(
            Method::GET,
            &format!("/api/v1/environments/{env}/deployments{q}"),
            None,
        )
        .await?;
    for d in list.as_array().into_iter().flatten() {
        let previous = d["previous"]
            .as_i64()
            .map_or("nothing".to_owned(), |v| format!("v{v}"));
        println!(
            "{:>5}  {}  {:<8}  {} {previous} → v{}  by {}",
            d["id"],
            d["created_at"]
                .as_str()
                .unwrap_or("")
                .get(..19)
                .unwrap_or(""),
            d["kind"].as_str().unwrap_or(""),
            d["module"].as_str().unwrap_or(""),
            d["version"],
            d["actor"].as_str().unwrap_or("")
        );
    }
    Ok(())
}

/// `rampart env list`.
pub async fn environments() -> anyhow::Result<()> {
    let client = Client::from_session()?;
    let list = client.ok(Method::GET, "/api/v1/environments", None).await?;
    for e in list.as_array().into_iter().flatten() {
        let mut policies = Vec::new();
        if e["separation_of_duties"] == true {
            policies.push("separation of duties");
        }
        if e["second_approver"] == true {
            policies.push("second approver");
        }
        println!(
            "{:>2}  {:<16}  {}",
            e["position"],
            e["name"].as_str().unwrap_or(""),
            policies.join(", ")
        );
    }
    Ok(())
}

/// `rampart env define NAME… [--separation-of-duties LIST] [--second-approver LIST]`:
/// replaces the order; an environment keeps its policies unless a flag lists them anew.
pub async fn define_environments(
    names: &[String],
    separation_of_duties: Option<&str>,
    second_approver: Option<&str>,
) -> anyhow::Result<()> {
    let client = Client::from_session()?;
    let current = client.ok(Method::GET, "/api/v1/environments", None).await?;
    let listed = |list: Option<&str>, name: &str, now: bool| match list {
        Some(l) => l.split(',').map(str::trim).any(|e| e == name),
        None => now,
    };
    for (flag, list) in [
        ("--separation-of-duties", separation_of_duties),
        ("--second-approver", second_approver),
    ] {
        if let Some(unknown) = list
            .into_iter()
            .flat_map(|l| l.split(','))
            .map(str::trim)
            .find(|e| !e.is_empty() && !names.iter().any(|n| n == e))
        {
            bail!("{flag}: `{unknown}` is not among the environments given");
        }
    }
    let environments: Vec<Value> = names
        .iter()
        .map(|name| {
            let now = current
                .as_array()
                .into_iter()
                .flatten()
                .find(|e| e["name"] == name.as_str());
            let flag = |key: &str| now.is_some_and(|e| e[key] == true);
            json!({
                "name": name,
                "separation_of_duties": listed(separation_of_duties, name, flag("separation_of_duties")),
                "second_approver": listed(second_approver, name, flag("second_approver")),
            })
        })
        .collect();
    client
        .ok(
            Method::POST,
            "/api/v1/it/write",
            Some(json!({ "operations": [{ "op": "set_environments", "environments": environments }] })),
        )
        .await?;
    let list = client.ok(Method::GET, "/api/v1/environments", None).await?;
    let names: Vec<&str> = list
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|e| e["name"].as_str())
        .collect();
    println!("environments: {}", names.join(" → "));
    Ok(())
}

/// `rampart env settings ENV`.
pub async fn settings(env: &str) -> anyhow::Result<()> {
    let client = Client::from_session()?;
    let list = client
        .ok(
            Method::GET,
            &format!("/api/v1/environments/{env}/settings"),
            None,
        )
        .await?;
    for s in list.as_array().into_iter().flatten() {
        println!(
            "{:<8}  {}.{} = {}  (plan {})",
            s["kind"].as_str().unwrap_or(""),
            s["module"].as_str().unwrap_or(""),
            s["name"].as_str().unwrap_or(""),
            s["value"],
            s["plan"]
        );
    }
    Ok(())
}

/// `rampart app tag APP TAG`.
pub async fn tag(app: &str, tag: &str, notes: &str, items: &[String]) -> anyhow::Result<()> {
    let client = Client::from_session()?;
    let mut body = json!({ "tag": tag, "notes": notes });
    if !items.is_empty() {
        let mut modules = serde_json::Map::new();
        for item in items {
            let (module, version) = item
                .split_once('=')
                .with_context(|| format!("`{item}`: write MODULE=VERSION, e.g. core-service=3"))?;
            let version: i64 = version
                .parse()
                .with_context(|| format!("`{item}`: the version is a number"))?;
            modules.insert(module.to_owned(), json!(version));
        }
        body["modules"] = Value::Object(modules);
    }
    let t = client
        .ok(
            Method::POST,
            &format!("/api/v1/applications/{app}/tags"),
            Some(body),
        )
        .await?;
    println!("{app} {tag}: {}", modules_text(&t["modules"]));
    Ok(())
}

fn modules_text(modules: &Value) -> String {
    modules
        .as_object()
        .into_iter()
        .flatten()
        .map(|(m, v)| format!("{m}={v}"))
        .collect::<Vec<_>>()
        .join(" ")
}

/// `rampart app tags APP`.
pub async fn tags(app: &str) -> anyhow::Result<()> {
    let client = Client::from_session()?;
    let list = client
        .ok(
            Method::GET,
            &format!("/api/v1/applications/{app}/tags"),
            None,
        )
        .await?;
    for t in list.as_array().into_iter().flatten() {
        println!(
            "{:<12}  {}  {}",
            t["tag"].as_str().unwrap_or(""),
            modules_text(&t["modules"]),
            t["notes"].as_str().unwrap_or("")
        );
    }
    Ok(())
}

/// Settings given on the command line: `--set module.Property=value` (JSON when it parses,
/// else text), `--endpoint module.Integration=url`, `--secret module.Integration=ref`.
pub struct SettingArgs<'a> {
    /// Site property values.
    pub properties: &'a [String],
    /// Integration base URLs.
    pub endpoints: &'a [String],
    /// Secret references.
    pub secrets: &'a [String],
}

impl SettingArgs<'_> {
    fn to_json(&self) -> anyhow::Result<Value> {
        let pairs = |list: &[String], flag: &str| -> anyhow::Result<Vec<(String, String)>> {
            list.iter()
                .map(|item| {
                    let (k, v) = item
                        .split_once('=')
                        .with_context(|| format!("{flag} `{item}`: write module.Name=value"))?;
                    Ok((k.to_owned(), v.to_owned()))
                })
                .collect()
        };
        let mut properties = serde_json::Map::new();
        for (k, v) in pairs(self.properties, "--set")? {
            let value = serde_json::from_str(&v).unwrap_or(Value::String(v));
            properties.insert(k, value);
        }
        let text = |list: Vec<(String, String)>| -> serde_json::Map<String, Value> {
            list.into_iter()
                .map(|(k, v)| (k, Value::String(v)))
                .collect()
        };
        Ok(json!({
            "properties": properties,
            "endpoints": text(pairs(self.endpoints, "--endpoint")?),
            "secrets": text(pairs(self.secrets, "--secret")?),
        }))
    }
}

fn print_deployment_plan(p: &Value) {
    let apps: Vec<String> = p["applications"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|a| {
            format!(
                "{}@{}",
                a["application"].as_str().unwrap_or(""),
                a["tag"].as_str().unwrap_or("")
            )
        })
        .collect();
    println!(
        "plan {} → {}: {}  [{}]",
        p["id"],
        p["environment"].as_str().unwrap_or(""),
        apps.join(" "),
        p["status"].as_str().unwrap_or("")
    );
    if let Some(e) = p["error"].as_str() {
        println!("  aborted: {e}");
    }
    let preview = &p["preview"];
    if preview.is_object() {
        for c in preview["changes"].as_array().into_iter().flatten() {
            let from = c["from"]
                .as_i64()
                .map_or("nothing".to_owned(), |v| format!("v{v}"));
            println!(
                "  {} {from} → v{}",
                c["module"].as_str().unwrap_or(""),
                c["to"]
            );
        }
        for s in preview["settings"].as_array().into_iter().flatten() {
            let from = if s["from"].is_null() {
                "unset".to_owned()
            } else {
                s["from"].to_string()
            };
            println!(
                "  {} {}.{}: {from} → {}",
                s["kind"].as_str().unwrap_or(""),
                s["module"].as_str().unwrap_or(""),
                s["name"].as_str().unwrap_or(""),
                s["to"]
            );
        }
        for m in preview["missing"].as_array().into_iter().flatten() {
            println!(
                "  missing: {} (give it with --set)",
                m.as_str().unwrap_or("")
            );
        }
        for w in preview["warnings"].as_array().into_iter().flatten() {
            println!("  warning: {}", w.as_str().unwrap_or(""));
        }
        if let Some(d) = preview["refused"]["detail"].as_str() {
            println!("  would be refused: {d}");
        }
    }
    if p["run"].is_object() {
        print_plan(&p["run"]);
    }
}

/// `rampart plan create ENV APP=TAG…`.
pub async fn create_plan(
    env: &str,
    apps: &[String],
    settings: &SettingArgs<'_>,
    notes: &str,
) -> anyhow::Result<()> {
    let mut applications = Vec::new();
    for item in apps {
        let (application, tag) = item
            .split_once('=')
            .with_context(|| format!("`{item}`: write APPLICATION=TAG, e.g. sales=1.0"))?;
        applications.push(json!({ "application": application, "tag": tag }));
    }
    let client = Client::from_session()?;
    let p = client
        .ok(
            Method::POST,
            "/api/v1/deployment-plans",
            Some(json!({
                "environment": env,
                "applications": applications,
                "settings": settings.to_json()?,
                "notes": notes,
            })),
        )
        .await?;
    print_deployment_plan(&p);
    Ok(())
}

/// `rampart plan list`.
pub async fn plans(env: Option<&str>) -> anyhow::Result<()> {
    let client = Client::from_session()?;
    let q = env.map(|e| format!("?environment={e}")).unwrap_or_default();
    let list = client
        .ok(Method::GET, &format!("/api/v1/deployment-plans{q}"), None)
        .await?;
    for p in list.as_array().into_iter().flatten() {
        print_deployment_plan(p);
    }
    Ok(())
}

/// `rampart plan show ID`.
pub async fn show_plan(id: i64) -> anyhow::Result<()> {
    let client = Client::from_session()?;
    let p = client
        .ok(Method::GET, &format!("/api/v1/deployment-plans/{id}"), None)
        .await?;
    print_deployment_plan(&p);
    Ok(())
}

/// `rampart plan run ID`.
pub async fn run_plan(id: i64, dry_run: bool) -> anyhow::Result<()> {
    let client = Client::from_session()?;
    let p = client
        .ok(
            Method::POST,
            &format!("/api/v1/deployment-plans/{id}/run"),
            Some(json!({ "dry_run": dry_run })),
        )
        .await?;
    print_deployment_plan(&p);
    Ok(())
}

/// `rampart plan copy ID`.
pub async fn copy_plan(
    id: i64,
    env: Option<&str>,
    settings: &SettingArgs<'_>,
) -> anyhow::Result<()> {
    let client = Client::from_session()?;
    let mut body = json!({ "settings": settings.to_json()? });
    if let Some(e) = env {
        body["environment"] = json!(e);
    }
    let p = client
        .ok(
            Method::POST,
            &format!("/api/v1/deployment-plans/{id}/copy"),
            Some(body),
        )
        .await?;
    print_deployment_plan(&p);
    Ok(())
}
