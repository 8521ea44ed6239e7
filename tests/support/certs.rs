//! Key material for a throw-away control plane: a CA, the API server's
//! serving certificate, an admin client certificate (group `system:masters`)
//! and the service-account token signing key.

use std::net::{IpAddr, Ipv4Addr};
use std::path::{Path, PathBuf};

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose, SanType,
};

/// Paths of the PEM files written by [`generate`].
#[derive(Debug, Clone)]
pub struct CertFiles {
    pub ca_cert: PathBuf,
    pub ca_key: PathBuf,
    pub serving_cert: PathBuf,
    pub serving_key: PathBuf,
    pub admin_cert: PathBuf,
    pub admin_key: PathBuf,
    /// Private key that signs service-account tokens.
    pub service_account_key: PathBuf,
    /// Its public key, which verifies them.
    pub service_account_public_key: PathBuf,
}

fn err(what: &str) -> impl FnOnce(rcgen::Error) -> String + '_ {
    move |e| format!("generating {what}: {e}")
}

fn write(dir: &Path, name: &str, pem: &str) -> Result<PathBuf, String> {
    let path = dir.join(name);
    std::fs::write(&path, pem).map_err(|e| format!("writing {}: {e}", path.display()))?;
    Ok(path)
}

/// Generates the certificates and keys into `dir`.
pub fn generate(dir: &Path, node_address: Option<Ipv4Addr>) -> Result<CertFiles, String> {
    let ca_key = KeyPair::generate().map_err(err("CA key"))?;
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).map_err(err("CA"))?;
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "meetings-operator test CA");
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    let ca_cert = ca_params.self_signed(&ca_key).map_err(err("CA"))?;
    let ca = Issuer::from_params(&ca_params, &ca_key);

    let serving_key = KeyPair::generate().map_err(err("serving key"))?;
    let mut serving = CertificateParams::new(Vec::<String>::new()).map_err(err("serving"))?;
    serving
        .distinguished_name
        .push(DnType::CommonName, "kube-apiserver");
    serving.subject_alt_names = vec![
        SanType::IpAddress(IpAddr::V4(Ipv4Addr::LOCALHOST)),
        // First address of --service-cluster-ip-range: the `kubernetes` Service.
        SanType::IpAddress(IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1))),
    ];
    // The address the API server advertises beside a node.
    if let Some(address) = node_address {
        serving
            .subject_alt_names
            .push(SanType::IpAddress(IpAddr::V4(address)));
    }
    for dns in [
        "localhost",
        "kubernetes",
        "kubernetes.default",
        "kubernetes.default.svc",
        "kubernetes.default.svc.cluster.local",
    ] {
        serving.subject_alt_names.push(SanType::DnsName(
            dns.try_into().map_err(err("serving SAN"))?,
        ));
    }
    serving.key_usages = vec![
        KeyUsagePurpose::DigitalSignature,
        KeyUsagePurpose::KeyEncipherment,
    ];
    serving.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    let serving_cert = serving
        .signed_by(&serving_key, &ca)
        .map_err(err("serving certificate"))?;

    let admin_key = KeyPair::generate().map_err(err("admin key"))?;
    let mut admin = CertificateParams::new(Vec::<String>::new()).map_err(err("admin"))?;
    admin
        .distinguished_name
        .push(DnType::CommonName, "meetings-admin");
    admin
        .distinguished_name
        .push(DnType::OrganizationName, "system:masters");
    admin.key_usages = vec![
        KeyUsagePurpose::DigitalSignature,
        KeyUsagePurpose::KeyEncipherment,
    ];
    admin.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
    let admin_cert = admin
        .signed_by(&admin_key, &ca)
        .map_err(err("admin certificate"))?;

    let sa_key = KeyPair::generate().map_err(err("service-account key"))?;

    Ok(CertFiles {
        ca_cert: write(dir, "ca.crt", &ca_cert.pem())?,
        ca_key: write(dir, "ca.key", &ca_key.serialize_pem())?,
        serving_cert: write(dir, "apiserver.crt", &serving_cert.pem())?,
        serving_key: write(dir, "apiserver.key", &serving_key.serialize_pem())?,
        admin_cert: write(dir, "admin.crt", &admin_cert.pem())?,
        admin_key: write(dir, "admin.key", &admin_key.serialize_pem())?,
        service_account_key: write(dir, "service-account.key", &sa_key.serialize_pem())?,
        service_account_public_key: write(dir, "service-account.pub", &sa_key.public_key_pem())?,
    })
}
