//! Password hashing (argon2id) and the password policy.

use argon2::password_hash::{PasswordHash, PasswordHasher as _, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use rampart_core::{Error, PasswordRule};

/// argon2id cost parameters.
///
/// The defaults follow OWASP's Password Storage Cheat Sheet: m = 19 MiB, t = 2, p = 1.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HashParams {
    /// Memory in KiB.
    pub memory_kib: u32,
    /// Number of passes.
    pub iterations: u32,
    /// Degree of parallelism.
    pub parallelism: u32,
}

impl Default for HashParams {
    fn default() -> Self {
        Self {
            memory_kib: 19 * 1024,
            iterations: 2,
            parallelism: 1,
        }
    }
}

/// Hashes and verifies passwords with argon2id, in PHC string format.
#[derive(Clone)]
pub struct PasswordHasher {
    argon2: Argon2<'static>,
    /// A hash of a random password, verified against when the user does not exist so that
    /// an unknown username costs the same time as a wrong password.
    dummy_hash: String,
}

impl std::fmt::Debug for PasswordHasher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PasswordHasher").finish_non_exhaustive()
    }
}

impl PasswordHasher {
    /// A hasher with the given cost; fails if the parameters are out of argon2's range.
    pub fn new(params: HashParams) -> Result<Self, Error> {
        let params = Params::new(
            params.memory_kib,
            params.iterations,
            params.parallelism,
            None,
        )
        .map_err(|e| Error::invalid("password_hash", format!("argon2 parameters: {e}")))?;
        let argon2 = Argon2::new(Algorithm::Argon2id, Version::V0x13, params);
        let mut hasher = Self {
            argon2,
            dummy_hash: String::new(),
        };
        let mut random = [0u8; 24];
        fill_random(&mut random)?;
        hasher.dummy_hash = hasher.hash(&hex(&random))?;
        Ok(hasher)
    }

    /// Hashes `password` with a fresh random salt.
    pub fn hash(&self, password: &str) -> Result<String, Error> {
        let mut salt = [0u8; 16];
        fill_random(&mut salt)?;
        let salt = SaltString::encode_b64(&salt)
            .map_err(|e| Error::Internal(format!("salt encoding: {e}")))?;
        self.argon2
            .hash_password(password.as_bytes(), &salt)
            .map(|h| h.to_string())
            .map_err(|e| Error::Internal(format!("argon2 hashing: {e}")))
    }

    /// Whether `password` matches `phc`; a malformed stored hash never matches.
    ///
    /// Verification uses the parameters recorded in the hash, so hashes made before a
    /// cost change still verify.
    pub fn verify(&self, password: &str, phc: &str) -> bool {
        match PasswordHash::new(phc) {
            Ok(parsed) => self
                .argon2
                .verify_password(password.as_bytes(), &parsed)
                .is_ok(),
            Err(_) => false,
        }
    }

    /// Whether `phc` was made with this hasher's algorithm, version and cost: a stored hash
    /// that is not is re-hashed at the user's next successful login, so that a raised cost
    /// reaches every account and an old hash's verification time stops telling it apart
    /// from an unknown user's.
    pub fn is_current(&self, phc: &str) -> bool {
        let Ok(parsed) = PasswordHash::new(phc) else {
            return false;
        };
        let same_algorithm = parsed.algorithm == Algorithm::Argon2id.ident()
            && parsed.version == Some(Version::V0x13.into());
        let Ok(params) = Params::try_from(&parsed) else {
            return false;
        };
        let ours = self.argon2.params();
        same_algorithm
            && params.m_cost() == ours.m_cost()
            && params.t_cost() == ours.t_cost()
            && params.p_cost() == ours.p_cost()
    }

    /// Spends the time of one verification without any account: used for unknown users.
    pub fn verify_dummy(&self, password: &str) {
        let _ = self.verify(password, &self.dummy_hash);
    }
}

