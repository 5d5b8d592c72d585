//! A real OpenLDAP `slapd` for the user-provider tests: one per test binary, started on
//! first use on free loopback ports (StartTLS on one, TLS on the other) with a temporary
//! `slapd.conf`, a self-signed certificate (rcgen), the `memberof` overlay, a suffix, and a
//! service account. Each test adds its own organisational unit with its people and groups,
//! so tests running at once never see each other's entries. A shell beside slapd ends it
//! when the test process ends. Needs Debian's `slapd` and `ldap-utils` (.ci/run installs
//! them).

use std::io::Write as _;
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::Duration;

pub const SUFFIX: &str = "dc=rampart,dc=test";
pub const ROOT_DN: &str = "cn=admin,dc=rampart,dc=test";
const ROOT_PASSWORD: &str = "root-secret-for-tests";
pub const BIND_DN: &str = "cn=rampart,dc=rampart,dc=test";
const BIND_PASSWORD: &str = "service-account-secret";

pub struct Slapd {
    /// `ldap://` (plain, upgraded by StartTLS).
    pub ldap_port: u16,
    /// `ldaps://`.
    pub ldaps_port: u16,
    /// The directory's certificate, the only root a provider needs to trust.
    pub ca_pem: String,
    /// A file holding the service account's password (`file:` reference).
    pub bind_secret: PathBuf,
    /// A file holding a wrong one.
    pub wrong_secret: PathBuf,
    /// The shell that ends slapd when the test process ends; it outlives every test.
    _watchdog: std::process::Child,
}

static SLAPD: OnceLock<Slapd> = OnceLock::new();

