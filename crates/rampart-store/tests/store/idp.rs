//! The OpenID provider's grants, written through grouped commits: each write behaves as
//! its own transaction whatever it was grouped with.

use futures_util::future::join_all;
use rampart_core::{Error, Provider, UserId};
use rampart_store::{IssuedCode, NewFamily, NewIdpClient, Store};
use time::Duration;

use super::{ctx, new_user, T0};
use rampart_store::testing::{each_backend, TestStore};

async fn client_and_user(store: &Store) -> UserId {
    store
        .idp_create_client(
            &NewIdpClient {
                client_id: "rp".into(),
                name: "Relying party".into(),
                secret_hash: Some([7; 32]),
                first_party: true,
                redirect_uris: vec!["https://rp.example/cb".into()],
                post_logout_redirect_uris: vec![],
                scopes: vec!["openid".into()],
                grant_types: vec!["authorization_code".into(), "refresh_token".into()],
                id_token_alg: "ES256".into(),
                users: "end".into(),
            },
            T0,
            &ctx(),
        )
        .await
        .unwrap();
    store
        .create_user(&new_user(Provider::End, "erin", None), T0, &ctx())
        .await
        .unwrap()
        .id
}

fn code(n: u8, user: UserId) -> IssuedCode {
    IssuedCode {
        code_hash: [n; 32],
        client_id: "rp".into(),
        user_id: user,
        redirect_uri: "https://rp.example/cb".into(),
        scopes: vec!["openid".into()],
        nonce: None,
        challenge: "challenge".into(),
        auth_time: T0,
        expires_at: T0 + Duration::minutes(1),
    }
}

async fn start(store: &Store, n: u8, user: UserId) -> String {
    let family_id = format!("family-{n}");
    store
        .idp_start_family(
            &[n; 32],
            &NewFamily {
                family_id: family_id.clone(),
                client_id: "rp".into(),
                user_id: user,
                scopes: vec!["openid".into()],
                auth_time: T0,
                expires_at: T0 + Duration::days(1),
                refresh_hash: [n; 32],
            },
            T0,
            &ctx(),
        )
        .await
        .unwrap();
    family_id
}

#[tokio::test]
async fn racing_rotations_of_one_token_let_exactly_one_win() {
    each_backend(|TestStore { store, .. }| async move {
        let kind = store.kind().as_str();
        let user = client_and_user(&store).await;
        let family = start(&store, 1, user).await;
        let before = store.group_counts();
        // The 40 queue behind a held writer, then commit in at most two groups.
        let hold = store.hold_writer().await.unwrap();
        let racing = tokio::spawn({
            let store = store.clone();
            join_all((0..40u8).map(move |i| {
                let store = store.clone();
                let family = family.clone();
                async move {
                    store
                        .idp_rotate(&family, "rp", 1, &[100 + i; 32], T0, &ctx())
                        .await
                        .unwrap()
                }
            }))
        });
        if store.is_exclusive() {
            let sent =
                || store.group_counts().writes - before.writes + store.group_waiting() as u64;
            while sent() < 40 {
                tokio::time::sleep(std::time::Duration::from_millis(1)).await;
            }
        }
        drop(hold);
        let answers = racing.await.unwrap();
        assert_eq!(answers.iter().filter(|won| **won).count(), 1, "{kind}");
        let winner = answers.iter().position(|won| *won).unwrap();
        let won = u8::try_from(winner).unwrap();
        let row = store
            .idp_refresh_token(&[100 + won; 32])
            .await
            .unwrap()
            .expect("the winner's token is kept");
        assert_eq!((row.generation, row.current), (2, 2), "{kind}");
        // The losers' tokens were never kept.
        for i in (0..40u8).filter(|i| *i != won) {
            assert!(store
                .idp_refresh_token(&[100 + i; 32])
                .await
                .unwrap()
                .is_none());
        }
        let rotations = store
            .events_after(0, 1000)
            .await
            .unwrap()
            .into_iter()
            .filter(|e| e.action == "idp.token" && e.details.contains("refresh_token"))
            .count();
        assert_eq!(rotations, 1, "{kind}: one event for the one rotation");
        if store.is_exclusive() {
            let after = store.group_counts();
            assert_eq!(after.writes - before.writes, 40, "{kind}");
            assert!(
                after.groups > before.groups,
                "{kind}: the racing rotations shared commits: {after:?}"
            );
        }
    })
    .await;
}

