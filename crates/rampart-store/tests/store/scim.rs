//! One page of a provider's SCIM users or groups against the obvious reference: the slice
//! of the whole list ([`Store::scim_users`], [`Store::scim_groups`]) at the same place, with
//! the same users' groups, on every offset and size around the edges (and far past them).

use rampart_core::{Provider, UserId, Username};
use rampart_store::testing::{each_backend, TestStore};
use rampart_store::{ScimGroupWrite, ScimUserWrite, Store, Written};
use serde_json::json;

use super::{ctx, T0};

async fn provider(store: &Store, name: &str) {
    store
        .create_provider(name, "ldap", "end", &json!({}), T0, &ctx())
        .await
        .unwrap();
}

async fn user(store: &Store, provider: &str, name: &str) -> UserId {
    store
        .scim_create_user(
            &ScimUserWrite {
                user_provider: provider.into(),
                provider: Provider::End,
                username: Username::parse(name).unwrap(),
                display_name: None,
                email: None,
                disabled: false,
                attributes: "{}".into(),
            },
            T0,
            &ctx(),
        )
        .await
        .unwrap()
        .user
        .id
}

async fn group(store: &Store, provider: &str, name: &str, members: Vec<UserId>) {
    let w = ScimGroupWrite {
        user_provider: provider.into(),
        display_name: name.into(),
        external_id: None,
        members,
    };
    let written = store
        .scim_write_group(None, None, &w, T0, &ctx())
        .await
        .unwrap();
    assert!(matches!(written, Written::Done(_)));
}

#[tokio::test]
async fn a_page_of_users_or_groups_is_the_slice_of_the_whole_list() {
    each_backend(|TestStore { store, .. }| async move {
        let kind = store.kind().as_str();
        provider(&store, "corp").await;
        provider(&store, "other").await;
        let mut ids = Vec::new();
        for i in 0..9 {
            ids.push(user(&store, "corp", &format!("u{i}")).await);
        }
        let outsider = user(&store, "other", "outsider").await;
        group(
            &store,
            "corp",
            "odd",
            ids.iter().skip(1).step_by(2).copied().collect(),
        )
        .await;
        group(&store, "corp", "first", vec![ids[0]]).await;
        group(&store, "corp", "empty", vec![]).await;
        group(&store, "other", "elsewhere", vec![outsider]).await;

        let users = store.scim_users("corp").await.unwrap();
        let groups = store.scim_groups("corp").await.unwrap();
        assert_eq!((users.len(), groups.len()), (9, 3), "{kind}");
        let edges = [0, 1, 2, 4, 8, 9, 10, 1000, usize::MAX / 2, usize::MAX];
        for offset in edges {
            for limit in edges {
                let page = store.scim_users_page("corp", offset, limit).await.unwrap();
                let expected: Vec<UserId> = users
                    .iter()
                    .skip(offset)
                    .take(limit)
                    .map(|u| u.user.id)
                    .collect();
                let got: Vec<UserId> = page.users.iter().map(|u| u.user.id).collect();
                assert_eq!(got, expected, "{kind}: users {offset}+{limit}");
                assert_eq!(page.total, 9, "{kind}");
                // Each user's groups: those of the whole list that have them as a member.
                for u in &expected {
                    let of = |gs: &[rampart_store::ScimGroup]| -> Vec<String> {
                        gs.iter()
                            .filter(|g| g.members.iter().any(|(m, _)| m == u))
                            .map(|g| g.id.clone())
                            .collect()
                    };
                    assert_eq!(of(&page.groups), of(&groups), "{kind}: groups of {u}");
                }
                let page = store.scim_groups_page("corp", offset, limit).await.unwrap();
                let expected: Vec<_> = groups
                    .iter()
                    .skip(offset)
                    .take(limit)
                    .map(|g| (g.id.clone(), g.members.clone()))
                    .collect();
                let got: Vec<_> = page
                    .groups
                    .iter()
                    .map(|g| (g.id.clone(), g.members.clone()))
                    .collect();
                assert_eq!(got, expected, "{kind}: groups {offset}+{limit}");
                assert_eq!(page.total, 3, "{kind}");
            }
        }
        let none = store.scim_users_page("nobody", 0, 10).await.unwrap();
        assert_eq!((none.total, none.users.len()), (0, 0), "{kind}");
    })
    .await;
}