fn fill_random(buf: &mut [u8]) -> Result<(), Error> {
    getrandom::fill(buf).map_err(|e| Error::Internal(format!("operating system RNG: {e}")))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// What a new password must satisfy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PasswordPolicy {
    /// Minimum length in characters.
    pub min_length: usize,
    /// Maximum length in characters (bounds hashing cost and the strength estimate).
    pub max_length: usize,
    /// Minimum zxcvbn score, 0 (anything) to 4 (very strong).
    pub min_score: u8,
    /// How many previous passwords may not be reused.
    pub history: usize,
}

impl Default for PasswordPolicy {
    fn default() -> Self {
        Self {
            min_length: 12,
            max_length: 256,
            min_score: 3,
            history: 5,
        }
    }
}

/// Only this many leading characters are given to the strength estimate; past them a
/// password is long enough that the estimate's cost would only grow, not its verdict.
const ESTIMATE_PREFIX: usize = 64;

impl PasswordPolicy {
    /// Checks `password` against the length, guessability and user-information rules.
    ///
    /// `user_inputs` are the user's own words (username, display name, e-mail); a password
    /// containing one of them, or built from them, is rejected. Reuse is checked by the
    /// caller against stored hashes, see [`PasswordPolicy::history`].
    pub fn check(&self, password: &str, user_inputs: &[&str]) -> Result<(), Error> {
        let reject = |rule, reason: String| Error::PasswordRejected { rule, reason };
        let length = password.chars().count();
        if length < self.min_length {
            return Err(reject(
                PasswordRule::MinLength,
                format!(
                    "must be at least {} characters (it has {length})",
                    self.min_length
                ),
            ));
        }
        if length > self.max_length {
            return Err(reject(
                PasswordRule::MaxLength,
                format!("must be at most {} characters", self.max_length),
            ));
        }
        let lowered = password.to_lowercase();
        let words = user_words(user_inputs);
        if let Some(word) = words.iter().find(|w| lowered.contains(w.as_str())) {
            return Err(reject(
                PasswordRule::ContainsUserInfo,
                format!("must not contain your own name, username or e-mail ({word:?})"),
            ));
        }
        let prefix: String = password.chars().take(ESTIMATE_PREFIX).collect();
        let word_refs: Vec<&str> = words.iter().map(String::as_str).collect();
        let estimate = zxcvbn::zxcvbn(&prefix, &word_refs);
        let score = u8::from(estimate.score());
        if score < self.min_score {
            let mut reason = format!(
                "is too easy to guess (strength {score} of 4, at least {} required)",
                self.min_score
            );
            if let Some(feedback) = estimate.feedback() {
                if let Some(warning) = feedback.warning() {
                    reason.push_str(&format!(": {warning}"));
                }
                if let Some(suggestion) = feedback.suggestions().first() {
                    reason.push_str(&format!(" {suggestion}"));
                }
            }
            return Err(reject(PasswordRule::Guessable, reason));
        }
        Ok(())
    }
}

