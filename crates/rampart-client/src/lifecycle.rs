//! The module lifecycle: versions and their sources, surfaces and diffs
//! (`/api/v1/modules/*`), environments, deployments and the requests waiting for a second
//! approver (`/api/v1/environments/*`), application tags and module names.

use rampart_api::{
    DeployRequest, DeployResponse, DeploymentPage, DeploymentRequestWire, DiffQuery,
    EnvironmentWire, HistoryQuery, ModuleNameWire, PublishRequest, PublishResponse, RejectRequest,
    RequestsQuery, ReserveNameRequest, RollbackRequest, RunningWire, StageRequest, SurfaceQuery,
    TagRequest, TagWire, TransferNameRequest, VersionSourceResponse, VersionWire,
};
use rampart_model::{ModuleDiff, Surface};

use crate::{Client, ClientError};

/// The lifecycle operations of a [`Client`]. Each checks the caller's IT level on the
/// module in the environment concerned; below `reference` an object answers as missing.
#[derive(Debug, Clone, Copy)]
pub struct Lifecycle<'c> {
    client: &'c Client,
}

impl<'c> Lifecycle<'c> {
    pub(crate) fn new(client: &'c Client) -> Self {
        Self { client }
    }

    /// `GET /api/v1/modules/{name}/versions`: the versions, newest first, with where each
    /// runs.
    pub async fn versions(&self, module: &str) -> Result<Vec<VersionWire>, ClientError> {
        self.client.get(&["modules", module, "versions"]).await
    }

    /// `POST /api/v1/modules/{name}/versions`: publishes a version (or finds the same source
    /// already published: `created` is then `false`).
    pub async fn publish(
        &self,
        module: &str,
        request: &PublishRequest,
    ) -> Result<PublishResponse, ClientError> {
        self.client
            .post(&["modules", module, "versions"], request)
            .await
    }

    /// `GET /api/v1/modules/{name}/versions/{version}`: a version with its source (`open`).
    pub async fn version(
        &self,
        module: &str,
        version: i64,
    ) -> Result<VersionSourceResponse, ClientError> {
        let version = version.to_string();
        self.client
            .get(&["modules", module, "versions", &version])
            .await
    }

    /// A version's source text, as published.
    pub async fn source(&self, module: &str, version: i64) -> Result<String, ClientError> {
        Ok(self.version(module, version).await?.source)
    }

    /// `DELETE /api/v1/modules/{name}/versions/{version}`: a version that runs nowhere.
    pub async fn delete_version(&self, module: &str, version: i64) -> Result<(), ClientError> {
        self.client
            .delete(&["modules", module, "versions", &version.to_string()])
            .await
    }

    /// `GET /api/v1/modules/{name}/surface`: the public elements of a version (the newest
    /// when `None`), all that `reference` shows.
    pub async fn surface(
        &self,
        module: &str,
        version: Option<i64>,
    ) -> Result<Surface, ClientError> {
        self.surface_as(module, version).await
    }

    /// [`Lifecycle::surface`] as the server sent it, to print or pass on.
    pub async fn surface_json(
        &self,
        module: &str,
        version: Option<i64>,
    ) -> Result<serde_json::Value, ClientError> {
        self.surface_as(module, version).await
    }

    async fn surface_as<T: serde::de::DeserializeOwned>(
        &self,
        module: &str,
        version: Option<i64>,
    ) -> Result<T, ClientError> {
        self.client
            .get_query(&["modules", module, "surface"], &SurfaceQuery { version })
            .await
    }

    /// `GET /api/v1/modules/{name}/diff`: what changed between two versions, structured and
    /// line by line (`open`).
    pub async fn diff(&self, module: &str, from: i64, to: i64) -> Result<ModuleDiff, ClientError> {
        self.diff_as(module, from, to).await
    }

    /// [`Lifecycle::diff`] as the server sent it, to print or pass on.
    pub async fn diff_json(
        &self,
        module: &str,
        from: i64,
        to: i64,
    ) -> Result<serde_json::Value, ClientError> {
        self.diff_as(module, from, to).await
    }

    async fn diff_as<T: serde::de::DeserializeOwned>(
        &self,
        module: &str,
        from: i64,
        to: i64,
    ) -> Result<T, ClientError> {
        self.client
            .get_query(&["modules", module, "diff"], &DiffQuery { from, to })
            .await
    }

    /// `GET /api/v1/model/schema`: the JSON Schema of the module format.
    pub async fn model_schema(&self) -> Result<serde_json::Value, ClientError> {
        self.client.get(&["model", "schema"]).await
    }

