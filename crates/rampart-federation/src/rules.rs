//! The decisions around a directory, without I/O: the filter that finds one user, the roles
//! a user's groups give, and what a sync run changes.
//!
//! **Filters.** A username is put into the configured filter only through
//! `ldap3::ldap_escape` (RFC 4515: `*`, `(`, `)`, `\` and NUL become `\2a`, `\28`, `\29`,
//! `\5c`, `\00`), so a username is always one literal value: `*)(uid=*` matches the user of
//! that name (there is none), never everyone.
//!
//! **Roles.** A mapping names a group by DN or by the value of its first RDN, compared
//! ignoring ASCII case. An IT user gets the IT role of the first mapping (in the configured
//! order) whose group they are in, or none; an end user gets every application role of the
//! mappings whose groups they are in. Roles named by a mapping are the provider's to manage:
//! a user outside the group loses them on the next login or sync; other roles are left alone.
//!
//! **Sync.** Local users of the provider that the directory no longer lists are disabled;
//! listed users get their profile and roles updated, and the ones without a local profile are
//! created. A directory that lists nobody while local users of the provider are enabled is
//! taken for a misconfiguration (a wrong base or filter) and refused, rather than disabling
//! everyone. A username listed twice is ambiguous: neither entry is used and nobody of that
//! name is disabled.

use std::collections::{BTreeMap, BTreeSet};

use crate::settings::GroupMapping;
use crate::DirectoryUser;

/// The filter finding `username`: the template with `{username}` replaced by the escaped
/// value.
pub fn user_filter(template: &str, username: &str) -> String {
    template.replace("{username}", &ldap3::ldap_escape(username))
}

/// The filter listing every user: the template with `{username}` replaced by `*`, a
/// presence match.
pub fn all_users_filter(template: &str) -> String {
    template.replace("{username}", "*")
}

/// Whether `mapped` (a DN or a first RDN's value) names the group `dn`.
pub fn group_matches(mapped: &str, dn: &str) -> bool {
    let norm = |s: &str| {
        s.split(',')
            .map(|p| p.trim().to_ascii_lowercase())
            .collect::<Vec<_>>()
            .join(",")
    };
    if norm(mapped) == norm(dn) {
        return true;
    }
    let first = dn.split(',').next().unwrap_or("");
    match first.split_once('=') {
        Some((_, value)) => value.trim().eq_ignore_ascii_case(mapped.trim()),
        None => false,
    }
}

/// The roles a user's groups give.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MappedRoles {
    /// The IT role (IT users): the first matching mapping's.
    pub it_role: Option<String>,
    /// Application roles (end users): `(application, role)` of every matching mapping.
    pub app_roles: BTreeSet<(String, String)>,
}

/// The roles `groups` give under `mappings`.
pub fn mapped_roles(mappings: &[GroupMapping], groups: &[String]) -> MappedRoles {
    let member = |m: &GroupMapping| groups.iter().any(|g| group_matches(&m.group, g));
    let it_role = mappings
        .iter()
        .filter(|m| m.it_role.is_some())
        .find(|m| member(m))
        .and_then(|m| m.it_role.clone());
    let app_roles = mappings
        .iter()
        .filter(|m| member(m))
        .filter_map(|m| Some((m.application.clone()?, m.role.clone()?)))
        .collect();
    MappedRoles { it_role, app_roles }
}

/// Every application role the mappings manage: those a user outside the groups loses.
pub fn managed_app_roles(mappings: &[GroupMapping]) -> BTreeSet<(String, String)> {
    mappings
        .iter()
        .filter_map(|m| Some((m.application.clone()?, m.role.clone()?)))
        .collect()
}

/// Whether a scheduled sync is due: an interval is set (minutes, 0 = off) and at least that
/// long has passed since the last run ended (times in milliseconds; never run is due).
pub fn sync_due(interval_minutes: u32, last_ms: Option<i64>, now_ms: i64) -> bool {
    interval_minutes > 0
        && last_ms
            .is_none_or(|last| now_ms.saturating_sub(last) >= i64::from(interval_minutes) * 60_000)
}

/// A local user of the provider, as a sync run sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalUser {
    /// The normalised (lower-case) username.
    pub username_norm: String,
    /// Whether the user is disabled.
    pub disabled: bool,
}

/// What a sync run changes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SyncPlan {
    /// Directory users without a local profile: create them.
    pub create: Vec<DirectoryUser>,
    /// Directory users with a local profile: update profile and roles.
    pub update: Vec<DirectoryUser>,
    /// Local usernames (normalised) gone from the directory and still enabled: disable them.
    pub disable: Vec<String>,
    /// Usernames the directory lists more than once: left alone.
    pub ambiguous: Vec<String>,
}