#[tokio::test]
async fn a_write_that_fails_in_a_group_fails_alone() {
    each_backend(|TestStore { store, .. }| async move {
        let kind = store.kind().as_str();
        let user = client_and_user(&store).await;
        store
            .idp_issue_code(&code(1, user), T0, &ctx())
            .await
            .unwrap();
        let before = store.group_counts();
        // Codes 1 to 10 queue behind a held writer and code 11, then go as one group: code
        // 1 exists, so its second issue breaks the primary key.
        let hold = store.hold_writer().await.unwrap();
        let first = tokio::spawn({
            let store = store.clone();
            async move { store.idp_issue_code(&code(11, user), T0, &ctx()).await }
        });
        if store.is_exclusive() {
            while store.group_counts().writes == before.writes {
                tokio::time::sleep(std::time::Duration::from_millis(1)).await;
            }
        }
        let all = tokio::spawn({
            let store = store.clone();
            join_all((1..=10u8).map(move |n| {
                let store = store.clone();
                async move { store.idp_issue_code(&code(n, user), T0, &ctx()).await }
            }))
        });
        if store.is_exclusive() {
            while store.group_waiting() < 10 {
                tokio::time::sleep(std::time::Duration::from_millis(1)).await;
            }
        }
        drop(hold);
        first.await.unwrap().unwrap();
        let answers = all.await.unwrap();
        assert!(
            matches!(answers[0], Err(Error::Conflict(_) | Error::Internal(_))),
            "{kind}: {:?}",
            answers[0]
        );
        for (n, answer) in (2..=10u8).zip(&answers[1..]) {
            assert!(answer.is_ok(), "{kind}: code {n}: {answer:?}");
            let taken = store.idp_take_code(&[n; 32], T0).await.unwrap().unwrap();
            assert!(!taken.used, "{kind}: code {n} was kept once");
        }
        let issued = store
            .events_after(0, 1000)
            .await
            .unwrap()
            .into_iter()
            .filter(|e| e.action == "idp.authorize")
            .count();
        assert_eq!(
            issued, 11,
            "{kind}: one event per code kept, none for the refusal"
        );
        if store.is_exclusive() {
            let after = store.group_counts();
            assert!(after.split > before.split, "{kind}: {after:?}");
        }
        // Taken twice: the second take says so.
        assert!(
            store
                .idp_take_code(&[2; 32], T0)
                .await
                .unwrap()
                .unwrap()
                .used
        );
        assert!(store.idp_take_code(&[99; 32], T0).await.unwrap().is_none());
    })
    .await;
}

#[tokio::test]
async fn a_family_left_live_while_its_user_was_disabled_ends_when_they_are_enabled() {
    each_backend(|TestStore { store, .. }| async move {
        let kind = store.kind().as_str();
        let user = client_and_user(&store).await;
        let kept = start(&store, 1, user).await;
        // Disabling ends the family there was; a family still live afterwards (one a
        // database kept from before disabling ended families) is ended at enabling.
        store.set_disabled(user, true, T0, &ctx()).await.unwrap();
        let row = store.idp_refresh_token(&[1; 32]).await.unwrap().unwrap();
        assert!(row.revoked && row.user.disabled, "{kind}: {kept}");
        start(&store, 2, user).await;
        let row = store.idp_refresh_token(&[2; 32]).await.unwrap().unwrap();
        assert!(!row.revoked, "{kind}");
        let (enabled, revoked) = store.set_disabled(user, false, T0, &ctx()).await.unwrap();
        assert!(!enabled.disabled && revoked == 0, "{kind}");
        let row = store.idp_refresh_token(&[2; 32]).await.unwrap().unwrap();
        assert!(row.revoked, "{kind}: the family outlived the enabling");
        let reasons: Vec<String> = store
            .events_after(0, 1000)
            .await
            .unwrap()
            .into_iter()
            .filter(|e| e.action == "idp.revoke")
            .map(|e| e.details)
            .collect();
        assert_eq!(reasons.len(), 2, "{kind}: {reasons:?}");
        assert!(
            reasons[1].contains("granted before the user was disabled"),
            "{kind}: {reasons:?}"
        );
    })
    .await;
}
