//! meetings-operator: manage Vonage Meetings rooms and themes declaratively from Kubernetes.

pub mod allocator;
pub mod app;
pub mod callbacks;
pub mod controller;
pub mod crd;
pub mod interned;
pub mod leader;
pub mod meetings;
pub mod run_args;
pub mod services;
pub mod telemetry;
pub mod utc_text;
