//! The README's tour, run as written. Every `sh` block between `<!-- tour:begin -->` and
//! `<!-- tour:end -->` is taken from README.md (the only copy of the tour) and its commands
//! run in order with bash, in a fresh directory whose `rampart-data/` is the data directory,
//! so that a drifted tour fails here instead of in a reader's terminal.
//!
//! What the runner supplies, and nothing more:
//! - `cargo run --release -- ARGS` runs the `rampart` binary this test was built with.
//! - `cargo run --release -- serve` (with `NAME=value` settings before it, if any) starts the
//!   server in the background on ephemeral ports; the README's fixed addresses
//!   (`127.0.0.1:8443`, `127.0.0.1:8080`, and the port of a `RAMPART_METRICS_ADDR` setting)
//!   are replaced in later commands by the bound ones. A second `serve`, and a block whose
//!   info string is `sh server-stopped`, stop the running server first.
//! - `rampart login` reads a password at a prompt; the runner types the one the tour gave
//!   that user in its `printf '%s\n' 'PASSWORD' | … admin create-it-user --username NAME`.
//! - `curl` runs with `--fail-with-body` (from a private `.curlrc`), so an HTTP error fails
//!   the command; `NAME=$(…)` keeps `NAME` for the commands after it (it must not be empty
//!   or `null`).
//!
//! A command fails the test when it exits with an error (unless its shown output is a
//! problem document, `urn:rampart:problem:…`, in which case it must fail), or when a
//! `# =>` line under it matches no line of its output: each such line must match a whole
//! line of the output (after the lines the previous ones matched; indentation aside), `…`
//! standing for any text.

use std::collections::BTreeMap;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use super::{serve, Running};

/// One command of the tour, with where it is in README.md and the output lines it shows.
#[derive(Debug)]
struct Step {
    line: usize,
    text: String,
    expected: Vec<String>,
}

/// One `sh` block of the tour.
#[derive(Debug)]
struct Block {
    line: usize,
    server_stopped: bool,
    steps: Vec<Step>,
}

/// The `sh` blocks between the tour's markers; anything else fenced there is refused, so no
/// command of the tour goes unrun.
fn tour_blocks(readme: &str) -> Vec<Block> {
    let lines: Vec<&str> = readme.lines().collect();
    let begin = lines
        .iter()
        .position(|l| l.trim() == "<!-- tour:begin -->")
        .expect("README.md has a `<!-- tour:begin -->` line");
    let end = lines
        .iter()
        .position(|l| l.trim() == "<!-- tour:end -->")
        .expect("README.md has a `<!-- tour:end -->` line");
    assert!(begin < end, "the tour's markers are in order");
    let mut blocks = Vec::new();
    let mut i = begin + 1;
    while i < end {
        let Some(info) = lines[i].trim().strip_prefix("```") else {
            i += 1;
            continue;
        };
        let server_stopped = match info.split_whitespace().collect::<Vec<_>>()[..] {
            ["sh"] => false,
            ["sh", "server-stopped"] => true,
            _ => panic!(
                "README.md:{}: the tour runs `sh` and `sh server-stopped` blocks only, not ```{info}",
                i + 1
            ),
        };
        let start = i + 1;
        let close = (start..end)
            .find(|&j| lines[j].trim() == "```")
            .unwrap_or_else(|| panic!("README.md:{}: the block is not closed", i + 1));
        let body: Vec<(usize, &str)> = (start..close).map(|j| (j + 1, lines[j])).collect();
        blocks.push(Block {
            line: i + 1,
            server_stopped,
            steps: split_commands(&body),
        });
        i = close + 1;
    }
    blocks
}

/// Splits a block into commands: a command goes on while its quotes are open or its line
/// ends with a backslash; `# =>` lines belong to the command before them, other comments
/// are skipped.
fn split_commands(body: &[(usize, &str)]) -> Vec<Step> {
    let mut steps: Vec<Step> = Vec::new();
    let mut open: Option<Step> = None;
    for &(n, line) in body {
        if let Some(step) = open.as_mut() {
            step.text.push('\n');
            step.text.push_str(line);
        } else {
            let t = line.trim();
            if let Some(shown) = t.strip_prefix("# =>") {
                let step = steps
                    .last_mut()
                    .unwrap_or_else(|| panic!("README.md:{n}: `# =>` before any command"));
                step.expected.push(shown.trim().to_owned());
                continue;
            }
            if t.is_empty() || t.starts_with('#') {
                continue;
            }
            open = Some(Step {
                line: n,
                text: line.to_owned(),
                expected: Vec::new(),
            });
        }
        if open.as_ref().is_some_and(|s| scan(&s.text).complete) {
            steps.extend(open.take());
        }
    }
    if let Some(step) = open {
        panic!(
            "README.md:{}: the command does not end: {}",
            step.line, step.text
        );
    }
    steps
}

