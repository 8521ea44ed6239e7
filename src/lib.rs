//! meetings-operator: manage Vonage Meetings rooms and themes declaratively from Kubernetes.

pub mod crd;
pub mod meetings;
pub mod simulator;