    /// `GET /api/v1/environments`: the environments in promotion order, with their
    /// policies.
    pub async fn environments(&self) -> Result<Vec<EnvironmentWire>, ClientError> {
        self.client.get(&["environments"]).await
    }

    /// `GET /api/v1/environments/{env}/modules`: what runs there.
    pub async fn running(&self, environment: &str) -> Result<Vec<RunningWire>, ClientError> {
        self.client
            .get(&["environments", environment, "modules"])
            .await
    }

    /// `POST /api/v1/environments/{env}/deployments`: deploys versions (or an application's
    /// tag), all together or none; with `dry_run` only the plan.
    pub async fn deploy(
        &self,
        environment: &str,
        request: &DeployRequest,
    ) -> Result<DeployResponse, ClientError> {
        self.client
            .post(&["environments", environment, "deployments"], request)
            .await
    }

    /// `GET /api/v1/environments/{env}/deployments`: a page of the history, newest first
    /// (`query.cursor`: the previous page's `next_cursor`).
    pub async fn history(
        &self,
        environment: &str,
        query: &HistoryQuery,
    ) -> Result<DeploymentPage, ClientError> {
        self.client
            .get_query(&["environments", environment, "deployments"], query)
            .await
    }

    /// `POST /api/v1/environments/{env}/stage`: promotes what runs in the environment
    /// before (or `from`).
    pub async fn stage(
        &self,
        environment: &str,
        request: &StageRequest,
    ) -> Result<DeployResponse, ClientError> {
        self.client
            .post(&["environments", environment, "stage"], request)
            .await
    }

    /// `POST /api/v1/environments/{env}/rollback`: puts a module back to the version it ran
    /// before its last deployment.
    pub async fn rollback(
        &self,
        environment: &str,
        request: &RollbackRequest,
    ) -> Result<DeployResponse, ClientError> {
        self.client
            .post(&["environments", environment, "rollback"], request)
            .await
    }

    /// `GET /api/v1/environments/{env}/requests`: deployment requests, newest first.
    pub async fn requests(
        &self,
        environment: &str,
        query: &RequestsQuery,
    ) -> Result<Vec<DeploymentRequestWire>, ClientError> {
        self.client
            .get_query(&["environments", environment, "requests"], query)
            .await
    }

    /// `POST /api/v1/environments/{env}/requests/{id}/approve`: checks the request again
    /// against the environment as it is now, then applies it.
    pub async fn approve(&self, environment: &str, id: i64) -> Result<DeployResponse, ClientError> {
        let id = id.to_string();
        self.client
            .post_bare(&["environments", environment, "requests", &id, "approve"])
            .await
    }

    /// `POST /api/v1/environments/{env}/requests/{id}/reject`: rejects a request (or
    /// withdraws one's own).
    pub async fn reject(
        &self,
        environment: &str,
        id: i64,
        request: &RejectRequest,
    ) -> Result<(), ClientError> {
        let id = id.to_string();
        self.client
            .post_empty(
                &["environments", environment, "requests", &id, "reject"],
                request,
            )
            .await
    }

    /// `POST /api/v1/applications/{app}/tags`: tags the application's modules at their
    /// newest versions (or those given).
    pub async fn tag(
        &self,
        application: &str,
        request: &TagRequest,
    ) -> Result<TagWire, ClientError> {
        self.client
            .post(&["applications", application, "tags"], request)
            .await
    }

    /// `GET /api/v1/applications/{app}/tags`: the application's tags, newest first.
    pub async fn tags(&self, application: &str) -> Result<Vec<TagWire>, ClientError> {
        self.client
            .get(&["applications", application, "tags"])
            .await
    }

    /// `GET /api/v1/module-names`: every module name taken, with its application
    /// (administrators).
    pub async fn module_names(&self) -> Result<Vec<ModuleNameWire>, ClientError> {
        self.client.get(&["module-names"]).await
    }

    /// `POST /api/v1/module-names`: reserves a name for an application (administrators).
    pub async fn reserve_name(
        &self,
        request: &ReserveNameRequest,
    ) -> Result<ModuleNameWire, ClientError> {
        self.client.post(&["module-names"], request).await
    }

    /// `POST /api/v1/module-names/{name}/transfer`: gives a name (and its module, if
    /// registered) to another application (administrators).
    pub async fn transfer_name(
        &self,
        name: &str,
        request: &TransferNameRequest,
    ) -> Result<ModuleNameWire, ClientError> {
        self.client
            .post(&["module-names", name, "transfer"], request)
            .await
    }

    /// `DELETE /api/v1/module-names/{name}`: releases a reserved name (administrators).
    pub async fn release_name(&self, name: &str) -> Result<(), ClientError> {
        self.client.delete(&["module-names", name]).await
    }
}