/// What a small reading of shell quoting finds in a command: its words (quotes removed,
/// comments dropped) and whether it is complete.
struct Scanned {
    words: Vec<String>,
    complete: bool,
}

fn scan(text: &str) -> Scanned {
    let (mut words, mut word, mut in_word) = (Vec::new(), String::new(), false);
    let (mut single, mut double) = (false, false);
    let mut chars = text.chars().peekable();
    let mut continued = false;
    while let Some(c) = chars.next() {
        continued = false;
        match c {
            '\'' if !double => {
                single = !single;
                in_word = true;
            }
            '"' if !single => {
                double = !double;
                in_word = true;
            }
            '\\' if !single => match chars.next() {
                Some('\n') => {}
                Some(next) => {
                    word.push(next);
                    in_word = true;
                }
                None => continued = true,
            },
            '#' if !single && !double && !in_word => {
                while chars.peek().is_some_and(|&c| c != '\n') {
                    chars.next();
                }
            }
            c if c.is_whitespace() && !single && !double => {
                if in_word {
                    words.push(std::mem::take(&mut word));
                    in_word = false;
                }
            }
            c => {
                word.push(c);
                in_word = true;
            }
        }
    }
    if in_word {
        words.push(word);
    }
    Scanned {
        words,
        complete: !single && !double && !continued,
    }
}

/// Whether `line` is what `shown` shows: equal, leading and trailing spaces aside, `…`
/// standing for any text.
fn matches(shown: &str, line: &str) -> bool {
    let line = line.trim();
    let parts: Vec<&str> = shown.split('…').collect();
    let (first, last) = (parts[0], parts[parts.len() - 1]);
    if parts.len() == 1 {
        return line == shown;
    }
    let Some(mut rest) = line.strip_prefix(first) else {
        return false;
    };
    for part in &parts[1..parts.len() - 1] {
        match rest.find(part) {
            Some(at) => rest = &rest[at + part.len()..],
            None => return false,
        }
    }
    rest.ends_with(last)
}

#[test]
fn the_shown_output_matches_whole_lines_with_ellipses_for_what_varies() {
    assert!(matches("applied", "applied"));
    assert!(matches("a: 1 → 2", "    a: 1 → 2  "));
    assert!(!matches("applied", "not applied (plan only)"));
    assert!(matches("… applied", "not applied"));
    assert!(matches(
        "verified: … events (0 redacted)…",
        "verified: 12 events (0 redacted), 3 checkpoints"
    ));
    assert!(!matches("checked: … events", "verified: 12 events"));
    assert!(matches("a…b…c", "a-b-c"));
    assert!(!matches("a…b…c", "a-c-b"));
    let scanned = scan("TOKEN=$(curl -d '{\"a\": 1}' \\\n  x | jq -r .token)  # a 'comment");
    assert!(scanned.complete);
    assert_eq!(scanned.words[1], "-d");
    assert_eq!(scanned.words[2], "{\"a\": 1}");
    assert_eq!(scanned.words.last().map(String::as_str), Some(".token)"));
    assert!(!scan("curl -d \"{\n").complete);
    assert!(!scan("curl \\").complete);
}

/// The settings before a command (`NAME=value`), and the words after them.
fn settings_and_command(words: &[String]) -> (Vec<(String, String)>, &[String]) {
    let mut settings = Vec::new();
    for (i, w) in words.iter().enumerate() {
        match w.split_once('=') {
            Some((name, value))
                if !name.is_empty()
                    && name
                        .chars()
                        .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_') =>
            {
                settings.push((name.to_owned(), value.to_owned()));
            }
            _ => return (settings, &words[i..]),
        }
    }
    (settings, &[])
}

const CARGO_RUN: [&str; 4] = ["cargo", "run", "--release", "--"];

