//! The rules a deployment step and a decision on a request are held to, whoever asks
//! (administrators included):
//!
//! - **What runs now.** A step names the version it expects to replace (`0` for nothing);
//!   without one it expects whatever runs. Anything else means the environment changed
//!   since the plan was made: the step is refused, to be reviewed.
//! - **Separation of duties.** Where an environment's policy says so, the author of a
//!   version may not deploy it.
//! - **Second approver.** Where an environment's policy says so, deployments wait for
//!   someone other than their requester to approve them.

use rampart_core::Error;

/// The version a step expects to replace (`None`: nothing), when it matches what runs
/// (`current`) in `env`: `expected` `Some(0)` means nothing, `None` means whatever runs.
pub fn expected_running(
    env: &str,
    module: &str,
    current: Option<i64>,
    expected: Option<i64>,
) -> Result<Option<i64>, Error> {
    let expected = match expected {
        Some(0) => None,
        Some(n) => Some(n),
        None => current,
    };
    if expected != current {
        let state = |v: Option<i64>| v.map_or("nothing".to_owned(), |n| format!("version {n}"));
        return Err(Error::Conflict(format!(
            "`{module}` in {env} runs {} now, not {} as the plan expected; review and try again",
            state(current),
            state(expected),
        )));
    }
    Ok(expected)
}

/// Refuses the author of version `version` of `module` deploying it in `env` where
/// `separation_of_duties` holds.
pub fn check_author(
    separation_of_duties: bool,
    env: &str,
    module: &str,
    version: i64,
    author: &str,
    deployer: &str,
) -> Result<(), Error> {
    if separation_of_duties && author == deployer {
        return Err(Error::Forbidden(format!(
            "separation of duties in {env}: you published version {version} of `{module}`; someone else must deploy it"
        )));
    }
    Ok(())
}

/// Refuses the requester of a deployment in `env` approving it themself.
pub fn check_approver(env: &str, requester: &str, approver: &str) -> Result<(), Error> {
    if requester == approver {
        return Err(Error::Forbidden(format!(
            "{env} needs a second approver: someone other than you, who requested it"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `Ok(expected)` or the error's code.
    fn outcome<T>(r: Result<T, Error>) -> Result<T, &'static str> {
        r.map_err(|e| e.code())
    }

    #[test]
    fn what_runs_now_against_what_the_step_expects() {
        // (running now, expected by the step, answer)
        type Case = (Option<i64>, Option<i64>, Result<Option<i64>, &'static str>);
        let table: &[Case] = &[
            (None, None, Ok(None)),
            (Some(3), None, Ok(Some(3))),
            (None, Some(0), Ok(None)),
            (Some(3), Some(3), Ok(Some(3))),
            (Some(3), Some(0), Err("conflict")),
            (Some(3), Some(2), Err("conflict")),
            (None, Some(2), Err("conflict")),
        ];
        for (current, expected, answer) in table {
            assert_eq!(
                outcome(expected_running("production", "m", *current, *expected)),
                *answer,
                "running {current:?}, expected {expected:?}"
            );
        }
    }

    #[test]
    fn the_refusal_of_a_changed_environment_says_what_runs_and_what_was_expected() {
        let Err(e) = expected_running("production", "crm", Some(3), Some(0)) else {
            unreachable!("refused")
        };
        assert_eq!(
            e.to_string(),
            "`crm` in production runs version 3 now, not nothing as the plan expected; review and try again"
        );
    }

    #[test]
    fn separation_of_duties_refuses_only_the_author_and_only_where_it_holds() {
        // (policy, author, deployer, allowed)
        let table = [
            (false, "u1", "u1", true),
            (false, "u1", "u2", true),
            (true, "u1", "u2", true),
            (true, "u1", "u1", false),
        ];
        for (policy, author, deployer, allowed) in table {
            let r = check_author(policy, "production", "crm", 2, author, deployer);
            assert_eq!(r.is_ok(), allowed, "{policy} {author} {deployer}");
            if let Err(e) = r {
                assert_eq!(e.code(), "forbidden");
            }
        }
    }

    #[test]
    fn the_second_approver_is_someone_other_than_the_requester() {
        let table = [("u1", "u1", false), ("u1", "u2", true)];
        for (requester, approver, allowed) in table {
            assert_eq!(
                check_approver("production", requester, approver).is_ok(),
                allowed,
                "{requester} {approver}"
            );
        }
    }
}