/// The test binary's slapd, started on first use.
pub fn slapd() -> &'static Slapd {
    SLAPD.get_or_init(start)
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn start() -> Slapd {
    let dir = tempfile::tempdir().unwrap().keep();
    std::fs::create_dir(dir.join("db")).unwrap();
    let cert =
        rcgen::generate_simple_self_signed(vec!["127.0.0.1".into(), "localhost".into()]).unwrap();
    let ca_pem = cert.cert.pem();
    std::fs::write(dir.join("cert.pem"), &ca_pem).unwrap();
    std::fs::write(dir.join("key.pem"), cert.key_pair.serialize_pem()).unwrap();
    let d = dir.display();
    let conf = format!(
        "include /etc/ldap/schema/core.schema\n\
         include /etc/ldap/schema/cosine.schema\n\
         include /etc/ldap/schema/inetorgperson.schema\n\
         modulepath /usr/lib/ldap\n\
         moduleload back_mdb\n\
         moduleload memberof\n\
         pidfile {d}/slapd.pid\n\
         TLSCertificateFile {d}/cert.pem\n\
         TLSCertificateKeyFile {d}/key.pem\n\
         database mdb\n\
         suffix \"{SUFFIX}\"\n\
         rootdn \"{ROOT_DN}\"\n\
         rootpw {ROOT_PASSWORD}\n\
         directory {d}/db\n\
         maxsize 104857600\n\
         overlay memberof\n\
         access to attrs=userPassword by self write by anonymous auth by * none\n\
         access to * by users read by * none\n"
    );
    std::fs::write(dir.join("slapd.conf"), conf).unwrap();
    let (ldap_port, ldaps_port) = (free_port(), free_port());
    let urls = format!("ldap://127.0.0.1:{ldap_port}/ ldaps://127.0.0.1:{ldaps_port}/");
    // slapd in the foreground (-d 0), ended by the shell when this process is gone, which
    // then removes the directory's files.
    let script = format!(
        "slapd -d 0 -f '{d}/slapd.conf' -h '{urls}' & s=$!; \
         while kill -0 {me} 2>/dev/null && kill -0 $s 2>/dev/null; do sleep 1; done; \
         kill $s 2>/dev/null; wait $s 2>/dev/null; rm -rf '{d}'",
        me = std::process::id()
    );
    let watchdog = Command::new("sh")
        .args(["-c", &script])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("slapd (Debian's slapd package) must be installed");
    let mut up = false;
    for _ in 0..100 {
        if TcpStream::connect(("127.0.0.1", ldap_port)).is_ok()
            && TcpStream::connect(("127.0.0.1", ldaps_port)).is_ok()
        {
            up = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(up, "slapd did not start; see {d}/slapd.conf");
    let bind_secret = dir.join("bind-password");
    let wrong_secret = dir.join("wrong-password");
    std::fs::write(&bind_secret, format!("{BIND_PASSWORD}\n")).unwrap();
    std::fs::write(&wrong_secret, "not-the-password\n").unwrap();
    let slapd = Slapd {
        ldap_port,
        ldaps_port,
        ca_pem,
        bind_secret,
        wrong_secret,
        _watchdog: watchdog,
    };
    slapd.ldif(
        "ldapadd",
        &format!(
            "dn: {SUFFIX}\nobjectClass: dcObject\nobjectClass: organization\no: Rampart tests\n\
             dc: rampart\n\n\
             dn: {BIND_DN}\nobjectClass: person\ncn: rampart\nsn: service\n\
             userPassword: {BIND_PASSWORD}\n"
        ),
    );
    slapd
}

impl Slapd {
    /// Runs an ldap-utils command as the directory's root with `ldif` on standard input.
    pub fn ldif(&self, tool: &str, ldif: &str) {
        let mut child = Command::new(tool)
            .args([
                "-x",
                "-H",
                &format!("ldap://127.0.0.1:{}", self.ldap_port),
                "-D",
                ROOT_DN,
                "-w",
                ROOT_PASSWORD,
            ])
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("ldap-utils must be installed");
        child
            .stdin
            .take()
            .unwrap()
            .write_all(ldif.as_bytes())
            .unwrap();
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "{tool} failed: {}\n{ldif}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// A fresh organisational unit `ou` (unique per test and backend) with `people`
    /// (uid, password, extra attribute lines) and `groups` (cn, member uids). Answers its
    /// DN.
    pub fn unit(
        &self,
        ou: &str,
        people: &[(&str, &str, &str)],
        groups: &[(&str, &[&str])],
    ) -> String {
        let base = format!("ou={ou},{SUFFIX}");
        let mut ldif = format!("dn: {base}\nobjectClass: organizationalUnit\nou: {ou}\n\n");
        for (uid, password, extra) in people {
            ldif.push_str(&format!(
                "dn: uid={uid},{base}\nobjectClass: inetOrgPerson\nuid: {uid}\ncn: {uid} Example\n\
                 sn: Example\nmail: {uid}@{ou}.example.com\nuserPassword: {password}\n{extra}\n"
            ));
        }
        for (cn, members) in groups {
            // A groupOfNames needs a member: the service account stays in every group, so
            // a test may remove all the people.
            ldif.push_str(&format!(
                "dn: cn={cn},{base}\nobjectClass: groupOfNames\ncn: {cn}\nmember: {BIND_DN}\n"
            ));
            for m in *members {
                ldif.push_str(&format!("member: uid={m},{base}\n"));
            }
            ldif.push('\n');
        }
        self.ldif("ldapadd", &ldif);
        base
    }

    /// A user provider's settings over StartTLS for the people of `base`: `admins` map to
    /// the IT administrator role, `devs` to developer; users with `employeeType: disabled`
    /// are not found.
    pub fn settings(&self, base: &str) -> serde_json::Value {
        serde_json::json!({
            "url": format!("ldap://127.0.0.1:{}", self.ldap_port),
            "security": "starttls",
            "ca_certificate": self.ca_pem,
            "bind_dn": BIND_DN,
            "bind_password": format!("file:{}", self.bind_secret.display()),
            "user_base": base,
            "user_filter": "(&(objectClass=inetOrgPerson)(uid={username})(!(employeeType=disabled)))",
            "mappings": [
                { "group": "admins", "it_role": "administrator" },
                { "group": "devs", "it_role": "developer" }
            ]
        })
    }
}