/// The `rampart` arguments of a `cargo run --release -- …` command, if it is one.
fn rampart_args(command: &[String]) -> Option<&[String]> {
    (command.len() >= 4 && command[..4].iter().zip(CARGO_RUN).all(|(a, b)| a == b))
        .then(|| &command[4..])
}

/// What every command of the tour runs with: only `PATH` from outside, a home of its own
/// (the CLI's session file, curl's configuration), cheap password hashing.
fn tour_command(program: &str, work: &Path) -> Command {
    let mut c = Command::new(program);
    c.current_dir(work)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", work)
        .env("CURL_HOME", work)
        .env("NO_COLOR", "1")
        // Not `RAMPART_…`: the server reads those as its configuration.
        .env("TOUR_RAMPART_BINARY", env!("CARGO_BIN_EXE_rampart"))
        .env("RAMPART_PASSWORD_HASH__MEMORY_KIB", "64")
        .env("RAMPART_PASSWORD_HASH__ITERATIONS", "1");
    c
}

const PRELUDE: &str = r#"set -eo pipefail
cargo() {
  if [ "$#" -ge 3 ] && [ "$1" = run ] && [ "$2" = --release ] && [ "$3" = -- ]; then
    shift 3
    "$TOUR_RAMPART_BINARY" "$@"
  else
    echo "the tour runs \`cargo run --release -- …\` only" >&2
    return 127
  fi
}
"#;

struct Tour {
    work: PathBuf,
    server: Option<Running>,
    /// README address → bound address of the running server.
    addresses: Vec<(String, String)>,
    /// Shell variables set by `NAME=$(…)` commands.
    variables: BTreeMap<String, String>,
    /// Passwords the tour gave IT users, by username.
    passwords: BTreeMap<String, String>,
    servers_started: usize,
}

impl Tour {
    fn stop_server(&mut self, why: &str) {
        if let Some(server) = self.server.take() {
            let (status, log) = server.stop_with_log();
            assert!(
                status.success(),
                "the server did not stop cleanly ({why}): {status}\n{log}"
            );
            assert!(
                !log.contains("panicked"),
                "the server panicked during the tour:\n{log}"
            );
        }
        self.addresses.clear();
    }

    fn start_server(&mut self, step: &Step, settings: &[(String, String)]) {
        self.stop_server(&format!("README.md:{} starts another", step.line));
        let mut command = tour_command(env!("CARGO_BIN_EXE_rampart"), &self.work);
        command
            .env("RAMPART_LOG_FORMAT", "json")
            .env("RAMPART_HTTPS_ADDR", "127.0.0.1:0")
            .env("RAMPART_HTTP_ADDR", "127.0.0.1:0");
        let mut metrics_port = None;
        for (name, value) in settings {
            if name == "RAMPART_METRICS_ADDR" {
                metrics_port = Some(value.clone());
                command.env(name, "127.0.0.1:0");
            } else {
                command.env(name, value);
            }
        }
        let server = serve(&mut command);
        self.addresses = vec![
            ("127.0.0.1:8443".to_owned(), server.https.clone()),
            ("127.0.0.1:8080".to_owned(), server.http.clone()),
        ];
        if let Some(readme) = metrics_port {
            let bound = server.metrics.clone().unwrap_or_else(|| {
                panic!("README.md:{}: no metrics listener was started", step.line)
            });
            self.addresses.push((readme, bound));
        }
        self.server = Some(server);
        self.servers_started += 1;
    }

