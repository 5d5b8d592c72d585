//! A console session over plain HTTP, as a browser holds it (its cookies: the session
//! and the CSRF cookie): pages read, and forms sent from this site with the token of a
//! fresh page. The tests of forms use it; the Chromium scenarios drive a real browser.

use reqwest::StatusCode;

use crate::kit::Node;

/// A console session, as a browser holds it: cookies, and the CSRF token of the last page.
pub(crate) struct Console {
    /// The HTTP client, holding the cookies.
    pub(crate) client: reqwest::Client,
    base: String,
}

/// The `_csrf` value of the first form of a console page.
pub(crate) fn csrf_of(html: &str) -> String {
    html.split("name=\"_csrf\" value=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("a form with a CSRF token")
        .to_owned()
}

impl Console {
    /// Signs the IT user `username` in to the console.
    pub(crate) async fn sign_in(node: &Node, username: &str, password: &str) -> Console {
        Console::sign_in_as(node, "it", username, password).await
    }

    /// A browser that has not signed in yet.
    pub(crate) fn visitor(node: &Node) -> Console {
        let client = reqwest::Client::builder()
            .danger_accept_invalid_certs(true)
            .cookie_store(true)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        Console {
            client,
            base: node.base.clone(),
        }
    }

    /// Signs `username` of `provider` (`it`, or `end` on the support desk's sign-in page)
    /// in to the console.
    pub(crate) async fn sign_in_as(
        node: &Node,
        provider: &str,
        username: &str,
        password: &str,
    ) -> Console {
        let console = Console::visitor(node);
        let page = if provider == "end" {
            "/console/login?as=end"
        } else {
            "/console/login"
        };
        let (_, login) = console.get(page).await;
        let (status, _, _) = console
            .send(
                "/console/login",
                &[
                    ("_csrf", csrf_of(&login).as_str()),
                    ("provider", provider),
                    ("username", username),
                    ("password", password),
                ],
            )
            .await;
        assert_eq!(status, StatusCode::SEE_OTHER, "{username} signs in");
        console
    }

    pub(crate) async fn get(&self, path: &str) -> (StatusCode, String) {
        let r = self
            .client
            .get(format!("{}{path}", self.base))
            .send()
            .await
            .unwrap();
        (r.status(), r.text().await.unwrap())
    }

    /// Sends `fields` as a form from this site; answers the status, the page and where it
    /// redirects.
    pub(crate) async fn send(
        &self,
        path: &str,
        fields: &[(&str, &str)],
    ) -> (StatusCode, String, String) {
        let r = self
            .client
            .post(format!("{}{path}", self.base))
            .header("origin", &self.base)
            .form(fields)
            .send()
            .await
            .unwrap();
        let to = r
            .headers()
            .get("location")
            .map(|l| l.to_str().unwrap().to_owned())
            .unwrap_or_default();
        (r.status(), r.text().await.unwrap(), to)
    }

    /// Sends `fields` and `file` (name, type, content) as `multipart/form-data`, with the
    /// CSRF token of a fresh console page unless `csrf` is given.
    pub(crate) async fn upload(
        &self,
        path: &str,
        csrf: Option<&str>,
        fields: &[(&str, &str)],
        file: Option<(&str, &str, &[u8])>,
    ) -> (StatusCode, String, String) {
        let token = match csrf {
            Some(t) => t.to_owned(),
            None => self.token().await,
        };
        let boundary = "----rampart-test-boundary-7d1f";
        let mut body = Vec::new();
        let mut all = vec![("_csrf", token.as_str())];
        all.extend_from_slice(fields);
        for (name, value) in all {
            body.extend_from_slice(
                format!(
                    "--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n"
                )
                .as_bytes(),
            );
        }
        if let Some((name, media_type, content)) = file {
            body.extend_from_slice(
                format!(
                    "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{name}\"\r\nContent-Type: {media_type}\r\n\r\n"
                )
                .as_bytes(),
            );
            body.extend_from_slice(content);
            body.extend_from_slice(b"\r\n");
        }
        body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
        let r = self
            .client
            .post(format!("{}{path}", self.base))
            .header("origin", &self.base)
            .header(
                "content-type",
                format!("multipart/form-data; boundary={boundary}"),
            )
            .body(body)
            .send()
            .await
            .unwrap();
        let to = r
            .headers()
            .get("location")
            .map(|l| l.to_str().unwrap().to_owned())
            .unwrap_or_default();
        (r.status(), r.text().await.unwrap(), to)
    }

    /// The CSRF token of a fresh console page: the account page, which every signed-in
    /// user may open, or the sign-in page for a session the console refuses (the token is
    /// the same cookie's).
    pub(crate) async fn token(&self) -> String {
        let (_, page) = self.get("/console/account").await;
        if page.contains("name=\"_csrf\"") {
            return csrf_of(&page);
        }
        csrf_of(&self.get("/console/login").await.1)
    }

    /// Sends `fields` with the CSRF token of a fresh console page ([`Console::token`]).
    pub(crate) async fn post(
        &self,
        path: &str,
        fields: &[(&str, &str)],
    ) -> (StatusCode, String, String) {
        let token = self.token().await;
        let mut all = vec![("_csrf", token.as_str())];
        all.extend_from_slice(fields);
        self.send(path, &all).await
    }

    /// A session of `provider`'s user `username` opened through the API, as an
    /// application's sign-in would open it.
    pub(crate) async fn api_session(
        node: &Node,
        provider: &str,
        username: &str,
        password: &str,
    ) -> Console {
        let console = Console::visitor(node);
        let r = console
            .client
            .post(format!("{}/api/v1/auth/login", console.base))
            .json(&serde_json::json!({
                "provider": provider, "username": username, "password": password
            }))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK, "{username} signs in");
        console
    }
}

/// The numbers of a page's table rows whose ids are `<prefix><number>` (`plan-`,
/// `deployment-`), in the page's order.
pub fn row_numbers(html: &str, prefix: &str) -> Vec<i64> {
    html.split(&format!("<tr id=\"{prefix}"))
        .skip(1)
        .map(|rest| rest.split('"').next().unwrap().parse().unwrap())
        .collect()
}

/// The address of a paged table's "Older" link, when it has one.
pub fn older(html: &str) -> Option<String> {
    let (before, _) = html.split_once(">Older</a>")?;
    let href = before.rsplit("href=\"").next()?;
    Some(href.trim_end_matches('"').replace("&amp;", "&"))
}
