//! Reloading the configuration of a running sevbot (the real binary, a console session
//! kept open): `sevbot reload` checks the file and signals the process; a good config is
//! put in force for what comes next while open SEVs keep their frozen ladders; a bad one
//! (even sent straight as SIGHUP) is refused and the one in force kept.

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{Receiver, channel};
use std::time::Duration;

mod example;

use example::BIN;

struct Running {
    child: Child,
    stdin: ChildStdin,
    /// stdout and stderr lines, as they come.
    lines: Receiver<String>,
    config: std::path::PathBuf,
    db: String,
}

impl Running {
    fn start(dir: &tempfile::TempDir) -> Running {
        let config = example::edited_copy(dir.path(), &[]);
        let db = format!("sqlite://{}", dir.path().join("sevbot.db").display());
        let mut child = Command::new(BIN)
            .current_dir(dir.path())
            .env("DATABASE_URL", &db)
            .env("SEVBOT_HTTP_ADDR", "127.0.0.1:0")
            .env("RUST_LOG", "sevbot=info")
            .env_remove("SLACK_BOT_TOKEN")
            .env_remove("DISCORD_BOT_TOKEN")
            .args(["--config", "sevbot.toml", "run", "--console", "on"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let (tx, lines) = channel();
        let out = child.stdout.take().unwrap();
        let err = child.stderr.take().unwrap();
        let tx2 = tx.clone();
        std::thread::spawn(move || {
            for l in BufReader::new(out).lines().map_while(Result::ok) {
                let _ = tx.send(l);
            }
        });
        std::thread::spawn(move || {
            for l in BufReader::new(err).lines().map_while(Result::ok) {
                let _ = tx2.send(l);
            }
        });
        let stdin = child.stdin.take().unwrap();
        let mut r = Running {
            child,
            stdin,
            lines,
            config,
            db,
        };
        r.wait_for("sevbot started");
        r
    }

    /// Waits for a line containing `what`; returns it.
    fn wait_for(&mut self, what: &str) -> String {
        let mut seen = vec![];
        loop {
            match self.lines.recv_timeout(Duration::from_secs(20)) {
                Ok(l) if l.contains(what) => return l,
                Ok(l) => seen.push(l),
                Err(_) => panic!("no line with {what:?}; saw:\n{}", seen.join("\n")),
            }
        }
    }

    fn type_line(&mut self, line: &str) {
        writeln!(self.stdin, "{line}").unwrap();
        self.stdin.flush().unwrap();
    }

    fn edit_config(&self, old: &str, new: &str) {
        let text = std::fs::read_to_string(&self.config).unwrap();
        assert!(text.contains(old), "{old:?}");
        std::fs::write(&self.config, text.replacen(old, new, 1)).unwrap();
    }

    /// `sevbot reload --pid <this one>`, from the config's directory.
    fn reload(&self) -> std::process::Output {
        Command::new(BIN)
            .current_dir(self.config.parent().unwrap())
            .env("DATABASE_URL", &self.db)
            .args(["--config", "sevbot.toml", "reload", "--pid"])
            .arg(self.child.id().to_string())
            .output()
            .unwrap()
    }

    fn query(&self, sql: &str) -> Vec<String> {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            let store = sevbot::store::Store::connect(&self.db).await.unwrap();
            sqlx::query_scalar::<_, String>(sqlx::AssertSqlSafe(sql.to_string()))
                .fetch_all(&store.pool)
                .await
                .unwrap()
        })
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn a_reload_puts_a_good_config_in_force_for_what_comes_next() {
    let dir = tempfile::tempdir().unwrap();
    let mut bot = Running::start(&dir);
    bot.type_line("/sev declare availability 1 Checkout failing");
    bot.wait_for("SEV-1 declared");

    // A policy for SEV1 and a second scheduled post, in force after the reload.
    bot.edit_config(
        "# The SEV definitions table",
        "[[escalation_policies]]\nname = \"fast-sev1\"\nlevels = [1]\nsteps = [\n  { after_minutes = 2, target = \"secondary\" },\n  { after_minutes = 4, target = \"manager\" },\n  { after_minutes = 6, target = \"exec\" },\n]\n\n# The SEV definitions table",
    );
    bot.edit_config(
        "# PagerDuty Events API v2",
        "[[schedules]]\nname = \"friday review\"\ncron = \"0 15 * * fri\"\ntimezone = \"Europe/Berlin\"\npost = \"digest\"\nplatform = \"console\"\nchannel = \"sev-review\"\n\n# PagerDuty Events API v2",
    );
    // A section read only at start-up changes too: the reload says it waits for a restart.
    bot.edit_config("poll_interval_ms = 1000", "poll_interval_ms = 500");
    let out = bot.reload();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("asked sevbot (pid"));
    let reloaded = bot.wait_for("configuration reloaded");
    assert!(
        reloaded.contains("take effect only at restart") && reloaded.contains("server"),
        "{reloaded}"
    );
    bot.type_line("/sev declare availability 1 Search slow --new");
    bot.wait_for("SEV-2 declared");
    bot.type_line(":quit");
    // Give the declare its commit; the ladder is frozen in the same transaction.
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(
        bot.query("SELECT policy FROM ladders ORDER BY sev_id"),
        ["default", "fast-sev1"],
        "SEV-1 keeps the ladder frozen at its declare; SEV-2 gets the new policy"
    );
    let schedules = bot.query(
        "SELECT payload FROM jobs WHERE kind = 'scheduled_post' AND done_at IS NULL AND cancelled = 0",
    );
    assert_eq!(schedules.len(), 2, "{schedules:?}");
    assert!(schedules.iter().any(|p| p.contains("friday review")));
}

#[test]
fn a_bad_config_is_refused_and_the_one_in_force_kept() {
    let dir = tempfile::tempdir().unwrap();
    let mut bot = Running::start(&dir);
    bot.edit_config(
        "members = [\"alice\", \"dave\", \"erin\"]",
        "members = [\"alice\", \"dav\", \"erin\"]",
    );
    // `sevbot reload` checks first and does not signal.
    let out = bot.reload();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("unknown person \"dav\"; did you mean \"dave\"?")
            && err.contains("not reloaded: fix the errors above"),
        "{err}"
    );
    // SIGHUP sent straight to the process: it refuses and keeps going on the old config.
    // SAFETY: kill(2) on our own child.
    assert_eq!(
        unsafe { libc::kill(bot.child.id() as i32, libc::SIGHUP) },
        0
    );
    let refused = bot.wait_for("configuration reload refused");
    assert!(
        refused.contains("errors=1") || refused.contains("errors: 1"),
        "{refused}"
    );
    bot.type_line("/sev declare durability 2 Backups lagging");
    let declared = bot.wait_for("SEV-1 declared");
    assert!(
        declared.contains("IMOC @"),
        "still runs with rotations intact: {declared}"
    );
    assert!(bot.child.try_wait().unwrap().is_none(), "still running");
}