    fn run(&mut self, step: &Step) {
        let scanned = scan(&step.text);
        let (settings, command) = settings_and_command(&scanned.words);
        if rampart_args(command).is_some_and(|a| a == ["serve"]) {
            assert!(
                step.expected.is_empty(),
                "README.md:{}: `serve` shows no output",
                step.line
            );
            self.start_server(step, &settings);
            return;
        }
        // Passwords the tour gives, and the one a `login` prompt asks for.
        let pipe = command.iter().position(|w| w == "|");
        let username = command
            .windows(2)
            .find(|w| w[0] == "--username")
            .map(|w| w[1].clone());
        let args = rampart_args(command).unwrap_or_default();
        let mut stdin = None;
        if let (Some(1..), Some(user)) = (pipe, &username) {
            if command[0] == "printf" && command.iter().any(|w| w == "create-it-user") {
                self.passwords.insert(user.clone(), command[2].clone());
            }
        }
        if pipe.is_none() && args.first().is_some_and(|a| a == "login") {
            let user = username
                .unwrap_or_else(|| panic!("README.md:{}: login names no --username", step.line));
            let password = self.passwords.get(&user).unwrap_or_else(|| {
                panic!(
                    "README.md:{}: the tour gave {user} no password before logging in",
                    step.line
                )
            });
            stdin = Some(format!("{password}\n"));
        }

        let mut text = step.text.clone();
        for (readme, bound) in &self.addresses {
            text = text.replace(readme.as_str(), bound);
        }
        let assigned = scanned
            .words
            .first()
            .and_then(|w| w.split_once("=$("))
            .map(|(name, _)| name.to_owned());
        let mut script = format!("{PRELUDE}{text}\n");
        if let Some(name) = &assigned {
            script.push_str(&format!("printf '%s' \"${name}\"\n"));
        }
        let mut c = tour_command("bash", &self.work);
        c.arg("-c")
            .arg(&script)
            .envs(&self.variables)
            .stdin(if stdin.is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = c.spawn().expect("run bash");
        if let Some(input) = stdin {
            child
                .stdin
                .take()
                .expect("stdin")
                .write_all(input.as_bytes())
                .expect("type the password");
        }
        let output = child.wait_with_output().expect("wait for the command");
        let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
        let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
        let report = |what: &str| {
            format!(
                "README.md:{}: {what}\n$ {}\n--- exit: {}\n--- stdout:\n{stdout}\n--- stderr:\n{stderr}\n--- variables: {:?}",
                step.line, step.text, output.status, self.variables
            )
        };
        let shows_a_problem = step
            .expected
            .iter()
            .any(|e| e.contains("urn:rampart:problem:"));
        if shows_a_problem {
            assert!(
                !output.status.success(),
                "{}",
                report("the README shows a refusal, the command succeeded")
            );
        } else {
            assert!(output.status.success(), "{}", report("the command failed"));
        }
        let lines: Vec<&str> = stdout.lines().chain(stderr.lines()).collect();
        let mut from = 0;
        for shown in &step.expected {
            match (from..lines.len()).find(|&i| matches(shown, lines[i])) {
                Some(i) => from = i + 1,
                None => panic!(
                    "{}",
                    report(&format!(
                        "the output has no line `{shown}` (after the lines matched before it)"
                    ))
                ),
            }
        }
        if let Some(name) = assigned {
            assert!(
                !stdout.is_empty() && stdout != "null",
                "{}",
                report(&format!("`{name}` came out empty or null"))
            );
            self.variables.insert(name, stdout);
        }
    }
}

#[test]
fn the_readme_tour_runs_as_written() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let readme = std::fs::read_to_string(root.join("README.md")).expect("README.md");
    let blocks = tour_blocks(&readme);
    let steps: usize = blocks.iter().map(|b| b.steps.len()).sum();
    assert!(
        steps >= 40,
        "the tour has {steps} commands; did the markers move?"
    );
    for tool in ["bash", "curl", "jq"] {
        let found = Command::new(tool)
            .arg("--version")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        assert!(
            found.is_ok_and(|s| s.success()),
            "the README's tour needs `{tool}` (apt-get install {tool})"
        );
    }

    let dir = tempfile::tempdir().expect("tempdir");
    let work = dir.path().to_owned();
    // The tour's files, where a reader has them: in the repository's root.
    copy_dir(&root.join("examples"), &work.join("examples"));
    std::fs::write(work.join(".curlrc"), "fail-with-body\nmax-time = 60\n").expect("curlrc");
    let mut tour = Tour {
        work,
        server: None,
        addresses: Vec::new(),
        variables: BTreeMap::new(),
        passwords: BTreeMap::new(),
        servers_started: 0,
    };
    for block in &blocks {
        if block.server_stopped {
            tour.stop_server(&format!(
                "README.md:{} runs with the server stopped",
                block.line
            ));
        }
        for step in &block.steps {
            tour.run(step);
        }
    }
    tour.stop_server("the tour is over");
    assert!(tour.servers_started >= 1, "the tour starts a server");
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("create a directory");
    for entry in std::fs::read_dir(from).expect("read a directory") {
        let entry = entry.expect("a directory entry");
        let path = entry.path();
        if path.is_dir() {
            copy_dir(&path, &to.join(entry.file_name()));
        } else {
            std::fs::copy(&path, to.join(entry.file_name())).expect("copy a file");
        }
    }
}
