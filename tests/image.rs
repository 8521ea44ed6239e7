//! The image that `scripts/image.sh` assembles without a container engine
//! agrees with the Dockerfile's runtime stage: the binary's path, the user,
//! the exposed port, the entrypoint and command, and the labels; the binary
//! in the image is the static musl build; the image's passwd names the user.
//!
//! Needs `target/images/meetings-operator.tar` (run `scripts/image.sh`;
//! `scripts/test.sh` does).

#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test

use std::collections::BTreeMap;
use std::io::Read;
use std::path::PathBuf;

use serde_json::Value;
use support::{images_dir, repo_root};

mod support;

/// What a Dockerfile's final stage says the image is.
#[derive(Debug, Default, PartialEq)]
struct RuntimeStage {
    /// Destinations of `COPY --from=builder`.
    copied: Vec<String>,
    user: String,
    exposed: Vec<String>,
    entrypoint: Vec<String>,
    cmd: Vec<String>,
    labels: BTreeMap<String, String>,
}

/// Reads the last stage of a Dockerfile: `ARG` defaults (overridden by
/// `args`), `LABEL`, `COPY --from=builder`, `USER`, `EXPOSE`, `ENTRYPOINT`
/// and `CMD` (exec form). Continuation lines are joined first.
fn runtime_stage(dockerfile: &str, args: &BTreeMap<&str, String>) -> RuntimeStage {
    let joined = dockerfile.replace("\\\n", " ");
    let lines: Vec<&str> = joined
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .collect();
    let last_from = lines
        .iter()
        .rposition(|l| l.starts_with("FROM "))
        .expect("the Dockerfile has a FROM");
    let mut stage = RuntimeStage::default();
    let mut vars: BTreeMap<String, String> = BTreeMap::new();
    for line in &lines[last_from + 1..] {
        let (instruction, rest) = line.split_once(' ').unwrap_or((line, ""));
        let rest = rest.trim();
        match instruction {
            "ARG" => {
                let (name, default) = rest.split_once('=').unwrap_or((rest, ""));
                let value = args
                    .get(name)
                    .cloned()
                    .unwrap_or_else(|| default.to_owned());
                vars.insert(name.to_owned(), value);
            }
            "LABEL" => {
                for (key, value) in label_pairs(rest) {
                    let mut value = value;
                    for (name, v) in &vars {
                        value = value.replace(&format!("${{{name}}}"), v);
                    }
                    stage.labels.insert(key, value);
                }
            }
            "COPY" => {
                let words: Vec<&str> = rest.split_whitespace().collect();
                if words.first() == Some(&"--from=builder") {
                    stage
                        .copied
                        .push(words.last().expect("a destination").to_string());
                }
            }
            "USER" => stage.user = rest.to_owned(),
            "EXPOSE" => stage.exposed.extend(rest.split_whitespace().map(|p| {
                if p.contains('/') {
                    p.to_owned()
                } else {
                    format!("{p}/tcp")
                }
            })),
            "ENTRYPOINT" => stage.entrypoint = serde_json::from_str(rest).expect("exec form"),
            "CMD" => stage.cmd = serde_json::from_str(rest).expect("exec form"),
            _ => {}
        }
    }
    stage
}

/// `key="value" key2="value 2"` pairs of a LABEL instruction.
fn label_pairs(text: &str) -> Vec<(String, String)> {
    let mut pairs = Vec::new();
    let mut rest = text.trim();
    while let Some((key, after)) = rest.split_once('=') {
        let after = after.trim_start();
        let (value, tail) = match after.strip_prefix('"') {
            Some(quoted) => {
                let end = quoted.find('"').expect("a closing quote");
                (&quoted[..end], &quoted[end + 1..])
            }
            None => after.split_once(' ').unwrap_or((after, "")),
        };
        pairs.push((key.trim().to_owned(), value.to_owned()));
        rest = tail.trim();
    }
    pairs
}

