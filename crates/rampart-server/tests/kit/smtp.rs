//! A real SMTP server for the tests (aiosmtpd on loopback, through
//! `scripts/peers/smtp.sh --serve`), started once per test binary, and the messages it
//! received, read back from the directory it writes them to.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;

use rampart_service::Config;

/// A real SMTP server (`scripts/peers/smtp.sh --serve`) and the directory it writes the
/// messages it accepts to.
pub(crate) struct Smtp {
    pub(crate) port: u16,
    pub(crate) dir: PathBuf,
    _serving: Option<Child>,
}

/// The plain-text SMTP server every test of this binary sends to.
pub(crate) fn smtp() -> &'static Smtp {
    static SMTP: OnceLock<Smtp> = OnceLock::new();
    SMTP.get_or_init(|| {
        if let (Ok(port), Ok(dir)) = (
            std::env::var("RAMPART_TEST_SMTP_PORT"),
            std::env::var("RAMPART_TEST_SMTP_DIR"),
        ) {
            return Smtp {
                port: port.parse().unwrap(),
                dir: dir.into(),
                _serving: None,
            };
        }
        serve_smtp(&[])
    })
}

/// Starts an SMTP server with `env` (see `tests/peers/smtp/server.py`: `SMTP_TLS`,
/// `SMTP_CERT`, `SMTP_KEY`, `SMTP_USER`, `SMTP_PASSWORD`). The script serves until its
/// standard input, a pipe this process holds, ends: when the test binary exits, the server
/// goes with it.
pub(crate) fn serve_smtp(env: &[(&str, &str)]) -> Smtp {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../../scripts/peers/smtp.sh");
    let mut child = Command::new("bash")
        .arg(script)
        .arg("--serve")
        .envs(env.iter().copied())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("scripts/peers/smtp.sh --serve");
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let mut words = line.split_whitespace();
    assert_eq!(words.next(), Some("ready"), "smtp.sh said {line:?}");
    let port = words.next().unwrap().parse().unwrap();
    let dir = words.next().unwrap().into();
    Smtp {
        port,
        dir,
        _serving: Some(child),
    }
}

pub(crate) fn with_smtp(config: &mut Config) {
    let smtp = smtp();
    config.support.smtp_host = "127.0.0.1".into();
    config.support.smtp_port = smtp.port;
    config.support.smtp_tls = "none".into();
    config.support.smtp_from = "Rampart support <support@rampart.test>".into();
}

/// The messages the SMTP server received for `to`, oldest first, each as (headers, body)
/// with the body decoded.
pub(crate) fn mail_to(to: &str) -> Vec<(String, String)> {
    mail_in(smtp(), to)
}

/// The messages `server` received for `to`, as [`mail_to`].
pub(crate) fn mail_in(server: &Smtp, to: &str) -> Vec<(String, String)> {
    let dir = server.dir.join("messages");
    let mut names: Vec<_> = std::fs::read_dir(&dir)
        .map(|d| d.filter_map(|e| e.ok()).map(|e| e.path()).collect())
        .unwrap_or_default();
    names.sort();
    names
        .into_iter()
        .filter(|p| p.extension().is_some_and(|e| e == "eml"))
        .filter_map(|p| {
            let raw = String::from_utf8(std::fs::read(p).unwrap()).unwrap();
            let (head, body) = raw.split_once("\r\n\r\n").unwrap();
            let rcpt = head
                .lines()
                .find_map(|l| l.strip_prefix("X-Peer-Rcpt-To: "))
                .unwrap();
            (rcpt == to).then(|| (head.to_owned(), decode(head, body)))
        })
        .collect()
}

/// The body as written: quoted-printable decoded when the message says so.
fn decode(head: &str, body: &str) -> String {
    let encoding = head
        .lines()
        .find_map(|l| l.strip_prefix("Content-Transfer-Encoding: "))
        .unwrap_or("7bit")
        .trim()
        .to_ascii_lowercase();
    match encoding.as_str() {
        "7bit" | "8bit" => body.to_owned(),
        "quoted-printable" => {
            let joined = body.replace("=\r\n", "");
            let bytes = joined.as_bytes();
            let mut out = Vec::new();
            let mut i = 0;
            while i < bytes.len() {
                if bytes[i] == b'=' && i + 2 < bytes.len() {
                    let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap();
                    out.push(u8::from_str_radix(hex, 16).unwrap());
                    i += 3;
                } else {
                    out.push(bytes[i]);
                    i += 1;
                }
            }
            String::from_utf8(out).unwrap()
        }
        other => panic!("unexpected transfer encoding {other}"),
    }
}

/// The tokens of the decision links in `body`: (authorize, ignore), in the order the
/// message gives. Each link is the console's page for its token.
pub(crate) fn links(body: &str) -> (String, String) {
    let tokens: Vec<String> = body
        .split_whitespace()
        .filter_map(|w| w.split("/console/support/links/").nth(1))
        .map(str::to_owned)
        .collect();
    assert_eq!(tokens.len(), 2, "two links in {body}");
    (tokens[0].clone(), tokens[1].clone())
}
