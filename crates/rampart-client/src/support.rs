//! The support desk (`/api/v1/support/…`): companies, their members and administrators,
//! cases, comments, and decisions on requesters.

use rampart_api::{
    AddPersonRequest, AttachQuery, AttachmentWire, CaseWire, CasesQuery, CasesResponse,
    CommentRequest, CommentWire, CompaniesResponse, CompanyWire, CreateCompanyRequest,
    DecisionResponse, OpenCaseRequest, PeopleResponse,
};

use reqwest::Method;

use crate::{Client, ClientError};

/// Whom a people operation is about: the company's members or its administrators.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum People {
    /// `…/members` (administrators are members too).
    Members,
    /// `…/administrators`.
    Administrators,
}

impl People {
    fn segment(self) -> &'static str {
        match self {
            People::Members => "members",
            People::Administrators => "administrators",
        }
    }
}

/// The support desk operations of a [`Client`].
#[derive(Debug, Clone, Copy)]
pub struct Support<'c> {
    client: &'c Client,
}

impl<'c> Support<'c> {
    pub(crate) fn new(client: &'c Client) -> Self {
        Self { client }
    }

    /// `POST /api/v1/support/companies` (operator administrators).
    pub async fn create_company(&self, name: &str) -> Result<CompanyWire, ClientError> {
        self.client
            .post(
                &["support", "companies"],
                &CreateCompanyRequest {
                    name: name.to_owned(),
                },
            )
            .await
    }

    /// `GET /api/v1/support/companies`: the companies the caller manages.
    pub async fn companies(&self) -> Result<CompaniesResponse, ClientError> {
        self.client.get(&["support", "companies"]).await
    }

    /// `GET …/members` or `…/administrators`.
    pub async fn people(&self, company: &str, who: People) -> Result<PeopleResponse, ClientError> {
        self.client
            .get(&["support", "companies", company, who.segment()])
            .await
    }

    /// `POST …/members` or `…/administrators`: adds user `user` (an id).
    pub async fn add(&self, company: &str, who: People, user: &str) -> Result<(), ClientError> {
        self.client
            .post_empty(
                &["support", "companies", company, who.segment()],
                &AddPersonRequest {
                    user: user.to_owned(),
                },
            )
            .await
    }

    /// `DELETE …/members/{user}` or `…/administrators/{user}`.
    pub async fn remove(&self, company: &str, who: People, user: &str) -> Result<(), ClientError> {
        self.client
            .delete(&["support", "companies", company, who.segment(), user])
            .await
    }

    /// `POST /api/v1/support/cases`.
    pub async fn open(&self, request: &OpenCaseRequest) -> Result<CaseWire, ClientError> {
        self.client.post(&["support", "cases"], request).await
    }

    /// `GET /api/v1/support/cases`: a page of the cases the caller may see.
    pub async fn cases(&self, query: &CasesQuery) -> Result<CasesResponse, ClientError> {
        self.client.get_query(&["support", "cases"], query).await
    }

    /// `GET /api/v1/support/cases/{id}`.
    pub async fn case(&self, id: &str) -> Result<CaseWire, ClientError> {
        self.client.get(&["support", "cases", id]).await
    }

    /// `POST …/{id}/comments`.
    pub async fn comment(&self, id: &str, body: &str) -> Result<CommentWire, ClientError> {
        self.client
            .post(
                &["support", "cases", id, "comments"],
                &CommentRequest {
                    body: body.to_owned(),
                },
            )
            .await
    }

    /// `POST …/{id}/shares`: shares the case with user `user` (an id), a member.
    pub async fn share(&self, id: &str, user: &str) -> Result<(), ClientError> {
        self.client
            .post_empty(
                &["support", "cases", id, "shares"],
                &AddPersonRequest {
                    user: user.to_owned(),
                },
            )
            .await
    }

    /// `POST …/{id}/close` or `…/{id}/reopen`.
    pub async fn set_open(&self, id: &str, open: bool) -> Result<CaseWire, ClientError> {
        let verb = if open { "reopen" } else { "close" };
        self.client.post_bare(&["support", "cases", id, verb]).await
    }

    /// `POST …/{id}/authorize` (`authorize`) or `…/{id}/ignore`.
    pub async fn decide(&self, id: &str, authorize: bool) -> Result<DecisionResponse, ClientError> {
        let verb = if authorize { "authorize" } else { "ignore" };
        self.client.post_bare(&["support", "cases", id, verb]).await
    }

    /// `POST /api/v1/support/links/{token}`: follows an e-mailed link.
    pub async fn follow(&self, token: &str) -> Result<DecisionResponse, ClientError> {
        self.client.post_bare(&["support", "links", token]).await
    }

    /// `POST …/{id}/attachments`: attaches `content`, of `media_type`, named `name`.
    pub async fn attach(
        &self,
        id: &str,
        name: &str,
        media_type: &str,
        content: Vec<u8>,
    ) -> Result<AttachmentWire, ClientError> {
        self.client
            .call(Method::POST, &["support", "cases", id, "attachments"])
            .query(&AttachQuery {
                name: name.to_owned(),
            })
            .raw(content, media_type)
            .json()
            .await
    }

    /// `GET …/{id}/attachments/{number}`: the file's bytes.
    pub async fn download(&self, id: &str, number: i64) -> Result<Vec<u8>, ClientError> {
        let server = self.client.server.clone();
        let number = number.to_string();
        let response = self
            .client
            .call(
                Method::GET,
                &["support", "cases", id, "attachments", &number],
            )
            .send()
            .await?;
        let bytes = response
            .bytes()
            .await
            .map_err(|source| ClientError::Transport { server, source })?;
        Ok(bytes.to_vec())
    }
}