/// The config and the files (path → (mode, content)) of a single-layer image
/// archive as `scripts/image.sh` writes it.
struct ImageArchive {
    config: Value,
    files: BTreeMap<String, (u32, Vec<u8>)>,
}

fn read_archive(path: &PathBuf) -> ImageArchive {
    let bytes = std::fs::read(path).unwrap_or_else(|e| {
        panic!(
            "reading {}: {e}. Build the images with `bash scripts/image.sh` \
             (scripts/test.sh does).",
            path.display()
        )
    });
    let mut entries: BTreeMap<String, Vec<u8>> = BTreeMap::new();
    let mut archive = tar::Archive::new(bytes.as_slice());
    for entry in archive.entries().expect("a tar archive") {
        let mut entry = entry.expect("a tar entry");
        let name = entry.path().expect("a path").to_string_lossy().into_owned();
        let mut content = Vec::new();
        entry.read_to_end(&mut content).expect("entry content");
        entries.insert(name, content);
    }
    let manifest: Value =
        serde_json::from_slice(&entries["manifest.json"]).expect("manifest.json is JSON");
    let config_name = manifest[0]["Config"].as_str().expect("a config");
    let config: Value = serde_json::from_slice(&entries[config_name]).expect("config JSON");
    let layers = manifest[0]["Layers"].as_array().expect("layers");
    assert_eq!(layers.len(), 1, "one layer");
    let layer = &entries[layers[0].as_str().expect("a layer name")];
    let mut files = BTreeMap::new();
    let mut tar = tar::Archive::new(flate2::read::GzDecoder::new(layer.as_slice()));
    for entry in tar.entries().expect("the layer is a tar.gz") {
        let mut entry = entry.expect("a layer entry");
        let name = format!("/{}", entry.path().expect("a path").display());
        let mode = entry.header().mode().expect("a mode");
        let mut content = Vec::new();
        entry
            .read_to_end(&mut content)
            .expect("layer entry content");
        files.insert(name.trim_end_matches('/').to_owned(), (mode, content));
    }
    ImageArchive { config, files }
}

fn strings(value: &Value) -> Vec<String> {
    value
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

/// Every difference between the Dockerfile's runtime stage and the image.
fn disagreements(stage: &RuntimeStage, image: &ImageArchive) -> Vec<String> {
    let config = &image.config["config"];
    let mut found = Vec::new();
    let mut check = |what: &str, dockerfile: String, image: String| {
        if dockerfile != image {
            found.push(format!("{what}: Dockerfile {dockerfile}, image {image}"));
        }
    };
    check(
        "user",
        stage.user.clone(),
        config["User"].as_str().unwrap_or("").to_owned(),
    );
    check(
        "entrypoint",
        format!("{:?}", stage.entrypoint),
        format!("{:?}", strings(&config["Entrypoint"])),
    );
    check(
        "cmd",
        format!("{:?}", stage.cmd),
        format!("{:?}", strings(&config["Cmd"])),
    );
    let exposed: Vec<String> = config["ExposedPorts"]
        .as_object()
        .map(|o| o.keys().cloned().collect())
        .unwrap_or_default();
    check(
        "exposed ports",
        format!("{:?}", stage.exposed),
        format!("{exposed:?}"),
    );
    for (key, value) in &stage.labels {
        check(
            &format!("label {key}"),
            value.clone(),
            config["Labels"][key]
                .as_str()
                .unwrap_or("<missing>")
                .to_owned(),
        );
    }
    for path in &stage.copied {
        match image.files.get(path) {
            Some((mode, _)) if mode & 0o111 != 0 => {}
            Some((mode, _)) => found.push(format!("{path} is not executable ({mode:o})")),
            None => found.push(format!(
                "{path} (copied by the Dockerfile) is not in the image"
            )),
        }
    }
    found
}

/// The build arguments `scripts/image.sh` gives the labels: the crate's
/// version and the revision recorded in the image.
fn build_args(image: &ImageArchive) -> BTreeMap<&'static str, String> {
    BTreeMap::from([
        ("VERSION", env!("CARGO_PKG_VERSION").to_owned()),
        (
            "REVISION",
            image.config["config"]["Labels"]["org.opencontainers.image.revision"]
                .as_str()
                .unwrap_or("<missing>")
                .to_owned(),
        ),
    ])
}

