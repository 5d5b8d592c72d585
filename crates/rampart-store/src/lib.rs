//! Rampart's persistence: one storage layer over SQLite (embedded default) and PostgreSQL
//! (production, several nodes), with versioned migrations for each.
//!
//! Every query is written once, with `$N` placeholders that both backends accept, and run
//! on either backend through the transaction, read and row types of `db`. Every state change commits
//! in one transaction together with its audit event (see [`audit`]): there is no change
//! without its event and no event without its change.
//!
//! Times cross this boundary as [`time::OffsetDateTime`] and are stored as UTC milliseconds.

mod alerts;
mod apps;
mod audit;
mod authz;
mod backend;
mod backup;
mod cluster;
mod db;
mod drill;
mod fence;
mod group;
mod identity;
mod idp;
mod lifecycle;
mod nodes;
mod posture;
mod providers;
mod scim;
mod support;

pub use alerts::{NotRequeued, PendingDelivery, Requeued};
pub use apps::{
    AppDatabase, AppWrite, Expect, QueryRows, RowValues, StoredRecord, WrappedKey, ADVANCED_TIMEOUT,
};
pub use audit::{
    decode_block, encode_block, EventQuery, NewEvent, StoredCheckpoint, StoredEvent,
    StoredSigningKey, Stream, AUDIT_TILE_HEIGHT, BLOCK_EVENTS,
};
pub use authz::rebuilds::{RebuildRow, RebuildState};
pub use authz::{AuthzOp, ItScope, NodeRef, Progress, RebuildReport, RecordRow};
pub use backend::{BackendKind, Store, DEFAULT_SQLITE_CACHE_MIB};
pub use backup::{sqlite_copy, sqlite_integrity, BackupRecord, ExportedSnapshot, CENSUS_TABLES};
pub use drill::{ScratchDatabase, DRILL_APPLICATION};
pub use fence::Marks;
pub use group::GroupCounts;
#[cfg(feature = "testing")]
pub use group::WriterHold;
pub use identity::enrolment::NO_PASSWORD;
pub use identity::mfa::{MfaFactors, PendingLogin, Proof, Spent, StoredTotp};
pub use identity::passkeys::{Ceremony, StoredPasskey, Waiting};
pub use identity::sessions::{NewSession, OpenSession};
pub use identity::users::{LoginFailure, NewUser, UserPatch, UserQuery};
pub use idp::{
    IdpClient, IdpClientSettings, IssuedCode, Narrow, Narrowed, NewFamily, NewIdpClient,
    RefreshRow, StoredKey, TakenCode,
};
pub use lifecycle::plans::{
    NewPlan, PlanApplication, PlanSettings, Setting, SettingKind, StoredPlan,
};
pub use lifecycle::sealed::{ImportedVersion, SealedInfo, SealedPublisher};
pub use lifecycle::{
    Acceptance, ApplicationTag, DeployKind, DeploymentInfo, DeploymentRequest, ModuleName,
    NewDeployment, NewFinding, NewVersion, Published, Running, StoredFinding, StoredVersion,
    VersionInfo,
};
pub use nodes::{Behind, Heard, MarksListener, MARKS_CHANNEL, SEEN_CHANNEL};
pub use posture::{AccountFacts, FindingCount};
pub use providers::saml::{Consumed, SamlRequest};
pub use providers::users::NO_LOCAL_PASSWORD;
pub use providers::{
    DirectoryProfile, NewProviderLogin, ProfileChange, ProviderLogin, ProviderRecord,
    ProviderStatus,
};
pub use scim::{
    ScimGroup, ScimGroupWrite, ScimGroupsPage, ScimUser, ScimUserWrite, ScimUsersPage, Written,
};

pub use support::{
    CaseQuery, CaseScope, Company, Decided, DecisionBy, NewCase, NewLink, OpenedCase, PeopleChange,
    Person, StoredAttachment, StoredCase, StoredComment,
};

#[cfg(feature = "testing")]
pub mod testing;