/// The words of a user's own information worth refusing inside a password: the inputs and
/// their parts split at non-alphanumerics, lower-cased, at least 4 characters long.
fn user_words(user_inputs: &[&str]) -> Vec<String> {
    let mut words: Vec<String> = Vec::new();
    for input in user_inputs {
        let lowered = input.to_lowercase();
        let local = lowered.split('@').next().unwrap_or_default().to_owned();
        for word in std::iter::once(local.clone()).chain(
            lowered
                .split(|c: char| !c.is_alphanumeric())
                .map(str::to_owned),
        ) {
            if word.chars().count() >= 4 && !words.contains(&word) {
                words.push(word);
            }
        }
    }
    words
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cheap() -> PasswordHasher {
        PasswordHasher::new(HashParams {
            memory_kib: 64,
            iterations: 1,
            parallelism: 1,
        })
        .unwrap()
    }

    #[test]
    fn hash_then_verify() {
        let hasher = cheap();
        let phc = hasher.hash("correct horse battery staple").unwrap();
        assert!(phc.starts_with("$argon2id$v=19$m=64,t=1,p=1$"), "{phc}");
        assert!(hasher.verify("correct horse battery staple", &phc));
        assert!(!hasher.verify("correct horse battery stapl", &phc));
        assert!(!hasher.verify("correct horse battery staple", "not-a-hash"));
        assert_ne!(
            phc,
            hasher.hash("correct horse battery staple").unwrap(),
            "salted"
        );
    }

    #[test]
    fn verification_uses_the_parameters_stored_in_the_hash() {
        let old = cheap().hash("an old but fine passphrase").unwrap();
        let stronger = PasswordHasher::new(HashParams {
            memory_kib: 128,
            iterations: 2,
            parallelism: 1,
        })
        .unwrap();
        assert!(stronger.verify("an old but fine passphrase", &old));
    }

    #[test]
    fn a_hash_is_current_only_with_the_hasher_s_own_cost_and_algorithm() {
        let hasher = cheap();
        assert!(hasher.is_current(&hasher.hash("a current passphrase").unwrap()));
        for (m, t, p) in [(128, 1, 1), (64, 2, 1), (64, 1, 2)] {
            let other = PasswordHasher::new(HashParams {
                memory_kib: m,
                iterations: t,
                parallelism: p,
            })
            .unwrap();
            let phc = other.hash("an older passphrase").unwrap();
            assert!(!hasher.is_current(&phc), "m={m} t={t} p={p}: {phc}");
            assert!(other.is_current(&phc));
        }
        // Another argon2 variant with the same cost, and what is no hash at all.
        let argon2i = Argon2::new(
            Algorithm::Argon2i,
            Version::V0x13,
            Params::new(64, 1, 1, None).unwrap(),
        );
        let salt = SaltString::encode_b64(&[7u8; 16]).unwrap();
        let phc = argon2i.hash_password(b"x", &salt).unwrap().to_string();
        assert!(!hasher.is_current(&phc), "{phc}");
        assert!(!hasher.is_current("not-a-hash"));
    }

    #[test]
    fn out_of_range_parameters_are_refused() {
        let err = PasswordHasher::new(HashParams {
            memory_kib: 1,
            iterations: 0,
            parallelism: 1,
        })
        .unwrap_err();
        assert_eq!(err.code(), "invalid-input");
    }

    #[test]
    fn policy_rules_table() {
        let policy = PasswordPolicy::default();
        let inputs = ["jsmith", "John Smith", "john.smith@example.org"];
        let cases: &[(&str, Option<PasswordRule>)] = &[
            ("short", Some(PasswordRule::MinLength)),
            ("password1234", Some(PasswordRule::Guessable)),
            ("qwertyuiop123", Some(PasswordRule::Guessable)),
            ("aaaaaaaaaaaaaaaa", Some(PasswordRule::Guessable)),
            ("passwordpassword", Some(PasswordRule::Guessable)),
            ("Password12345!", Some(PasswordRule::Guessable)),
            ("jsmith-rocks-2024!", Some(PasswordRule::ContainsUserInfo)),
            ("xx-Smith-horse-42", Some(PasswordRule::ContainsUserInfo)),
            ("Example-org-Pass-9", Some(PasswordRule::ContainsUserInfo)),
            ("violet-trombone-gravel-71", None),
            ("T7#qLm9!vR2$xW4z", None),
        ];
        for (password, expected) in cases {
            let got = match policy.check(password, &inputs) {
                Ok(()) => None,
                Err(Error::PasswordRejected { rule, .. }) => Some(rule),
                Err(other) => panic!("unexpected error {other:?}"),
            };
            assert_eq!(got, *expected, "password {password:?}");
        }
        let long = "x".repeat(257);
        assert!(matches!(
            policy.check(&long, &[]),
            Err(Error::PasswordRejected {
                rule: PasswordRule::MaxLength,
                ..
            })
        ));
    }

    #[test]
    fn guessable_rejection_explains_itself() {
        let err = PasswordPolicy::default()
            .check("password1234", &[])
            .unwrap_err();
        let text = err.to_string();
        assert!(text.contains("strength"), "{text}");
        assert!(text.contains("guessable"), "{text}");
    }
}
