//! `rampart support …`: the support desk from a terminal: companies and their people,
//! cases, comments, and decisions on requesters (by session or by an e-mailed link).

use clap::{Subcommand, ValueEnum};
use rampart_client::api::{CaseWire, CasesQuery, OpenCaseRequest, PeopleResponse};
use rampart_client::People;

use super::{connect, fail};

/// Whom a people command is about.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum Role {
    /// Contacts whose cases open at once.
    Member,
    /// Those who manage members and decide on requesters.
    Administrator,
}

impl Role {
    fn people(self) -> People {
        match self {
            Role::Member => People::Members,
            Role::Administrator => People::Administrators,
        }
    }
}

#[derive(Debug, Subcommand)]
pub enum SupportCommand {
    /// Create a company (platform administrators).
    ///
    ///     rampart support company-create acme
    #[command(verbatim_doc_comment)]
    CompanyCreate {
        /// Its name: letters, digits, '-', '_' and '.'.
        name: String,
    },
    /// The companies you manage (every one for platform administrators and support staff).
    Companies,
    /// A company's members (administrators are members too), or its administrators.
    ///
    ///     rampart support people acme --role administrator
    #[command(verbatim_doc_comment)]
    People {
        /// The company.
        company: String,
        /// Members or administrators.
        #[arg(long, value_enum, default_value = "member")]
        role: Role,
    },
    /// Add a member (their cases open at once) or an administrator.
    ///
    ///     rampart support add acme 0190c3e4-… --role member
    #[command(verbatim_doc_comment)]
    Add {
        /// The company.
        company: String,
        /// The user's id.
        user: String,
        /// Member or administrator.
        #[arg(long, value_enum, default_value = "member")]
        role: Role,
    },
    /// Remove a member (at once they open no case and see none of the company's), or an
    /// administrator (who stays a member).
    Remove {
        /// The company.
        company: String,
        /// The user's id.
        user: String,
        /// Member or administrator.
        #[arg(long, value_enum, default_value = "member")]
        role: Role,
    },
    /// Open a case. From a member it is open; from anyone else it is suspended until an
    /// administrator of the company authorizes you (they are asked by e-mail).
    ///
    ///     rampart support open acme --subject "Export stops" --severity high \
    ///         --description "The export stops at 10,000 rows."
    #[command(verbatim_doc_comment)]
    Open {
        /// The company.
        company: String,
        /// One line.
        #[arg(long)]
        subject: String,
        /// What is wrong; `-` reads it from standard input.
        #[arg(long)]
        description: String,
        /// low, normal, high or critical.
        #[arg(long, default_value = "normal")]
        severity: String,
    },
    /// The cases you may see, newest first.
    ///
    ///     rampart support cases --status suspended --company acme
    #[command(verbatim_doc_comment)]
    Cases {
        /// open, suspended or closed.
        #[arg(long)]
        status: Option<String>,
        /// Only this company.
        #[arg(long)]
        company: Option<String>,
        /// The `next` printed after the previous page.
        #[arg(long)]
        after: Option<String>,
        /// 1 to 200.
        #[arg(long)]
        limit: Option<u32>,
    },
    /// A case with its comments.
    Show {
        /// The case's id.
        id: String,
    },
    /// Comment on a case.
    Comment {
        /// The case's id.
        id: String,
        /// The text; `-` reads it from standard input.
        text: String,
    },
    /// Share a case with another member of its company: they see it and comment on it.
    Share {
        /// The case's id.
        id: String,
        /// The member's user id.
        user: String,
    },
    /// Close a case.
    Close {
        /// The case's id.
        id: String,
    },
    /// Reopen a closed case.
    Reopen {
        /// The case's id.
        id: String,
    },
    /// Authorize the requester of a suspended case (company or platform administrators):
    /// they become a member, and their suspended cases open.
    Authorize {
        /// The case's id.
        id: String,
    },
    /// Ignore the requester of a suspended case: it stays suspended and closes later.
    Ignore {
        /// The case's id.
        id: String,
    },
    /// Attach a file to a case. Its type is taken from its extension (.txt .log .csv .json
    /// .pdf .png .jpg .jpeg .zip) unless given; the server checks it against the content.
    ///
    ///     rampart support attach 0190c3e4-… screenshot.png
    #[command(verbatim_doc_comment)]
    Attach {
        /// The case's id.
        id: String,
        /// The file.
        file: std::path::PathBuf,
        /// Its type, e.g. image/png.
        #[arg(long = "type")]
        media_type: Option<String>,
    },
    /// Save an attachment of a case to a file (never shown in the terminal).
    Download {
        /// The case's id.
        id: String,
        /// The attachment's number.
        number: i64,
        /// Where to write it (refused if it exists).
        #[arg(short, long)]
        out: std::path::PathBuf,
    },
    /// Follow an Authorize or Ignore link from an e-mail, as the administrator it was sent
    /// to: give the link or just its token (rsl_…), or `-` to read it from standard input,
    /// which keeps it out of the process list. Each works once.
    Follow {
        /// The link, or its token, or `-` for standard input.
        link: String,
    },
}

fn text_or_stdin(text: &str) -> anyhow::Result<String> {
    if text == "-" {
        Ok(std::io::read_to_string(std::io::stdin())?)
    } else {
        Ok(text.to_owned())
    }
}

/// The type a file's extension suggests; the server checks it against the content.
fn type_of(name: &str) -> &'static str {
    let ext = name
        .rsplit('.')
        .next()
        .unwrap_or_default()
        .to_ascii_lowercase();
    match ext.as_str() {
        "csv" => "text/csv",
        "json" => "application/json",
        "pdf" => "application/pdf",
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "zip" => "application/zip",
        _ => "text/plain",
    }
}

