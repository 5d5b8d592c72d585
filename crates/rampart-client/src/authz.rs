//! Authorization: decisions and their explanations, list filters, application roles, ACL
//! and role writes, the model and a record's grants (`/api/v1/authz/*`), the hierarchy
//! rebuild (`/api/v1/hierarchies/rebuild`), and IT permissions (`/api/v1/it/*`).

use rampart_api::{
    AuthzModel, CheckRequest, CheckResponse, ExplainResponse, GrantsQuery, GrantsResponse,
    HierarchyRebuild, ItWriteOp, ItWriteRequest, LevelQuery, LevelResponse, ListFilterRequest,
    ListFilterResponse, RolesQuery, RolesResponse, WriteOp, WriteRequest, WriteResponse,
};

use crate::{Client, ClientError};

/// The authorization operations of a [`Client`].
#[derive(Debug, Clone, Copy)]
pub struct Authz<'c> {
    client: &'c Client,
}

impl<'c> Authz<'c> {
    pub(crate) fn new(client: &'c Client) -> Self {
        Self { client }
    }

    /// `POST /api/v1/authz/check`: up to 1,000 decisions, answered in order.
    pub async fn check(&self, request: &CheckRequest) -> Result<CheckResponse, ClientError> {
        self.client.post(&["authz", "check"], request).await
    }

    /// `POST /api/v1/authz/explain`: why one decision comes out as it does.
    pub async fn explain(&self, request: &CheckRequest) -> Result<ExplainResponse, ClientError> {
        self.client.post(&["authz", "explain"], request).await
    }

    /// `POST /api/v1/authz/list-filter`: a page of the records a user may read.
    pub async fn list_filter(
        &self,
        request: &ListFilterRequest,
    ) -> Result<ListFilterResponse, ClientError> {
        self.client.post(&["authz", "list-filter"], request).await
    }

    /// `GET /api/v1/authz/roles`: the roles a user holds in an application now.
    pub async fn roles(&self, query: &RolesQuery) -> Result<RolesResponse, ClientError> {
        self.client.get_query(&["authz", "roles"], query).await
    }

    /// `POST /api/v1/authz/write`: changes applied all together or not at all.
    pub async fn write(&self, request: &WriteRequest) -> Result<WriteResponse, ClientError> {
        self.client.post(&["authz", "write"], request).await
    }

    /// [`Authz::write`] of `operations`.
    pub async fn write_ops(&self, operations: Vec<WriteOp>) -> Result<WriteResponse, ClientError> {
        self.write(&WriteRequest { operations }).await
    }

    /// `GET /api/v1/authz/model`: what authorization knows, by name.
    pub async fn model(&self) -> Result<AuthzModel, ClientError> {
        self.client.get(&["authz", "model"]).await
    }

    /// `GET /api/v1/authz/grants`: the explicit grants of a record.
    pub async fn grants(&self, query: &GrantsQuery) -> Result<GrantsResponse, ClientError> {
        self.client.get_query(&["authz", "grants"], query).await
    }

    /// `POST /api/v1/it/write`: IT-permission changes (environments, role levels, teams,
    /// module registrations, overrides), all together or none.
    pub async fn it_write(&self, request: &ItWriteRequest) -> Result<WriteResponse, ClientError> {
        self.client.post(&["it", "write"], request).await
    }

    /// [`Authz::it_write`] of `operations`.
    pub async fn it_write_ops(
        &self,
        operations: Vec<ItWriteOp>,
    ) -> Result<WriteResponse, ClientError> {
        self.it_write(&ItWriteRequest { operations }).await
    }

    /// `GET /api/v1/it/level`: an IT user's level on a module in an environment, and the
    /// grant that decided.
    pub async fn it_level(&self, query: &LevelQuery) -> Result<LevelResponse, ClientError> {
        self.client.get_query(&["it", "level"], query).await
    }

    /// `POST /api/v1/hierarchies/rebuild`: starts rebuilding the hierarchy index in the
    /// background (IT administrators); the rebuild as it starts. A `409` problem while one
    /// runs on any node.
    pub async fn rebuild(&self) -> Result<HierarchyRebuild, ClientError> {
        self.client.post_bare(&["hierarchies", "rebuild"]).await
    }

    /// `GET /api/v1/hierarchies/rebuild`: the cluster's current or latest rebuild, its
    /// progress and outcome (`state` `none` before the first).
    pub async fn rebuild_status(&self) -> Result<HierarchyRebuild, ClientError> {
        self.client.get(&["hierarchies", "rebuild"]).await
    }
}