/// Why a sync run changes nothing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SyncRefusal {
    /// The directory listed nobody while local users of the provider are enabled.
    EmptyDirectory {
        /// How many enabled local users it would have disabled.
        enabled: usize,
    },
}

/// What a sync run changes, given the provider's local users and the directory's listing
/// (usernames the platform cannot hold already removed by the caller).
pub fn plan_sync(
    local: &[LocalUser],
    directory: &[DirectoryUser],
) -> Result<SyncPlan, SyncRefusal> {
    let enabled = local.iter().filter(|u| !u.disabled).count();
    if directory.is_empty() && enabled > 0 {
        return Err(SyncRefusal::EmptyDirectory { enabled });
    }
    let mut listed: BTreeMap<String, Vec<&DirectoryUser>> = BTreeMap::new();
    for u in directory {
        listed
            .entry(u.username.to_ascii_lowercase())
            .or_default()
            .push(u);
    }
    let known: BTreeSet<&str> = local.iter().map(|u| u.username_norm.as_str()).collect();
    let mut plan = SyncPlan::default();
    for (name, entries) in &listed {
        match entries.as_slice() {
            [one] if known.contains(name.as_str()) => plan.update.push((*one).clone()),
            [one] => plan.create.push((*one).clone()),
            _ => plan.ambiguous.push(name.clone()),
        }
    }
    plan.disable = local
        .iter()
        .filter(|u| !u.disabled && !listed.contains_key(&u.username_norm))
        .map(|u| u.username_norm.clone())
        .collect();
    Ok(plan)
}