fn case_line(c: &CaseWire) -> String {
    format!(
        "{}  {:<9} {:<8} {}  {}  ({})",
        c.id, c.status, c.severity, c.company, c.subject, c.requester_name
    )
}

fn print_case(c: &CaseWire) {
    println!("{}", case_line(c));
    if let Some(reason) = &c.reason {
        println!("  {}: {reason}", c.status);
    }
    if !c.description.is_empty() {
        println!();
        for line in c.description.lines() {
            println!("  {line}");
        }
    }
    for a in &c.attachments {
        println!(
            "  attachment #{} {} ({}, {} bytes, sha256 {})",
            a.number, a.name, a.media_type, a.size, a.sha256
        );
    }
    for comment in &c.comments {
        println!(
            "\n  #{} {} at {}:",
            comment.number, comment.author, comment.created_at
        );
        for line in comment.body.lines() {
            println!("    {line}");
        }
    }
}

fn print_people(p: &PeopleResponse) {
    for person in &p.people {
        println!(
            "{}  {:<13} {}",
            person.user, person.standing, person.username
        );
    }
    println!("{}: {} in all", p.company, p.people.len());
}

/// Runs a `support` command.
pub async fn run(command: &SupportCommand) -> anyhow::Result<()> {
    let client = connect()?;
    let support = client.support();
    match command {
        SupportCommand::CompanyCreate { name } => {
            let c = support.create_company(name).await.map_err(fail)?;
            println!("created company {}", c.name);
        }
        SupportCommand::Companies => {
            for c in support.companies().await.map_err(fail)?.companies {
                println!("{}", c.name);
            }
        }
        SupportCommand::People { company, role } => {
            print_people(&support.people(company, role.people()).await.map_err(fail)?);
        }
        SupportCommand::Add {
            company,
            user,
            role,
        } => {
            support
                .add(company, role.people(), user)
                .await
                .map_err(fail)?;
            println!("added {user} to {company} as {role:?}");
        }
        SupportCommand::Remove {
            company,
            user,
            role,
        } => {
            support
                .remove(company, role.people(), user)
                .await
                .map_err(fail)?;
            println!("removed {user} from {company}'s {:?}s", role);
        }
        SupportCommand::Open {
            company,
            subject,
            description,
            severity,
        } => {
            let case = support
                .open(&OpenCaseRequest {
                    company: company.clone(),
                    subject: subject.clone(),
                    description: text_or_stdin(description)?,
                    severity: severity.clone(),
                })
                .await
                .map_err(fail)?;
            print_case(&case);
        }
        SupportCommand::Cases {
            status,
            company,
            after,
            limit,
        } => {
            let page = support
                .cases(&CasesQuery {
                    status: status.clone(),
                    company: company.clone(),
                    after: after.clone(),
                    limit: *limit,
                })
                .await
                .map_err(fail)?;
            for c in &page.cases {
                println!("{}", case_line(c));
            }
            if let Some(next) = page.next {
                println!("more: rampart support cases --after {next}");
            }
        }
        SupportCommand::Show { id } => print_case(&support.case(id).await.map_err(fail)?),
        SupportCommand::Comment { id, text } => {
            let c = support
                .comment(id, &text_or_stdin(text)?)
                .await
                .map_err(fail)?;
            println!("comment #{} added", c.number);
        }
        SupportCommand::Share { id, user } => {
            support.share(id, user).await.map_err(fail)?;
            println!("shared {id} with {user}");
        }
        SupportCommand::Close { id } => {
            print_case(&support.set_open(id, false).await.map_err(fail)?)
        }
        SupportCommand::Reopen { id } => {
            print_case(&support.set_open(id, true).await.map_err(fail)?)
        }
        SupportCommand::Authorize { id } | SupportCommand::Ignore { id } => {
            let authorize = matches!(command, SupportCommand::Authorize { .. });
            let d = support.decide(id, authorize).await.map_err(fail)?;
            println!("{}: {}", d.decision, case_line(&d.case));
        }
        SupportCommand::Attach {
            id,
            file,
            media_type,
        } => {
            let content = std::fs::read(file)
                .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", file.display()))?;
            let name = file
                .file_name()
                .and_then(|n| n.to_str())
                .ok_or_else(|| anyhow::anyhow!("{} has no usable file name", file.display()))?;
            let media_type = match media_type {
                Some(t) => t.clone(),
                None => type_of(name).to_owned(),
            };
            let a = support
                .attach(id, name, &media_type, content)
                .await
                .map_err(fail)?;
            println!(
                "attachment #{} {} ({}, {} bytes, sha256 {})",
                a.number, a.name, a.media_type, a.size, a.sha256
            );
        }
        SupportCommand::Download { id, number, out } => {
            let bytes = support.download(id, *number).await.map_err(fail)?;
            let mut file = std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(out)
                .map_err(|e| anyhow::anyhow!("cannot create {}: {e}", out.display()))?;
            std::io::Write::write_all(&mut file, &bytes)?;
            println!("wrote {} bytes to {}", bytes.len(), out.display());
        }
        SupportCommand::Follow { link } => {
            let link = text_or_stdin(link)?;
            let link = link.trim();
            let token = link.rsplit('/').next().unwrap_or(link).trim();
            if token.is_empty() {
                anyhow::bail!("no link given: give the e-mailed link or its token (rsl_…)");
            }
            let d = support.follow(token).await.map_err(fail)?;
            println!("{}: {}", d.decision, case_line(&d.case));
            if !d.opened.is_empty() {
                println!("opened: {}", d.opened.join(", "));
            }
        }
    }
    Ok(())
}
