//! Sends a callbacks Service's traffic to the leader, the only replica that
//! serves callbacks: the Service has no selector, and the leader points its
//! EndpointSlice (`<service>-leader`) at its own pod when it starts serving.
//! A new leader overwrites the slice; the slice is owned by the Service, so
//! it goes when the Service goes.

use std::net::IpAddr;

use k8s_openapi::api::core::v1::ObjectReference;
use k8s_openapi::api::core::v1::Service;
use k8s_openapi::api::discovery::v1::{Endpoint, EndpointConditions, EndpointPort, EndpointSlice};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference};
use kube::api::{Api, Patch, PatchParams};

/// Field manager of the EndpointSlice writes.
const FIELD_MANAGER: &str = "meetings-operator-callbacks";
/// Name of the Service's port (and of the slice's) that carries callbacks.
pub const PORT_NAME: &str = "callbacks";

/// The Service to route to this replica, and this replica's pod.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LeaderRoute {
    /// Name of the callbacks Service.
    pub service: String,
    /// Namespace of the Service and of this pod.
    pub namespace: String,
    /// This pod's name.
    pub pod_name: String,
    /// This pod's address.
    pub pod_ip: IpAddr,
}

/// Pointing the Service at this pod failed.
#[derive(Debug, thiserror::Error)]
pub enum RouteError {
    /// The Service could not be read.
    #[error("reading the callbacks Service {namespace}/{name}: {source}")]
    Service {
        /// Namespace of the Service.
        namespace: String,
        /// Name of the Service.
        name: String,
        /// The Kubernetes error.
        source: kube::Error,
    },
    /// The EndpointSlice could not be written.
    #[error("pointing EndpointSlice {namespace}/{name} at this pod: {source}")]
    Slice {
        /// Namespace of the slice.
        namespace: String,
        /// Name of the slice.
        name: String,
        /// The Kubernetes error.
        source: kube::Error,
    },
}

impl LeaderRoute {
    /// Name of the EndpointSlice the leader writes.
    pub fn slice_name(&self) -> String {
        format!("{}-leader", self.service)
    }

    /// The EndpointSlice sending the Service's `callbacks` port to `port`
    /// of this pod, owned by the Service (`service_uid`).
    pub fn endpoint_slice(&self, port: u16, service_uid: &str) -> EndpointSlice {
        let address_type = if self.pod_ip.is_ipv4() {
            "IPv4"
        } else {
            "IPv6"
        };
        EndpointSlice {
            metadata: ObjectMeta {
                name: Some(self.slice_name()),
                namespace: Some(self.namespace.clone()),
                labels: Some(
                    [
                        ("kubernetes.io/service-name", self.service.as_str()),
                        (
                            "endpointslice.kubernetes.io/managed-by",
                            "meetings-operator",
                        ),
                    ]
                    .into_iter()
                    .map(|(k, v)| (k.to_owned(), v.to_owned()))
                    .collect(),
                ),
                owner_references: Some(vec![OwnerReference {
                    api_version: "v1".into(),
                    kind: "Service".into(),
                    name: self.service.clone(),
                    uid: service_uid.to_owned(),
                    ..OwnerReference::default()
                }]),
                ..ObjectMeta::default()
            },
            address_type: address_type.into(),
            endpoints: Some(vec![Endpoint {
                addresses: vec![self.pod_ip.to_string()],
                conditions: Some(EndpointConditions {
                    ready: Some(true),
                    serving: Some(true),
                    terminating: Some(false),
                }),
                target_ref: Some(ObjectReference {
                    kind: Some("Pod".into()),
                    name: Some(self.pod_name.clone()),
                    namespace: Some(self.namespace.clone()),
                    ..ObjectReference::default()
                }),
                ..Endpoint::default()
            }]),
            ports: Some(vec![EndpointPort {
                name: Some(PORT_NAME.into()),
                port: Some(i32::from(port)),
                protocol: Some("TCP".into()),
                ..EndpointPort::default()
            }]),
        }
    }

    /// Points the Service at this pod's `port`.
    pub async fn apply(&self, kube: &kube::Client, port: u16) -> Result<(), RouteError> {
        let services: Api<Service> = Api::namespaced(kube.clone(), &self.namespace);
        let service = services
            .get(&self.service)
            .await
            .map_err(|source| RouteError::Service {
                namespace: self.namespace.clone(),
                name: self.service.clone(),
                source,
            })?;
        let uid = service.metadata.uid.unwrap_or_default();
        let slices: Api<EndpointSlice> = Api::namespaced(kube.clone(), &self.namespace);
        let name = self.slice_name();
        slices
            .patch(
                &name,
                &PatchParams::apply(FIELD_MANAGER).force(),
                &Patch::Apply(&self.endpoint_slice(port, &uid)),
            )
            .await
            .map_err(|source| RouteError::Slice {
                namespace: self.namespace.clone(),
                name: name.clone(),
                source,
            })?;
        tracing::info!(slice = %name, pod = %self.pod_name, %port, "callbacks Service routed to this replica");
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn route(ip: &str) -> LeaderRoute {
        LeaderRoute {
            service: "mo-callbacks".into(),
            namespace: "ops".into(),
            pod_name: "mo-7d9f-abcde".into(),
            pod_ip: ip.parse().expect("an address"),
        }
    }

    #[test]
    fn the_slice_belongs_to_the_service_and_points_at_this_pod() {
        let slice = route("10.244.0.7").endpoint_slice(8081, "uid-1");
        assert_eq!(slice.metadata.name.as_deref(), Some("mo-callbacks-leader"));
        let labels = slice.metadata.labels.expect("labels");
        assert_eq!(labels["kubernetes.io/service-name"], "mo-callbacks");
        let owner = &slice.metadata.owner_references.expect("an owner")[0];
        assert_eq!(
            (owner.kind.as_str(), owner.uid.as_str()),
            ("Service", "uid-1")
        );
        assert_eq!(slice.address_type, "IPv4");
        let endpoint = &slice.endpoints.expect("endpoints")[0];
        assert_eq!(endpoint.addresses, ["10.244.0.7"]);
        let target = endpoint.target_ref.clone().expect("a target");
        assert_eq!(target.name.as_deref(), Some("mo-7d9f-abcde"));
        let port = &slice.ports.expect("ports")[0];
        assert_eq!(
            (port.name.as_deref(), port.port),
            (Some(PORT_NAME), Some(8081))
        );
    }

    #[test]
    fn an_ipv6_pod_gets_an_ipv6_slice() {
        assert_eq!(
            route("fd00::7").endpoint_slice(8081, "u").address_type,
            "IPv6"
        );
    }
}