/// Why an Active Directory refused a user's bind, from the `data …` code it puts in the
/// diagnostic message of an `invalidCredentials` answer (`80090308: LdapErr: …, data 533,
/// v…`); `None` for a wrong password or an unknown user (`52e`, `525`) and for any other
/// server, which gives no such code. The sign-in is refused the same way whatever the
/// code (nothing about the account is told to whoever tries); the audit trail keeps it.
pub fn bind_refusal(diagnostic: &str) -> Option<&'static str> {
    let code = diagnostic
        .split(',')
        .map(str::trim)
        .find_map(|part| part.strip_prefix("data "))?
        .trim()
        .to_ascii_lowercase();
    Some(match code.as_str() {
        "530" => "logon-hours",
        "531" => "workstation-not-allowed",
        "532" => "password-expired",
        "533" => "account-disabled",
        "568" => "too-many-security-ids",
        "701" => "account-expired",
        "773" => "must-change-password",
        "775" => "account-locked",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)] // test code: failing loudly is the point
    #[test]
    fn active_directory_refusals_are_read_from_the_diagnostic_code() {
        let ad = |code: &str| {
            format!(
                "80090308: LdapErr: DSID-0C0903A9, comment: AcceptSecurityContext error, \
                 data {code}, v1db1"
            )
        };
        for (code, want) in [
            ("52e", None),
            ("525", None),
            ("530", Some("logon-hours")),
            ("531", Some("workstation-not-allowed")),
            ("532", Some("password-expired")),
            ("533", Some("account-disabled")),
            ("701", Some("account-expired")),
            ("773", Some("must-change-password")),
            ("775", Some("account-locked")),
            ("999", None),
        ] {
            assert_eq!(super::bind_refusal(&ad(code)), want, "data {code}");
        }
        // OpenLDAP and others give no such code.
        assert_eq!(super::bind_refusal(""), None);
        assert_eq!(super::bind_refusal("Invalid credentials"), None);
        assert_eq!(super::bind_refusal("data"), None);
    }

    use proptest::prelude::*;

    use super::*;

    #[test]
    fn filter_values_are_escaped_per_rfc_4515() {
        let t = "(&(objectClass=inetOrgPerson)(uid={username}))";
        for (name, want) in [
            ("alice", "(&(objectClass=inetOrgPerson)(uid=alice))"),
            (
                "*)(uid=*",
                "(&(objectClass=inetOrgPerson)(uid=\\2a\\29\\28uid=\\2a))",
            ),
            ("a\\b", "(&(objectClass=inetOrgPerson)(uid=a\\5cb))"),
            ("a\0b", "(&(objectClass=inetOrgPerson)(uid=a\\00b))"),
        ] {
            assert_eq!(user_filter(t, name), want, "{name:?}");
        }
        assert_eq!(all_users_filter(t), "(&(objectClass=inetOrgPerson)(uid=*))");
    }

    proptest! {
        /// Whatever the username, the filter keeps the template's structure: the value adds
        /// no parenthesis and no wildcard.
        #[test]
        fn no_username_changes_the_filter_structure(name in "\\PC{0,40}") {
            let f = user_filter("(uid={username})", &name);
            let specials = |s: &str| s.chars().filter(|c| matches!(c, '(' | ')' | '*')).count();
            prop_assert_eq!(specials(&f), 2);
            prop_assert!(f.starts_with("(uid=") && f.ends_with(')'));
        }
    }

    fn mapping(group: &str, it: Option<&str>, app: Option<(&str, &str)>) -> GroupMapping {
        GroupMapping {
            group: group.into(),
            it_role: it.map(Into::into),
            application: app.map(|a| a.0.into()),
            role: app.map(|a| a.1.into()),
        }
    }

    #[test]
    fn groups_match_by_dn_or_first_rdn_ignoring_case() {
        let dn = "cn=Admins,ou=groups,dc=example,dc=com";
        for (mapped, yes) in [
            ("admins", true),
            ("ADMINS", true),
            ("cn=admins, ou=groups, dc=example, dc=com", true),
            ("cn=admins,ou=groups,dc=example,dc=org", false),
            ("groups", false),
            ("adm", false),
        ] {
            assert_eq!(group_matches(mapped, dn), yes, "{mapped}");
        }
    }

    #[test]
    fn the_first_it_mapping_wins_and_every_app_mapping_adds() {
        let mappings = vec![
            mapping("sales", None, Some(("crm", "rep"))),
            mapping("admins", Some("administrator"), None),
            mapping("devs", Some("developer"), None),
            mapping("managers", None, Some(("crm", "director"))),
        ];
        let g = |names: &[&str]| -> Vec<String> {
            names
                .iter()
                .map(|n| format!("cn={n},ou=groups,dc=x"))
                .collect()
        };
        let r = mapped_roles(&mappings, &g(&["devs", "admins"]));
        assert_eq!(r.it_role.as_deref(), Some("administrator"));
        let r = mapped_roles(&mappings, &g(&["devs"]));
        assert_eq!(r.it_role.as_deref(), Some("developer"));
        let r = mapped_roles(&mappings, &g(&["sales", "managers"]));
        assert_eq!(r.it_role, None);
        assert_eq!(
            r.app_roles.into_iter().collect::<Vec<_>>(),
            vec![
                ("crm".into(), "director".into()),
                ("crm".into(), "rep".into())
            ]
        );
        assert_eq!(mapped_roles(&mappings, &[]), MappedRoles::default());
        assert_eq!(managed_app_roles(&mappings).len(), 2);
    }

    fn dir(name: &str) -> DirectoryUser {
        DirectoryUser {
            dn: format!("uid={name},ou=people,dc=x"),
            username: name.into(),
            email: None,
            display_name: None,
            groups: vec![],
        }
    }

    fn local(name: &str, disabled: bool) -> LocalUser {
        LocalUser {
            username_norm: name.into(),
            disabled,
        }
    }

    #[test]
    fn a_sync_creates_updates_and_disables() {
        let plan = plan_sync(
            &[
                local("alice", false),
                local("bob", false),
                local("carol", true),
            ],
            &[dir("Alice"), dir("dave"), dir("erin"), dir("ERIN")],
        )
        .unwrap();
        let names = |v: &[DirectoryUser]| v.iter().map(|u| u.username.clone()).collect::<Vec<_>>();
        assert_eq!(names(&plan.update), ["Alice"]);
        assert_eq!(names(&plan.create), ["dave"]);
        assert_eq!(plan.disable, ["bob"]);
        assert_eq!(plan.ambiguous, ["erin"]);
    }

    #[test]
    fn a_scheduled_sync_is_due_after_its_interval() {
        for (interval, last, now, due) in [
            (0, None, 0, false),
            (0, Some(0), 10_000_000, false),
            (5, None, 0, true),
            (5, Some(1_000), 1_000 + 299_999, false),
            (5, Some(1_000), 1_000 + 300_000, true),
            (5, Some(10_000), 0, false),
        ] {
            assert_eq!(
                sync_due(interval, last, now),
                due,
                "{interval} {last:?} {now}"
            );
        }
    }

    #[test]
    fn an_empty_directory_never_disables_everyone() {
        assert_eq!(
            plan_sync(&[local("alice", false), local("bob", true)], &[]),
            Err(SyncRefusal::EmptyDirectory { enabled: 1 })
        );
        assert_eq!(
            plan_sync(&[local("bob", true)], &[]),
            Ok(SyncPlan::default())
        );
        assert_eq!(plan_sync(&[], &[]), Ok(SyncPlan::default()));
    }
}
