//! Starts the same control plane the integration tests use (etcd,
//! kube-apiserver, kube-controller-manager on loopback, with the CRDs of
//! `crds/` installed), prints how to reach it and runs until Ctrl-C or
//! SIGTERM, then stops it and removes its files.
//!
//! Run it through `scripts/control-plane.sh`, which builds the tools first.
//!
//! Options:
//!   --kubeconfig PATH   also copy the admin kubeconfig to PATH (removed again
//!                       on exit)

#[path = "../tests/support/mod.rs"]
mod support;

use std::path::PathBuf;

fn main() {
    let mut copy_to: Option<PathBuf> = None;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--kubeconfig" => match args.next() {
                Some(p) => copy_to = Some(PathBuf::from(p)),
                None => fail("--kubeconfig needs a path"),
            },
            "-h" | "--help" => {
                println!("usage: control_plane [--kubeconfig PATH]");
                return;
            }
            other => fail(&format!("unknown argument: {other} (try --help)")),
        }
    }

    let cp = support::ControlPlane::start_with_crds(&["crds"]).unwrap_or_else(|e| fail(&e));
    let kubeconfig = match &copy_to {
        Some(path) => {
            if let Err(e) = std::fs::copy(cp.kubeconfig_path(), path) {
                cp.shutdown();
                fail(&format!(
                    "copying the kubeconfig to {}: {e}",
                    path.display()
                ));
            }
            std::path::absolute(path).unwrap_or_else(|_| path.clone())
        }
        None => cp.kubeconfig_path().to_path_buf(),
    };

    eprintln!("API server:  {}", cp.server_url());
    eprintln!("tools:       {}", cp.bin_dir().display());
    eprintln!("logs:        {}", cp.logs_dir().display());
    let crds = cp.project_crds();
    if !crds.is_empty() {
        eprintln!("CRDs:        {}", crds.join(", "));
    }
    eprintln!("Stop with Ctrl-C. In another shell:");
    println!("export KUBECONFIG={}", kubeconfig.display());
    println!("export PATH={}:\"$PATH\"", cp.bin_dir().display());

    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");
    rt.block_on(async {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .expect("a SIGTERM handler");
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
    });
    eprintln!("stopping the control plane");
    cp.shutdown();
    if let Some(path) = copy_to {
        let _ = std::fs::remove_file(path);
    }
}

fn fail(msg: &str) -> ! {
    eprintln!("control_plane: {msg}");
    std::process::exit(1)
}
