//! Kubernetes writes shared by both controllers: status, finalizers, host-URL Secrets.

use std::collections::BTreeMap;

use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;
use kube::api::{Patch, PatchParams};
use kube::core::request::{Error as RequestError, Request};
use kube::{Api, Resource, ResourceExt};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::crd::{HOST_URL_KEY, HOST_URL_LABEL};

/// Why a Kubernetes write failed.
#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    /// The API server refused or could not be reached.
    #[error("Kubernetes API: {0}")]
    Kube(#[from] kube::Error),
    /// The object lacks a field the write needs.
    #[error("object has no {0}")]
    MissingField(&'static str),
    /// The write was accepted but its answer could not be read to the end.
    #[error("reading the Kubernetes API's answer: {0}")]
    Answer(#[source] std::io::Error),
}

/// Field manager of every write.
pub const MANAGER: &str = "meetings-operator";

/// Replaces the object's status with `status` (server-side apply, so fields
/// no longer sent are removed).
pub async fn write_status<K, S>(api: &Api<K>, object: &K, status: &S) -> Result<(), WriteError>
where
    K: Resource<DynamicType = ()> + Clone + DeserializeOwned + std::fmt::Debug,
    S: Serialize,
{
    let body = StatusApply {
        api_version: &K::api_version(&()),
        kind: &K::kind(&()),
        status,
    };
    let request = Request::new(api.resource_url()).patch_subresource(
        "status",
        &object.name_any(),
        &PatchParams::apply(MANAGER).force(),
        &Patch::Apply(body),
    );
    send_write(&api.clone().into_client(), request).await
}

/// The body of a status apply, encoded straight from the status.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct StatusApply<'a, S> {
    api_version: &'a str,
    kind: &'a str,
    status: &'a S,
}

/// Sends a write and reads its answer to the end without keeping it. The
/// API server answers a write with the whole object, which no caller here
/// reads (the watch brings it): decoding, or even collecting, it would cost
/// about as much as the write. A refusal is decoded as `Api`'s own writes
/// decode it.
pub async fn send_write(
    kube: &kube::Client,
    request: Result<http::Request<Vec<u8>>, RequestError>,
) -> Result<(), WriteError> {
    let request = request.map_err(kube::Error::BuildRequest)?;
    let mut answer = kube.request_stream(request).await?;
    futures::io::copy_buf(&mut answer, &mut futures::io::sink())
        .await
        .map_err(WriteError::Answer)?;
    Ok(())
}

/// Adds `finalizer` unless present (optimistic concurrency on resourceVersion).
pub async fn add_finalizer<K>(api: &Api<K>, object: &K, finalizer: &str) -> Result<(), WriteError>
where
    K: Resource<DynamicType = ()> + Clone + DeserializeOwned + std::fmt::Debug,
{
    if object.finalizers().iter().any(|f| f == finalizer) {
        return Ok(());
    }
    let mut finalizers = object.finalizers().to_vec();
    finalizers.push(finalizer.to_owned());
    patch_finalizers(api, object, finalizers).await
}

/// Removes `finalizer` if present.
pub async fn remove_finalizer<K>(
    api: &Api<K>,
    object: &K,
    finalizer: &str,
) -> Result<(), WriteError>
where
    K: Resource<DynamicType = ()> + Clone + DeserializeOwned + std::fmt::Debug,
{
    if !object.finalizers().iter().any(|f| f == finalizer) {
        return Ok(());
    }
    let finalizers: Vec<String> = object
        .finalizers()
        .iter()
        .filter(|f| *f != finalizer)
        .cloned()
        .collect();
    patch_finalizers(api, object, finalizers).await
}

async fn patch_finalizers<K>(
    api: &Api<K>,
    object: &K,
    finalizers: Vec<String>,
) -> Result<(), WriteError>
where
    K: Resource<DynamicType = ()> + Clone + DeserializeOwned + std::fmt::Debug,
{
    let patch = serde_json::json!({
        "metadata": {
            "resourceVersion": object.resource_version(),
            "finalizers": finalizers,
        }
    });
    match api
        .patch(
            &object.name_any(),
            &PatchParams::default(),
            &Patch::Merge(patch),
        )
        .await
    {
        Ok(_) => Ok(()),
        // Gone already: nothing left to guard.
        Err(kube::Error::Api(status)) if status.code == 404 => Ok(()),
        Err(e) => Err(e.into()),
    }
}

/// Name of the Secret holding a room's host URL.
pub fn host_url_secret_name(room_name: &str) -> String {
    let mut name = format!("{room_name}-host-url");
    if name.len() > 253 {
        name = format!("{}-host-url", &room_name[..244]);
    }
    name
}

/// Writes the host URL into a Secret owned by `owner` (garbage-collected with it).
pub async fn write_host_url_secret<K>(
    kube: &kube::Client,
    owner: &K,
    host_url: &str,
) -> Result<String, WriteError>
where
    K: Resource<DynamicType = ()>,
{
    let namespace = owner
        .namespace()
        .ok_or(WriteError::MissingField("namespace"))?;
    let owner_name = owner
        .meta()
        .name
        .clone()
        .ok_or(WriteError::MissingField("name"))?;
    let name = host_url_secret_name(&owner_name);
    let owner_ref = OwnerReference {
        api_version: K::api_version(&()).into_owned(),
        kind: K::kind(&()).into_owned(),
        name: owner_name.clone(),
        uid: owner
            .meta()
            .uid
            .clone()
            .ok_or(WriteError::MissingField("uid"))?,
        controller: Some(true),
        block_owner_deletion: Some(true),
    };
    let secret = Secret {
        metadata: kube::api::ObjectMeta {
            name: Some(name.clone()),
            namespace: Some(namespace.clone()),
            labels: Some(BTreeMap::from([(HOST_URL_LABEL.to_owned(), owner_name)])),
            owner_references: Some(vec![owner_ref]),
            ..Default::default()
        },
        type_: Some("Opaque".to_owned()),
        data: Some(BTreeMap::from([(
            HOST_URL_KEY.to_owned(),
            ByteString(host_url.as_bytes().to_vec()),
        )])),
        ..Default::default()
    };
    let request = Request::new(Secret::url_path(&(), Some(&namespace))).patch(
        &name,
        &PatchParams::apply(MANAGER).force(),
        &Patch::Apply(&secret),
    );
    send_write(kube, request).await?;
    Ok(name)
}

/// Whether the host-URL Secret exists.
pub async fn host_url_secret_exists(
    kube: &kube::Client,
    namespace: &str,
    name: &str,
) -> Result<bool, WriteError> {
    let api: Api<Secret> = Api::namespaced(kube.clone(), namespace);
    Ok(api.get_metadata_opt(name).await?.is_some())
}
