//! The support desk: companies and the people in them (here), cases and decisions on
//! requesters (`cases.rs`), and the e-mail that asks administrators (`notify.rs`).
//!
//! | operation | who |
//! |---|---|
//! | create a company | operator administrators (`Operation::ManageSupportCompanies`) |
//! | list, add and remove a company's members and administrators | its administrators, operator administrators |
//! | read a company's members | the above and the operator's support staff (IT role `support`) |
//! | open a case | anyone signed in; how it starts is `rampart_support::opening` |
//! | see, comment, close, reopen, decide | `rampart_support::may` |
//!
//! A company someone may not manage or read answers as a missing one (404), before
//! anything about it is read; so does a case someone may not see.

pub mod cases;
pub mod notify;

pub use rampart_support::link::Decision;
pub use rampart_support::SEVERITIES;

use rampart_api::{CompaniesResponse, CompanyWire, PeopleResponse, PersonWire};
use rampart_authz::policy::Operation;
use rampart_core::{Error, Name, Provider, User, UserId};
use rampart_store::{Company, PeopleChange};
use rampart_support::Standing;

use crate::caller::Caller;
use crate::state::AppState;

/// The IT role of the operator's support staff: they see and work on every case, and decide
/// on no requester.
pub const SUPPORT_ROLE: &str = "support";

/// What the rules need to know of the caller beyond a company: operator administrator, and
/// support staff.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Operator {
    pub admin: bool,
    pub staff: bool,
}

pub(crate) async fn operator(state: &AppState, user: &User) -> Result<Operator, Error> {
    let admin = user.provider == Provider::It && user.is_admin;
    let staff = user.provider == Provider::It
        && !admin
        && state
            .store
            .it_roles_of(user.id)
            .await?
            .iter()
            .any(|r| r == SUPPORT_ROLE);
    Ok(Operator { admin, staff })
}

/// Company `name`, or 404; the name is checked first.
pub(crate) async fn company(state: &AppState, name: &str) -> Result<Company, Error> {
    let name = Name::parse("company", name)?;
    state
        .store
        .support_company(name.as_str())
        .await?
        .ok_or(Error::NotFound { what: "company" })
}

/// Company `name` once the caller may manage its people (or, with `read`, read them);
/// anyone else is told it does not exist.
async fn managed(
    state: &AppState,
    caller: &Caller,
    name: &str,
    read: bool,
) -> Result<Company, Error> {
    let company = company(state, name).await?;
    let op = operator(state, &caller.user).await?;
    if op.admin || (read && op.staff) {
        return Ok(company);
    }
    let standing = state
        .store
        .support_standing(&company.id, caller.user.id)
        .await?;
    if standing == Standing::Administrator {
        Ok(company)
    } else {
        Err(Error::NotFound { what: "company" })
    }
}

/// Whether the caller manages company `name`'s people: `Ok` if they do, the 404 of a
/// missing company otherwise (the check `change_people` makes first; the console asks it
/// before looking up a person by name, so nobody else learns who exists).
pub async fn may_manage(state: &AppState, caller: &Caller, name: &str) -> Result<(), Error> {
    managed(state, caller, name, false).await.map(|_| ())
}

/// Whether the caller may create companies (operator administrators).
pub async fn may_create_companies(state: &AppState, caller: &Caller) -> Result<bool, Error> {
    crate::identity::may(state, &caller.user, Operation::ManageSupportCompanies).await
}

fn company_wire(c: Company) -> CompanyWire {
    CompanyWire {
        name: c.name,
        created_at: c.created_at,
    }
}

/// Creates company `name`.
pub async fn create_company(
    state: &AppState,
    caller: &Caller,
    name: &str,
) -> Result<CompanyWire, Error> {
    if !may_create_companies(state, caller).await? {
        return Err(Error::Forbidden(
            "only the platform's administrators create support companies".into(),
        ));
    }
    let name = Name::parse("name", name)?;
    let company = state
        .store
        .support_create_company(&caller.audit, state.clock.now(), name.as_str())
        .await?;
    Ok(company_wire(company))
}

/// The companies the caller may manage: every one for operator administrators and
/// support staff, those they administer for anyone else.
pub async fn companies(state: &AppState, caller: &Caller) -> Result<CompaniesResponse, Error> {
    let op = operator(state, &caller.user).await?;
    let all = state.store.support_companies().await?;
    let mine = if op.admin || op.staff {
        None
    } else {
        Some(state.store.support_administered(caller.user.id).await?)
    };
    Ok(CompaniesResponse {
        companies: all
            .into_iter()
            .filter(|c| mine.as_ref().is_none_or(|m| m.contains(&c.id)))
            .map(company_wire)
            .collect(),
    })
}

/// The members (or only the administrators) of company `name`.
pub async fn people(
    state: &AppState,
    caller: &Caller,
    name: &str,
    admins_only: bool,
) -> Result<PeopleResponse, Error> {
    let company = managed(state, caller, name, true).await?;
    let people = state
        .store
        .support_people(&company.id, admins_only)
        .await?
        .into_iter()
        .map(|p| PersonWire {
            user: p.user.to_string(),
            username: p.username,
            standing: rampart_store_standing(p.standing).to_owned(),
            since: p.since,
        })
        .collect();
    Ok(PeopleResponse {
        company: company.name,
        people,
    })
}

fn rampart_store_standing(s: Standing) -> &'static str {
    match s {
        Standing::Administrator => "administrator",
        Standing::Member => "member",
        Standing::Removed => "removed",
        Standing::Outsider => "outsider",
    }
}

/// Changes the standing of user `user` (an id, from the path or the body) in company
/// `name`.
pub async fn change_people(
    state: &AppState,
    caller: &Caller,
    name: &str,
    user: &str,
    change: PeopleChange,
) -> Result<(), Error> {
    let company = managed(state, caller, name, false).await?;
    let id = UserId::parse(user, "user")?;
    let target = state
        .store
        .user(id)
        .await?
        .ok_or(Error::NotFound { what: "user" })?;
    let username = format!("{}:{}", target.provider, target.username);
    state
        .store
        .support_change_people(
            &caller.audit,
            state.clock.now(),
            &company,
            (id, &username),
            change,
        )
        .await
}
