//! The Meetings API client trusts a CA bundle named by `SSL_CERT_FILE` (how
//! the chart's `caBundle` reaches it, for corporate TLS proxies) besides its
//! built-in roots: a server whose certificate only that bundle's CA signed
//! (the test control plane's kube-apiserver) is refused without it and
//! reached with it. Its own binary, since it sets a process-wide variable.
#![allow(unsafe_code)] // setting SSL_CERT_FILE for the one test of this binary
#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test

mod support;

use meetings_operator::meetings::ClientConfig;
use meetings_operator::meetings::client::http_client;

async fn get(url: &str) -> Result<u16, reqwest::Error> {
    let client = http_client(&ClientConfig::default()).expect("HTTP client");
    Ok(client.get(url).send().await?.status().as_u16())
}

#[tokio::test]
async fn a_ca_bundle_in_ssl_cert_file_is_trusted() {
    let cp = support::control_plane().await;
    let url = format!("{}/readyz", cp.server_url());
    let refused = get(&url).await;
    assert!(
        refused.is_err(),
        "a server signed by an unknown CA was trusted: {refused:?}"
    );
    // SAFETY: the only test in this binary; no other thread reads the environment now.
    unsafe { std::env::set_var("SSL_CERT_FILE", cp.ca_cert_path()) };
    let status = get(&url)
        .await
        .unwrap_or_else(|e| panic!("with SSL_CERT_FILE set: {e:?}"));
    assert!(status < 500, "status {status}");
}