#[test]
fn the_built_image_agrees_with_the_dockerfile() {
    let image = read_archive(&images_dir().join("meetings-operator.tar"));
    let dockerfile = std::fs::read_to_string(repo_root().join("Dockerfile")).expect("Dockerfile");
    let stage = runtime_stage(&dockerfile, &build_args(&image));
    assert_eq!(stage.copied, ["/meetings-operator"], "{stage:?}");
    assert!(
        stage
            .labels
            .contains_key("org.opencontainers.image.version"),
        "{stage:?}"
    );
    let found = disagreements(&stage, &image);
    assert!(
        found.is_empty(),
        "the Dockerfile and scripts/image.sh disagree:\n{}",
        found.join("\n")
    );
    assert_eq!(image.config["os"], "linux");
    assert_eq!(image.config["architecture"], "amd64");
}

#[test]
fn a_changed_dockerfile_is_reported() {
    let image = read_archive(&images_dir().join("meetings-operator.tar"));
    let dockerfile = std::fs::read_to_string(repo_root().join("Dockerfile")).expect("Dockerfile");
    for (from, to, what) in [
        ("USER 65532:65532", "USER 1000:1000", "user"),
        ("EXPOSE 8080", "EXPOSE 9090", "exposed ports"),
        (
            r#"ENTRYPOINT ["/meetings-operator"]"#,
            r#"ENTRYPOINT ["/bin/operator"]"#,
            "entrypoint",
        ),
        (r#"CMD ["run"]"#, r#"CMD ["serve"]"#, "cmd"),
        (
            "/meetings-operator /meetings-operator",
            "/meetings-operator /usr/bin/op",
            "/usr/bin/op",
        ),
        (
            r#"image.title="meetings-operator""#,
            r#"image.title="other""#,
            "label",
        ),
    ] {
        assert!(dockerfile.contains(from), "the Dockerfile has {from}");
        let changed = dockerfile.replace(from, to);
        let found = disagreements(&runtime_stage(&changed, &build_args(&image)), &image);
        assert!(
            found.iter().any(|d| d.contains(what)),
            "changing {from} to {to} was not reported: {found:?}"
        );
    }
}

#[test]
fn the_image_holds_the_static_musl_build_and_a_passwd_with_the_user() {
    let image = read_archive(&images_dir().join("meetings-operator.tar"));
    let (_, binary) = &image.files["/meetings-operator"];
    let built = std::fs::read(
        images_dir()
            .parent()
            .expect("target dir")
            .join("x86_64-unknown-linux-musl/release/meetings-operator"),
    )
    .expect("the musl build scripts/image.sh made");
    assert!(
        binary == &built,
        "the image's binary is the musl release build"
    );
    assert_eq!(&binary[..4], b"\x7fELF");
    assert!(
        !binary.windows(b"ld-linux".len()).any(|w| w == b"ld-linux"),
        "the binary names no dynamic loader: it is static"
    );
    let (_, passwd) = &image.files["/etc/passwd"];
    let passwd = String::from_utf8_lossy(passwd);
    assert!(
        passwd
            .lines()
            .any(|l| l.starts_with("nonroot:x:65532:65532:")),
        "{passwd}"
    );
    assert!(
        image
            .files
            .contains_key("/etc/ssl/certs/ca-certificates.crt")
    );
    let (tmp_mode, _) = image.files["/tmp"];
    assert_eq!(
        tmp_mode & 0o7777,
        0o1777,
        "/tmp is world-writable and sticky"
    );
}
