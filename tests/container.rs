//! The container image, checked without a Docker engine: the build stage's context is
//! assembled from the Dockerfile's own COPY lines, cargo must read the manifest from it
//! as a build does (`cargo check --locked --offline`, stopped before compiling), and the
//! config folder the image ships must pass `check-config` from where the image puts it.

use std::path::{Path, PathBuf};
use std::process::Command;

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

fn copy_tree(from: &Path, to: &Path) {
    if from.is_dir() {
        std::fs::create_dir_all(to).unwrap();
        for e in std::fs::read_dir(from).unwrap() {
            let e = e.unwrap();
            copy_tree(&e.path(), &to.join(e.file_name()));
        }
    } else {
        std::fs::create_dir_all(to.parent().unwrap()).unwrap();
        std::fs::copy(from, to).unwrap();
    }
}

/// (sources, destination) of each `COPY` in the stage named `stage` (without `--from`).
fn copies(dockerfile: &str, stage: &str) -> Vec<(Vec<String>, String)> {
    let mut in_stage = false;
    let mut out = vec![];
    for line in dockerfile.lines().map(str::trim) {
        if let Some(from) = line.strip_prefix("FROM ") {
            in_stage = from.ends_with(&format!(" AS {stage}"));
            continue;
        }
        if in_stage
            && let Some(args) = line.strip_prefix("COPY ")
            && !args.starts_with("--from")
        {
            let mut words: Vec<String> = args.split_whitespace().map(String::from).collect();
            let dest = words.pop().unwrap();
            out.push((words, dest));
        }
    }
    out
}

#[test]
fn the_build_stage_has_what_cargo_needs() {
    let dockerfile = std::fs::read_to_string(Path::new(ROOT).join("Dockerfile")).unwrap();
    let ctx = tempfile::tempdir().unwrap();
    for (sources, dest) in copies(&dockerfile, "build") {
        for src in sources {
            let to: PathBuf = if dest.ends_with('/') && dest != "./" {
                ctx.path().join(dest.trim_start_matches("./")).join(&src)
            } else if dest == "./" {
                ctx.path().join(&src)
            } else {
                ctx.path().join(dest.trim_start_matches("./"))
            };
            copy_tree(&Path::new(ROOT).join(&src), &to);
        }
    }
    // Cargo parses the manifest as a build does (every declared target must be there) and
    // checks the lock; asking for a binary that does not exist stops it right after,
    // before anything is compiled, with the list of the binaries it found.
    let out = Command::new(env!("CARGO"))
        .args(["check", "--locked", "--offline", "--bin", "container-probe"])
        .arg("--target-dir")
        .arg(ctx.path().join("target"))
        .current_dir(ctx.path())
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("no bin target named `container-probe`") && err.contains("sevbot"),
        "cargo cannot read the image's build context: {err}"
    );
    // The binary's source and its migrations are there to build from.
    assert!(ctx.path().join("src/main.rs").exists());
    assert!(ctx.path().join("migrations").is_dir());
}

#[test]
fn the_shipped_config_checks_where_the_image_puts_it() {
    let dockerfile = std::fs::read_to_string(Path::new(ROOT).join("Dockerfile")).unwrap();
    assert!(
        dockerfile.contains("COPY --from=build /src/config /etc/sevbot"),
        "the image ships the whole config folder"
    );
    assert!(dockerfile.contains("USER sevbot") && dockerfile.contains("HEALTHCHECK"));
    assert!(dockerfile.contains("check-config"), "checked at build time");
    let etc = tempfile::tempdir().unwrap();
    copy_tree(&Path::new(ROOT).join("config"), etc.path());
    let db = tempfile::tempdir().unwrap();
    // The default, and the Slack and Discord deployment examples beside it.
    assert!(
        dockerfile.contains("for c in sevbot slack discord"),
        "each shipped config is checked at build time"
    );
    for name in ["sevbot", "slack", "discord"] {
        let out = Command::new(env!("CARGO_BIN_EXE_sevbot"))
            .env("SEVBOT_CONFIG", etc.path().join(format!("{name}.toml")))
            .env(
                "DATABASE_URL",
                format!("sqlite://{}", db.path().join("s.db").display()),
            )
            .env_remove("RUST_LOG")
            .arg("check-config")
            .current_dir(db.path())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{name}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}
