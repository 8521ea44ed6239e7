//! Smoke tests that show the test control plane is a real one: CRDs are
//! established, custom resources are stored, watched and validated (CEL),
//! finalizers and garbage collection work, and RBAC refuses what it should.

#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test

mod support;

use std::time::Duration;

use futures::{StreamExt, TryStreamExt};
use k8s_openapi::api::core::v1::{ConfigMap, Namespace, ServiceAccount};
use k8s_openapi::api::rbac::v1::{PolicyRule, Role, RoleBinding, RoleRef, Subject};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;
use kube::ResourceExt;
use kube::api::{
    Api, ApiResource, DeleteParams, DynamicObject, GroupVersionKind, ListParams, ObjectMeta, Patch,
    PatchParams, PostParams, WatchEvent, WatchParams,
};
use serde_json::json;

use support::{control_plane, eventually};

const TIMEOUT: Duration = Duration::from_secs(60);

/// The SmokeTest kind of `tests/support/crds/smoketest.yaml`.
fn smoketest_resource() -> ApiResource {
    ApiResource::from_gvk_with_plural(
        &GroupVersionKind::gvk("smoketest.meetings.test", "v1", "SmokeTest"),
        "smoketests",
    )
}

fn smoketest(name: &str, spec: serde_json::Value) -> DynamicObject {
    DynamicObject::new(name, &smoketest_resource()).data(json!({ "spec": spec }))
}

fn smoketests(client: kube::Client, ns: &str) -> Api<DynamicObject> {
    Api::namespaced_with(client, ns, &smoketest_resource())
}

fn api_error(err: kube::Error) -> Box<kube::core::Status> {
    match err {
        kube::Error::Api(status) => status,
        other => panic!("expected an error from the API server, got: {other}"),
    }
}

#[tokio::test]
async fn crds_from_the_repository_are_established() {
    let cp = control_plane().await;
    let project = cp.project_crds();
    assert!(
        !project.is_empty(),
        "no CustomResourceDefinition was installed from crds/"
    );
    let crds: Api<CustomResourceDefinition> = Api::all(cp.client().await);
    for name in cp.installed_crds() {
        let crd = crds.get(&name).await.expect("the CRD exists");
        let conditions = crd.status.and_then(|s| s.conditions).unwrap_or_default();
        assert!(
            conditions
                .iter()
                .any(|c| c.type_ == "Established" && c.status == "True"),
            "CRD {name} is not Established: {conditions:?}"
        );
    }
    // Each served version of the project's CRDs answers a list request.
    for name in project {
        let crd = crds.get(&name).await.expect("the CRD exists");
        for version in crd.spec.versions.iter().filter(|v| v.served) {
            let gvk = GroupVersionKind::gvk(&crd.spec.group, &version.name, &crd.spec.names.kind);
            let ar = ApiResource::from_gvk_with_plural(&gvk, &crd.spec.names.plural);
            let api: Api<DynamicObject> = Api::all_with(cp.client().await, &ar);
            api.list(&ListParams::default())
                .await
                .unwrap_or_else(|e| panic!("listing {name} {}: {e}", version.name));
        }
    }
}

#[tokio::test]
async fn custom_resource_is_created_watched_and_its_status_patched() {
    let cp = control_plane().await;
    let ns = cp.new_namespace("smoke-status").await;
    let api = smoketests(cp.client().await, &ns);

    let list = api.list(&ListParams::default()).await.expect("list");
    let version = list
        .metadata
        .resource_version
        .expect("a list has a version");
    let mut events = api
        .watch(&WatchParams::default().timeout(60), &version)
        .await
        .expect("watch")
        .boxed();

    let created = api
        .create(
            &PostParams::default(),
            &smoketest("one", json!({ "replicas": 2 })),
        )
        .await
        .expect("create");
    assert_eq!(created.metadata.generation, Some(1));

    let status = json!({ "status": { "phase": "Ready", "observedGeneration": 1 } });
    let patched = api
        .patch_status("one", &PatchParams::default(), &Patch::Merge(&status))
        .await
        .expect("patch status");
    assert_eq!(patched.data["status"]["phase"], "Ready");
    // The status subresource does not bump the generation or touch spec.
    assert_eq!(patched.metadata.generation, Some(1));
    assert_eq!(patched.data["spec"]["replicas"], 2);

    // Status written through the main resource is ignored.
    let sneaky = json!({ "status": { "phase": "Sneaky" } });
    let after = api
        .patch("one", &PatchParams::default(), &Patch::Merge(&sneaky))
        .await
        .expect("patch");
    assert_eq!(after.data["status"]["phase"], "Ready");

    let mut added = false;
    let seen = tokio::time::timeout(TIMEOUT, async {
        while let Some(event) = events.try_next().await.expect("watch stream") {
            match event {
                WatchEvent::Added(o) if o.name_any() == "one" => added = true,
                WatchEvent::Modified(o)
                    if o.name_any() == "one" && o.data["status"]["phase"] == "Ready" =>
                {
                    return true;
                }
                _ => {}
            }
        }
        false
    })
    .await
    .expect("the watch reports the status change in time");
    assert!(added, "the watch reported the creation");
    assert!(seen, "the watch reported the status change");
}

