//! The real binary as a child process on its own port, for tests that kill it with -9
//! and start it again: each start logs to its own file in the bot's directory.

use std::process::{Child, Command, Stdio};
use std::time::Duration;

const BIN: &str = env!("CARGO_BIN_EXE_sevbot");

pub struct Bot {
    child: Option<Child>,
    pub dir: tempfile::TempDir,
    pub db: String,
    pub port: u16,
    starts: usize,
    env: Vec<(String, String)>,
}

impl Bot {
    /// A bot with `config` as its sevbot.toml, on database `db` (empty: a SQLite file in
    /// its directory), with `env` on top of the database and HTTP address; no platform
    /// credentials are inherited from the test's environment.
    pub fn new(config: &str, db: &str, env: &[(&str, String)]) -> Bot {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("sevbot.toml"), config).unwrap();
        let port = super::free_port();
        let db = if db.is_empty() {
            format!("sqlite://{}", dir.path().join("sevbot.db").display())
        } else {
            db.to_string()
        };
        Bot {
            child: None,
            dir,
            db,
            port,
            starts: 0,
            env: env
                .iter()
                .map(|(k, v)| (k.to_string(), v.clone()))
                .collect(),
        }
    }

    pub fn start(&mut self) {
        self.starts += 1;
        let log = std::fs::File::create(self.dir.path().join(format!("run-{}.log", self.starts)))
            .unwrap();
        let mut cmd = Command::new(BIN);
        cmd.current_dir(self.dir.path())
            .args(["--config", "sevbot.toml", "run", "--console", "off"])
            .env("DATABASE_URL", &self.db)
            .env("SEVBOT_HTTP_ADDR", format!("127.0.0.1:{}", self.port))
            .env("RUST_LOG", "sevbot=info,warn");
        for k in [
            "SLACK_BOT_TOKEN",
            "SLACK_SIGNING_SECRET",
            "SLACK_APP_TOKEN",
            "DISCORD_BOT_TOKEN",
            "DISCORD_PUBLIC_KEY",
            "DISCORD_APPLICATION_ID",
            "PROMETHEUS_URL",
            "SEVBOT_WEB_TOKEN",
        ] {
            cmd.env_remove(k);
        }
        cmd.envs(self.env.iter().map(|(k, v)| (k, v)));
        let child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("start sevbot");
        self.child = Some(child);
    }

    pub fn running(&self) -> bool {
        self.child.is_some()
    }

    /// kill -9: no shutdown, no cleanup.
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            c.kill().unwrap();
            c.wait().unwrap();
        }
    }

    /// SIGTERM, and waits for the process to end; whether it exited cleanly.
    pub fn terminate(&mut self) -> bool {
        let Some(mut c) = self.child.take() else {
            return false;
        };
        Command::new("kill")
            .args(["-TERM", &c.id().to_string()])
            .status()
            .unwrap();
        c.wait().unwrap().success()
    }

    pub fn logs(&self) -> String {
        (1..=self.starts)
            .map(|n| {
                std::fs::read_to_string(self.dir.path().join(format!("run-{n}.log")))
                    .unwrap_or_default()
            })
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// Waits until `/healthz` answers.
    pub async fn ready(&self) {
        let url = format!("http://127.0.0.1:{}/healthz", self.port);
        for _ in 0..500 {
            if reqwest::get(&url).await.is_ok_and(|r| r.status() == 200) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!("sevbot did not come up:\n{}", self.logs());
    }

    /// `/readyz`'s body, if the process answers.
    pub async fn readyz(&self) -> Option<String> {
        let url = format!("http://127.0.0.1:{}/readyz", self.port);
        let r = reqwest::get(&url).await.ok()?;
        r.text().await.ok()
    }
}

impl Drop for Bot {
    fn drop(&mut self) {
        self.kill();
    }
}
