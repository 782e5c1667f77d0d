//! The shipped example configuration, for tests that run the real binary: where it is, a
//! copy of it (with edits) beside the files it refers to, and the binary pointed at it with
//! a database of the test's own and no chat platform.

#![allow(dead_code)] // each test file uses part of it

use std::path::{Path, PathBuf};
use std::process::Command;

pub const BIN: &str = env!("CARGO_BIN_EXE_sevbot");

/// `config/` of the repository.
pub fn config_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("config")
}

/// `config/sevbot.toml`.
pub fn config() -> PathBuf {
    config_dir().join("sevbot.toml")
}

/// The example config with `edits` (old, new; each must be there) written to
/// `dir/sevbot.toml`, with `routes.toml`, `templates/` and `drills/` beside it as it refers
/// to them.
pub fn edited_copy(dir: &Path, edits: &[(&str, &str)]) -> PathBuf {
    let base = config_dir();
    let mut text = std::fs::read_to_string(base.join("sevbot.toml")).unwrap();
    for (old, new) in edits {
        assert!(text.contains(old), "the example no longer has {old:?}");
        text = text.replacen(old, new, 1);
    }
    std::fs::copy(base.join("routes.toml"), dir.join("routes.toml")).unwrap();
    for folder in ["templates", "drills"] {
        let to = dir.join(folder);
        std::fs::create_dir_all(&to).unwrap();
        for f in std::fs::read_dir(base.join(folder)).unwrap() {
            let f = f.unwrap();
            std::fs::copy(f.path(), to.join(f.file_name())).unwrap();
        }
    }
    let path = dir.join("sevbot.toml");
    std::fs::write(&path, text).unwrap();
    path
}

/// The binary on the example config, in `dir` with its SQLite file there, any free HTTP
/// port, and no chat platform or log filter from the environment.
pub fn sevbot(dir: &Path) -> Command {
    let mut c = Command::new(BIN);
    c.current_dir(dir)
        .env(
            "DATABASE_URL",
            format!("sqlite://{}", dir.join("sevbot.db").display()),
        )
        .env("SEVBOT_HTTP_ADDR", "127.0.0.1:0")
        .env_remove("RUST_LOG")
        .env_remove("SLACK_BOT_TOKEN")
        .env_remove("DISCORD_BOT_TOKEN")
        .arg("--config")
        .arg(config());
    c
}