#[tokio::test]
async fn finalizer_blocks_deletion_until_removed() {
    let cp = control_plane().await;
    let ns = cp.new_namespace("smoke-finalizer").await;
    let api = smoketests(cp.client().await, &ns);

    let mut obj = smoketest("held", json!({ "replicas": 1 }));
    obj.metadata.finalizers = Some(vec!["smoketest.meetings.test/hold".into()]);
    api.create(&PostParams::default(), &obj)
        .await
        .expect("create");

    api.delete("held", &DeleteParams::default())
        .await
        .expect("delete");
    // Still there, marked for deletion.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let held = api.get("held").await.expect("still exists");
    assert!(held.metadata.deletion_timestamp.is_some());
    assert_eq!(
        held.finalizers(),
        ["smoketest.meetings.test/hold".to_string()]
    );

    let remove = json!({ "metadata": { "finalizers": null } });
    api.patch("held", &PatchParams::default(), &Patch::Merge(&remove))
        .await
        .expect("remove the finalizer");
    eventually("the object to be gone", TIMEOUT, || async {
        api.get_opt("held")
            .await
            .expect("get")
            .is_none()
            .then_some(())
    })
    .await;
}

#[tokio::test]
async fn owned_object_is_garbage_collected_after_its_owner_is_deleted() {
    let cp = control_plane().await;
    let ns = cp.new_namespace("smoke-gc").await;
    let client = cp.client().await;
    let owners = smoketests(client.clone(), &ns);
    let config_maps: Api<ConfigMap> = Api::namespaced(client, &ns);

    let owner = owners
        .create(
            &PostParams::default(),
            &smoketest("owner", json!({ "replicas": 1 })),
        )
        .await
        .expect("create the owner");
    let ar = smoketest_resource();
    let dependent = ConfigMap {
        metadata: ObjectMeta {
            name: Some("dependent".into()),
            owner_references: Some(vec![OwnerReference {
                api_version: ar.api_version.clone(),
                kind: ar.kind.clone(),
                name: owner.name_any(),
                uid: owner.uid().expect("a uid"),
                controller: Some(true),
                block_owner_deletion: Some(true),
            }]),
            ..Default::default()
        },
        data: Some([("k".to_string(), "v".to_string())].into()),
        ..Default::default()
    };
    config_maps
        .create(&PostParams::default(), &dependent)
        .await
        .expect("create the dependent");

    // Background propagation: only the garbage collector in
    // kube-controller-manager deletes the dependent.
    owners
        .delete("owner", &DeleteParams::background())
        .await
        .expect("delete the owner");
    eventually("the dependent to be garbage-collected", TIMEOUT, || async {
        config_maps
            .get_opt("dependent")
            .await
            .expect("get")
            .is_none()
            .then_some(())
    })
    .await;
}

#[tokio::test]
async fn cel_rules_reject_invalid_updates_with_their_message() {
    let cp = control_plane().await;
    let ns = cp.new_namespace("smoke-cel").await;
    let api = smoketests(cp.client().await, &ns);

    api.create(
        &PostParams::default(),
        &smoketest("valid", json!({ "replicas": 3, "mode": "blue" })),
    )
    .await
    .expect("a valid object is accepted");

    let too_many = json!({ "spec": { "replicas": 11 } });
    let err = api
        .patch("valid", &PatchParams::default(), &Patch::Merge(&too_many))
        .await
        .expect_err("replicas > 10 is rejected");
    let status = api_error(err);
    assert_eq!(status.code, 422, "{status:?}");
    assert!(
        status.message.contains("replicas must be at most 10"),
        "unexpected message: {}",
        status.message
    );

    let new_mode = json!({ "spec": { "mode": "green" } });
    let err = api
        .patch("valid", &PatchParams::default(), &Patch::Merge(&new_mode))
        .await
        .expect_err("changing mode is rejected");
    let status = api_error(err);
    assert_eq!(status.code, 422, "{status:?}");
    assert!(
        status.message.contains("mode is immutable"),
        "unexpected message: {}",
        status.message
    );

    let unchanged = api.get("valid").await.expect("get");
    assert_eq!(
        unchanged.data["spec"],
        json!({ "replicas": 3, "mode": "blue" })
    );

    // Creation is validated too.
    let err = api
        .create(
            &PostParams::default(),
            &smoketest("invalid", json!({ "replicas": 12 })),
        )
        .await
        .expect_err("an invalid object is rejected");
    assert!(
        api_error(err)
            .message
            .contains("replicas must be at most 10")
    );
}

