//! Publish-time security findings of module versions
//! (`/api/v1/modules/{name}/versions/{version}/findings`).

use rampart_api::{AcceptFindingRequest, FindingWire, FindingsResponse};

use crate::{Client, ClientError};

/// The findings operations of a [`Client`]: reading needs `open` on the module, accepting
/// `change`.
#[derive(Debug, Clone, Copy)]
pub struct Findings<'c> {
    client: &'c Client,
}

impl<'c> Findings<'c> {
    pub(crate) fn new(client: &'c Client) -> Self {
        Self { client }
    }

    /// `GET …/findings`: every finding of a version, with its acceptance.
    pub async fn list(&self, module: &str, version: i64) -> Result<FindingsResponse, ClientError> {
        let version = version.to_string();
        self.client
            .get(&["modules", module, "versions", &version, "findings"])
            .await
    }

    /// `POST …/findings/accept`: accepts a warning with a written justification.
    pub async fn accept(
        &self,
        module: &str,
        version: i64,
        request: &AcceptFindingRequest,
    ) -> Result<FindingWire, ClientError> {
        let version = version.to_string();
        self.client
            .post(
                &[
                    "modules", module, "versions", &version, "findings", "accept",
                ],
                request,
            )
            .await
    }
}