#[tokio::test]
async fn service_accounts_get_only_what_rbac_grants() {
    let cp = control_plane().await;
    let ns = cp.new_namespace("smoke-rbac").await;
    let admin = cp.client().await;
    let sas: Api<ServiceAccount> = Api::namespaced(admin.clone(), &ns);
    let sa = ServiceAccount {
        metadata: ObjectMeta {
            name: Some("reader".into()),
            ..Default::default()
        },
        ..Default::default()
    };
    sas.create(&PostParams::default(), &sa)
        .await
        .expect("create the service account");

    let as_sa = cp.service_account_client(&ns, "reader").await;
    let config_maps: Api<ConfigMap> = Api::namespaced(as_sa.clone(), &ns);

    // Authenticated (the token works) but not authorized.
    let err = config_maps
        .list(&ListParams::default())
        .await
        .expect_err("listing without a role is refused");
    let status = api_error(err);
    assert_eq!(status.code, 403, "{status:?}");
    assert!(
        status
            .message
            .contains(&format!("system:serviceaccount:{ns}:reader")),
        "unexpected message: {}",
        status.message
    );

    // Grant read access to config maps in this namespace only.
    let roles: Api<Role> = Api::namespaced(admin.clone(), &ns);
    roles
        .create(
            &PostParams::default(),
            &Role {
                metadata: ObjectMeta {
                    name: Some("configmap-reader".into()),
                    ..Default::default()
                },
                rules: Some(vec![PolicyRule {
                    api_groups: Some(vec![String::new()]),
                    resources: Some(vec!["configmaps".into()]),
                    verbs: vec!["get".into(), "list".into()],
                    ..Default::default()
                }]),
            },
        )
        .await
        .expect("create the role");
    let bindings: Api<RoleBinding> = Api::namespaced(admin, &ns);
    bindings
        .create(
            &PostParams::default(),
            &RoleBinding {
                metadata: ObjectMeta {
                    name: Some("reader".into()),
                    ..Default::default()
                },
                role_ref: RoleRef {
                    api_group: Some("rbac.authorization.k8s.io".into()),
                    kind: "Role".into(),
                    name: "configmap-reader".into(),
                },
                subjects: Some(vec![Subject {
                    kind: "ServiceAccount".into(),
                    name: "reader".into(),
                    namespace: Some(ns.clone()),
                    ..Default::default()
                }]),
            },
        )
        .await
        .expect("create the role binding");

    eventually("the role binding to take effect", TIMEOUT, || async {
        config_maps.list(&ListParams::default()).await.ok()
    })
    .await;
    // Writing and other namespaces stay forbidden.
    let cm = ConfigMap {
        metadata: ObjectMeta {
            name: Some("nope".into()),
            ..Default::default()
        },
        ..Default::default()
    };
    let err = config_maps
        .create(&PostParams::default(), &cm)
        .await
        .expect_err("creating is refused");
    assert_eq!(api_error(err).code, 403);
    let elsewhere: Api<ConfigMap> = Api::namespaced(as_sa, "default");
    let err = elsewhere
        .list(&ListParams::default())
        .await
        .expect_err("another namespace is refused");
    assert_eq!(api_error(err).code, 403);
}

#[tokio::test]
async fn deleted_namespace_is_emptied_and_removed() {
    let cp = control_plane().await;
    let ns = cp.new_namespace("smoke-ns").await;
    let client = cp.client().await;
    let config_maps: Api<ConfigMap> = Api::namespaced(client.clone(), &ns);
    config_maps
        .create(
            &PostParams::default(),
            &ConfigMap {
                metadata: ObjectMeta {
                    name: Some("doomed".into()),
                    ..Default::default()
                },
                ..Default::default()
            },
        )
        .await
        .expect("create");
    let namespaces: Api<Namespace> = Api::all(client);
    namespaces
        .delete(&ns, &DeleteParams::default())
        .await
        .expect("delete the namespace");
    // The namespace controller in kube-controller-manager empties it and
    // removes its finalizer.
    eventually("the namespace to be gone", TIMEOUT, || async {
        namespaces
            .get_opt(&ns)
            .await
            .expect("get")
            .is_none()
            .then_some(())
    })
    .await;
}

#[tokio::test]
async fn kubectl_and_helm_reach_the_control_plane() {
    let cp = control_plane().await;
    let out = cp
        .kubectl_cmd()
        .args(["get", "namespace", "default", "-o", "name"])
        .output()
        .expect("run kubectl");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "namespace/default"
    );

    let out = cp
        .helm_cmd()
        .args(["list", "--all-namespaces", "-o", "json"])
        .output()
        .expect("run helm");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "[]");

    // The API server reports the version the tools were built at.
    let version = cp
        .client()
        .await
        .apiserver_version()
        .await
        .expect("version");
    assert_eq!(version.major, "1");
    assert!(
        version.git_version.starts_with("v1."),
        "{}",
        version.git_version
    );
}
